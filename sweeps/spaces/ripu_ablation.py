"""RIPU Table 3: RAND, (a) impurity, (b) uncertainty, (c) both, (d) + LCR, (e) + NL, (f) RIPU,
fully supervised (all target labels), 2.2% RA budget."""
from sweeps.space import Space, Variant

SPACE = Space(
    name='ripu_ablation',
    description=__doc__,
    variants={
        'rand': Variant('rand_region'),
        'a_impurity': Variant('impurity'),
        'b_uncertainty': Variant('uncertainty'),
        'c_impurity_uncertainty': Variant('ripu_ra', dict(alpha1=0.0, alpha2=0.0)),
        'd_plus_lcr': Variant('ripu_ra', dict(alpha2=0.0)),
        'e_plus_nl': Variant('ripu_ra', dict(alpha1=0.0)),
        'f_ripu': Variant('ripu_ra'),
        'fully_supervised': Variant('target_oracle'),
    },
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo')
