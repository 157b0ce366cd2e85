"""RIPU Table 4: RAND / ENT / SCONF / RIPU at the pixel budget (40 px per image, PA) and at the
region budget (2.2% RA)."""
from sweeps.space import Space
from sweeps.spaces.rows import RIPU_ROWS

SPACE = Space(
    name='ripu_selection',
    description=__doc__,
    variants={
        'rand_40px': RIPU_ROWS['rand_pixel'],
        'ent_40px': RIPU_ROWS['ent_pixel'],
        'sconf_40px': RIPU_ROWS['sconf_pixel'],
        'ripu_pa_40px': RIPU_ROWS['ripu_pa'],
        'rand_2.2%': RIPU_ROWS['rand_region'],
        'ent_2.2%': RIPU_ROWS['ent_region'],
        'sconf_2.2%': RIPU_ROWS['sconf_region'],
        'ripu_ra_2.2%': RIPU_ROWS['ripu_ra'],
    },
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo')
