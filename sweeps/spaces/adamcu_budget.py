"""ADA-MCU Tables I-II: the full model at 1.7 / 3.4 / 6.8 / 16.8 % of the target pixels
(`--table sensitivity --param budget_ratio`), with pi_high decayed at every buying iteration
(`adamcu`, Algorithm 1) and once per pass over the target set (`adamcu_epoch_decay`, the text:
with per-iteration decay a large budget can drive pi_high to pi_low before half of it is bought,
and the medium half is then never bought)."""
from sweeps.space import Axis, Space, Variant

SPACE = Space(
    name='adamcu_budget',
    description=__doc__,
    variants={'adamcu': Variant('adamcu'),
              'adamcu_epoch_decay': Variant('adamcu', dict(decay_every='epoch'))},
    axes={'budget_ratio': Axis(values=(0.017, 0.034, 0.068, 0.168))},
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo', configs='adamcu',
    table='sensitivity', table_param='budget_ratio')
