"""RIPU Table 4: RAND / ENT / SCONF / RIPU at the pixel budget (40 px per image, PA) and at the
region budget (2.2% RA)."""
from sweeps.space import Space, Variant

SPACE = Space(
    name='ripu_selection',
    description=__doc__,
    variants={
        'rand_40px': Variant('rand_pixel'),
        'ent_40px': Variant('ent_pixel'),
        'sconf_40px': Variant('sconf_pixel'),
        'ripu_pa_40px': Variant('ripu_pa'),
        'rand_2.2%': Variant('rand_region'),
        'ent_2.2%': Variant('ent_region'),
        'sconf_2.2%': Variant('sconf_region'),
        'ripu_ra_2.2%': Variant('ripu_ra'),
    },
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo')
