"""RIPU Table 6: fixed rectangles, superpixels (SLIC; the paper used SEEDS) and k-square
neighbourhoods, all ranked by the RIPU score at 2.2%."""
from sweeps.space import Space
from sweeps.spaces.rows import RIPU_ROWS

SPACE = Space(
    name='ripu_region_shape',
    description=__doc__,
    variants={'fixed_rectangle': RIPU_ROWS['ripu_rect'],
              'superpixel': RIPU_ROWS['ripu_superpixel'],
              'k_square': RIPU_ROWS['ripu_ra']},
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo')
