"""ADeADA Table 2: (a) uncertainty only, (b) density only, (c) density + category balance,
(d) uncertainty + density + balance, budget split evenly, (e) ADeADA (half decay); mIoU at 1%,
3% and 5% of the target pixels (5 rounds of 1%, fine-tuning in between)."""
from sweeps.space import Space, Variant

SPACE = Space(
    name='adeada_ablation',
    description=__doc__,
    variants={
        'a_uncertainty': Variant('adeada', dict(alpha=0.0)),
        'b_density': Variant('adeada', dict(alpha=1.0, beta=0.0, category_balance=False)),
        'c_density_balance': Variant('adeada', dict(alpha=1.0, beta=0.0)),
        'd_even': Variant('adeada', dict(alpha=0.5, beta=0.0)),
        'e_adeada': Variant('adeada', dict(alpha=1.0, beta=1.0)),
    },
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo',
    configs='adeada', table='rounds', table_rounds=(1, 3, 5))
