"""RIPU Table 6: fixed rectangles, superpixels (SLIC; the paper used SEEDS) and k-square
neighbourhoods, all ranked by the RIPU score at 2.2%."""
from sweeps.space import Space, Variant

SPACE = Space(
    name='ripu_region_shape',
    description=__doc__,
    variants={'fixed_rectangle': Variant('ripu_rect'),
              'superpixel': Variant('ripu_superpixel'),
              'k_square': Variant('ripu_ra')},
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo')
