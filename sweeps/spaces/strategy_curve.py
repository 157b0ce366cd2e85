"""ADeADA supplement Tables 6-7 / Fig. 3: the nine region strategies (RAND, MAR, CONF, ENT,
BADGE, ReDAL, AADA, CLUE, ADeADA) at 1% to 5% of the target pixels, and RIPU (RA) as a tenth
row at the same pixel cost, all from the same warm-up with the same fine-tuning; ADA-MCU
(`adamcu`, configs/adamcu/synthshift/adamcu_adeada_warmup.py) buys its 5% during 600 updates
from the same warm-up and is evaluated at the end (the 5% column).
`tables.py NAME --plot budget_curve --out fig3.png` draws the curves."""
from sweeps.space import Space, Variant
from sweeps.spaces.rows import ADEADA_ROWS

SPACE = Space(
    name='strategy_curve',
    description=__doc__,
    variants={**{name: ADEADA_ROWS[name] for name in
                 ('rand', 'mar', 'conf', 'ent', 'badge', 'redal', 'aada', 'clue', 'adeada',
                  'ripu_ra')},
              'adamcu': Variant('adamcu/adamcu_adeada_warmup')},
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo',
    configs='adeada', table='rounds')
