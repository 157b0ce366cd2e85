"""Optuna TPE over RIPU's tau, alpha1, alpha2 and k (RA, 2.2%), ASHA stopping weak trials by
round. See ripu_optuna_pareto for the multi-objective version (mIoU up, annotation cost down)."""
from sweeps.space import Axis, Space, Variant

SPACE = Space(
    name='ripu_optuna',
    description=__doc__,
    variants={'f_ripu': Variant('ripu')},
    axes={'tau': Axis(low=0.01, high=0.2, log=True),
          'alpha1': Axis(low=0.0, high=1.0),
          'alpha2': Axis(low=0.0, high=2.0),
          'k': Axis(values=(1, 2, 3))},
    seeds=1, metric='miou', mode='max', search='optuna', scheduler='asha', num_samples=12,
    table='sensitivity', table_param='tau')
