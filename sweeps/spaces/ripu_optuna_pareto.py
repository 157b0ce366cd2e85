"""Multi-objective Optuna (TPE, the Optuna 5 default for several objectives): mIoU up and the
annotation cost (labelled fraction of target pixels) down, over the RA budget, k, alpha1 and
alpha2. The Pareto front is printed at the end of the sweep."""
from sweeps.space import Axis, Space, Variant

SPACE = Space(
    name='ripu_optuna_pareto',
    description=__doc__,
    variants={'f_ripu': Variant('ripu')},
    axes={'budget_ratio': Axis(low=0.005, high=0.05, log=True),
          'k': Axis(values=(1, 2, 3)),
          'alpha1': Axis(low=0.0, high=1.0),
          'alpha2': Axis(low=0.0, high=2.0)},
    seeds=1, metric='miou', mode='max', search='optuna', scheduler='fifo', num_samples=12,
    objectives=(('miou', 'max'), ('labelled_fraction', 'min')),
    table='sensitivity', table_param='budget_ratio')
