"""ADA-MCU Tables I-II: the full model at 1.7 / 3.4 / 6.8 / 16.8 % of the target pixels
(`--table sensitivity --param budget_ratio`), pi_high decayed once per pass over the target set
(the text, l. 717-720; the default). Every row must spend its budget (the hook fails a run that
does not). Per-iteration decay (`--set decay_every=1`) drove pi_high to pi_low before half of the
6.8% and 16.8% budgets was bought (they stopped at 3.4% and 8.4%), so it is no row here."""
from sweeps.space import Axis, Space, Variant

SPACE = Space(
    name='adamcu_budget',
    description=__doc__,
    variants={'adamcu': Variant('adamcu')},
    axes={'budget_ratio': Axis(values=(0.017, 0.034, 0.068, 0.168))},
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo', configs='adamcu',
    table='sensitivity', table_param='budget_ratio')
