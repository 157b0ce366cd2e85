"""RIPU appendix B, Tables 7-9: tau, alpha1 and alpha2 one at a time (the others at their
defaults 0.05, 0.1, 1.0). Build a table with `tables.py NAME --table sensitivity --param tau`."""
from sweeps.space import Space, Variant

VALUES = {
    'tau': (0.01, 0.02, 0.05, 0.08, 0.10, 0.20),
    'alpha1': (0.0, 0.05, 0.1, 0.2, 0.5, 1.0),
    'alpha2': (0.0, 0.1, 0.5, 1.0, 1.5, 2.0),
}
SPACE = Space(
    name='ripu_sensitivity',
    description=__doc__,
    variants={f'{knob}={value:g}': Variant('ripu', {knob: value})
              for knob, values in VALUES.items() for value in values},
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo',
    table='sensitivity', table_param='tau')
