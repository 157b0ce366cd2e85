"""ADeADA supplement Table 4: the balance coefficient alpha (density share of the first
round) in {0, 0.25, 0.5, 0.75, 1.0}, beta = 1; the paper reports mIoU at 1% (round 1), the
table here shows every round."""
from sweeps.space import Space, Variant

SPACE = Space(
    name='adeada_alpha',
    description=__doc__,
    variants={f'alpha_{a:g}': Variant('adeada', dict(alpha=a, beta=1.0))
              for a in (0.0, 0.25, 0.5, 0.75, 1.0)},
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo',
    configs='adeada', table='rounds')
