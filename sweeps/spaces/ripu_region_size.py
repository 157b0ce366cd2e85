"""RIPU Fig. 6: the region size k for RA (k-square regions, 2.2%) and for PA (purity window and
suppression radius, 40 px). On SynthShift (64x128) k is scaled down 16x from Cityscapes, where the
paper's best values are k=1 (RA) and k=32 (PA)."""
from sweeps.space import Space, Variant
from sweeps.spaces.rows import RIPU_ROWS, with_knobs

SPACE = Space(
    name='ripu_region_size',
    description=__doc__,
    variants={**{f'ra_k{k}': Variant('ripu', dict(k=k)) for k in (1, 2, 3, 4)},
              **{f'pa_k{k}': with_knobs(RIPU_ROWS['ripu_pa'], k=k) for k in (1, 2, 3, 4)}},
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo')
