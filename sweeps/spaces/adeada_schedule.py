"""ADeADA supplement Table 5: budget scheduling between density and uncertainty: pure
uncertainty, pure density, even (0.5 each round), linear decay (1.0, 0.8, ..., 0.2 density),
half decay (ADeADA: 1, 1/2, 1/4, ...); mIoU at 1%, 3% and 5%."""
from sweeps.space import Space, Variant

SPACE = Space(
    name='adeada_schedule',
    description=__doc__,
    variants={
        'pure_uncertainty': Variant('adeada', dict(alpha=0.0)),
        'pure_density': Variant('adeada', dict(alpha=1.0, beta=0.0)),
        'even': Variant('adeada', dict(alpha=0.5, beta=0.0)),
        'linear_decay': Variant('adeada', dict(alpha=1.0, beta=0.2, decay='linear')),
        'half_decay': Variant('adeada', dict(alpha=1.0, beta=1.0)),
    },
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo',
    configs='adeada', table='rounds', table_rounds=(1, 3, 5))
