"""RIPU Table 3: RAND, (a) impurity, (b) uncertainty, (c) both, (d) + LCR, (e) + NL, (f) RIPU,
fully supervised (all target labels), 2.2% RA budget."""
from sweeps.space import Space, Variant
from sweeps.spaces.rows import RIPU_ROWS

SPACE = Space(
    name='ripu_ablation',
    description=__doc__,
    variants={
        'rand': RIPU_ROWS['rand_region'],
        'a_impurity': RIPU_ROWS['impurity'],
        'b_uncertainty': RIPU_ROWS['uncertainty'],
        'c_impurity_uncertainty': Variant('ripu', dict(alpha1=0.0, alpha2=0.0)),
        'd_plus_lcr': Variant('ripu', dict(alpha2=0.0)),
        'e_plus_nl': Variant('ripu', dict(alpha1=0.0)),
        'f_ripu': RIPU_ROWS['ripu_ra'],
        'fully_supervised': RIPU_ROWS['target_oracle'],
    },
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo')
