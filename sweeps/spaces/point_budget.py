"""Point budgets at the same click cost, 40 oracle points per target image, on POINT-ENT's G2
training (G1's weights score, a new G2 trains with ADVENT's alignment): POINT-ENT (K = 8
patches x N = 5 points, pseudo labels elsewhere), 40 random points, RIPU's PA at 40 px (its
reference scaling: 40 px at 1280x640 on Cityscapes) and POINT-ENT without pseudo labels. No
paper has this table."""
from sweeps.space import Space
from sweeps.spaces.rows import POINT_BUDGET_ROWS

SPACE = Space(
    name='point_budget',
    description=__doc__,
    variants=dict(POINT_BUDGET_ROWS),
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo', configs='point_ent')
