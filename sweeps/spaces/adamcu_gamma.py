"""ADA-MCU: the weight gamma of the KL term of the uncertainty (Eq. 1; the paper uses 0.5), from
entropy only (0) to KL-heavy (1.0), full model at 5% (`--table sensitivity --param gamma`)."""
from sweeps.space import Axis, Space, Variant

SPACE = Space(
    name='adamcu_gamma',
    description=__doc__,
    variants={'adamcu': Variant('adamcu')},
    axes={'gamma': Axis(values=(0.0, 0.25, 0.5, 1.0))},
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo', configs='adamcu',
    table='sensitivity', table_param='gamma')
