"""ADA-MCU Tables I-II: the full model at 1.7 / 3.4 / 6.8 / 16.8 % of the target pixels
(`--table sensitivity --param budget_ratio`)."""
from sweeps.space import Axis, Space, Variant

SPACE = Space(
    name='adamcu_budget',
    description=__doc__,
    variants={'adamcu': Variant('adamcu')},
    axes={'budget_ratio': Axis(values=(0.017, 0.034, 0.068, 0.168))},
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo', configs='adamcu',
    table='sensitivity', table_param='budget_ratio')
