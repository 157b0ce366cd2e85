"""mIoU against the annotation budget: RIPU (RA) and RAND regions at 1% to 5% of the target
pixels. `tables.py NAME --plot budget_curve --out curve.png` draws mIoU against the labelled
fraction per round; `--table sensitivity --param budget_ratio` tabulates the final mIoU."""
from sweeps.space import Axis, Space
from sweeps.spaces.rows import RIPU_ROWS

SPACE = Space(
    name='ripu_budget',
    description=__doc__,
    variants={'ripu_ra': RIPU_ROWS['ripu_ra'], 'rand': RIPU_ROWS['rand_region']},
    axes={'budget_ratio': Axis(values=(0.01, 0.02, 0.03, 0.04, 0.05))},
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo',
    table='sensitivity', table_param='budget_ratio')
