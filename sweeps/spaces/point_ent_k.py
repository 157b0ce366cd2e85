"""POINT-ENT Table 3: the number K of entropy-selected patches per image that get oracle points
(N = 5 each; the other patches get G1's pseudo labels), K = 0 (self-training) to all patches
(full labelling: 64 on SynthShift's 8x8 grid, 128 on Cityscapes' 8x16). Paper, GTA5 ->
Cityscapes mIoU, K = 0/1/2/3/5/10/128: 47.7/49.2/49.3/49.5/50.1/51.5/60.1."""
from sweeps.space import Space, Variant
from sweeps.spaces.rows import POINT_ENT_ROWS, on_cityscapes

SPACE = Space(
    name='point_ent_k',
    description=__doc__,
    variants={**{f'k={k}': Variant('point_ent', {'strategy.k': k}) for k in (0, 1, 2, 3, 5, 10)},
              'k=all': POINT_ENT_ROWS['full']},
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo', configs='point_ent')
