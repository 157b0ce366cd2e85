"""POINT-ENT Tables 1-2: G1 alone (MinEnt, AdvEnt), self-training (K = 0: pseudo labels only),
random patches, entropy patches (active, K = 10) and full labelling (every patch's N = 5 points
from the oracle, no pseudo labels). Paper, GTA5 -> Cityscapes mIoU: AdvEnt 43.8, self-training
47.7, random 48.7, active 51.5, full 60.1."""
from sweeps.space import Space
from sweeps.spaces.rows import POINT_ENT_ROWS

SPACE = Space(
    name='point_ent_selection',
    description=__doc__,
    variants={name: POINT_ENT_ROWS[name] for name in
              ('minent', 'advent', 'self_training', 'random', 'active', 'full')},
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo', configs='point_ent')
