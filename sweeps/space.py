"""What a sweep space declares, and how its trials are enumerated.

A space file (sweeps/spaces/<name>.py, or any path given to --space) defines `SPACE = Space(...)`:
named variants (a method config per benchmark plus fixed knob values), parameter axes (grid
values or ranges), seeds, the metric and mode, and the default search and scheduler.

Knobs are the named parameters a space may set (see KNOBS): each maps onto the mmengine config
of a trial (sweeps/trainable.py applies them). `--set key=value` reaches any config key.
"""
import itertools
import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

# knob -> what it sets in the trial's mmengine config (documented in README "Writing a space")
KNOBS = {
    'strategy': 'the ActiveSelectionHook strategy name',
    'strategy_cfg': 'the strategy options (dict), replacing the config\'s',
    'k': 'strategy_cfg.k: region radius (RA) or purity window / suppression radius (PA)',
    'unit': "strategy_cfg.unit: 'region' or 'pixel' for rand/ent/sconf/canny_ent",
    'budget_ratio': 'budget=dict(ratio=...): fraction of target pixels over the run',
    'budget_pixels': 'budget=dict(pixels=...): pixels per target image over the run',
    'alpha1': 'LocalConsistencyLoss weight (source); 0 switches it off',
    'alpha2': 'NegativeLearningLoss weight (target); 0 switches it off',
    'tau': 'NegativeLearningLoss threshold',
    'lcr_region': "LocalConsistencyLoss region: 'boundary' (reference) or 'all'",
    'lr': 'optimizer learning rate',
    'max_iters': 'training length; selection iterations scale with it',
    # ADeADA (RegionSelectionHook, strategy 'adeada'): strategy_cfg keys
    'alpha': 'ADeADA density share of the first round (Eq. 7)',
    'beta': 'ADeADA decay rate of the density share',
    'decay': "ADeADA schedule: 'exponential' (alpha 2^-beta(k-1)) or 'linear' (alpha - beta(k-1))",
    'category_balance': 'ADeADA: per-class density budgets (True) or one ranking (False)',
    'sigma': "ADeADA class weight: 'log', 'reference' (int(log10 KL)) or 'uniform'",
    'indexing': "ADeADA schedule indexing: 'paper' or 'reference' (D2ADA's off-by-one)",
    # RegionSelectionHook keys
    'budget_overshoot': 'keep the region that crosses the budget (D2ADA) instead of stopping',
    'region': "region units: dict(type='superpixel'|'grid'|'square', ...)",
    'source_images': 'how many source images the density model sees (None = all)',
    # ADA-MCU (ADAMCUSegmentor and AdaptiveSamplingHook)
    'adaptive_sampling': "ADA-MCU: Algorithm 1's adaptive sampling (False: 'AL (w/o AS)', the "
                         'whole budget from the high group at a fixed pi_high)',
    'decay_every': "ADA-MCU: decay pi_high every buying iteration (1, Algorithm 1), every k, "
                   "or 'epoch' (the text)",
    'contrastive': 'ADA-MCU: the multi-level contrastive loss on (True) or off (False)',
    'mcu_levels': "ADA-MCU contrastive levels: a subset of ('intra_image', 'cross_image', "
                  "'cross_domain')",
    'mcu_units': "ADA-MCU contrastive losses: a subset of ('pixel', 'centre') (p2p, c2c)",
    'mcu_weight': 'ADA-MCU: the contrastive loss weight (loss_weight of L_con)',
    'use_dccm': 'ADA-MCU: weight the negatives by the DCCM (True) or plain InfoNCE (False)',
    'gamma': 'ADA-MCU uncertainty: weight of KL(main || aux) (Eq. 1)',
    'pi_low': 'ADA-MCU: the low-uncertainty threshold (pseudo labels, centres)',
}
ADEADA_KNOBS = ('alpha', 'beta', 'decay', 'category_balance', 'sigma', 'indexing')
REGION_HOOK_KNOBS = ('budget_overshoot', 'region', 'source_images')
ADAMCU_MODEL_KNOBS = ('contrastive', 'mcu_levels', 'mcu_units', 'mcu_weight', 'use_dccm', 'gamma',
                      'pi_low')
SEARCHES = ('grid', 'random', 'optuna')
SCHEDULERS = ('fifo', 'asha', 'pbt')
BENCHMARKS = ('synthshift', 'gta5_to_cityscapes', 'synthia_to_cityscapes')


@dataclass(frozen=True)
class Axis:
    """A parameter axis: `values` (grid / categorical) or a range `low`..`high` (random, optuna)."""
    values: Optional[Sequence] = None
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    integer: bool = False

    def __post_init__(self):
        if (self.values is None) == (self.low is None or self.high is None):
            raise ValueError('Axis needs values=[...] or low= and high=')

    def grid(self, name):
        if self.values is None:
            raise ValueError(f'axis {name!r} is a range; grid search needs values=[...] '
                             '(use --search random or optuna)')
        return list(self.values)


@dataclass(frozen=True)
class Variant:
    """A row of a paper table: the method config (by name, per benchmark) and fixed knobs;
    `configs` names the config folder when it is not the space's (another method's row)."""
    config: str = 'ripu_ra'
    knobs: dict = field(default_factory=dict)
    configs: Optional[str] = None


@dataclass(frozen=True)
class Space:
    name: str
    description: str
    variants: dict
    axes: dict = field(default_factory=dict)
    seeds: int = 3
    metric: str = 'miou'
    mode: str = 'max'
    search: str = 'grid'
    scheduler: str = 'fifo'
    num_samples: int = 8
    objectives: Optional[Sequence] = None  # multi-objective optuna: [(metric, mode), ...]
    table: str = 'ablation'                # the table tables.py builds by default
    table_param: Optional[str] = None
    configs: str = 'ripu'                  # the method's folder: configs/<configs>/<benchmark>/
    table_rounds: Optional[Sequence] = None  # rounds of table 'rounds' (None: all)

    def __post_init__(self):
        unknown = [k for v in self.variants.values() for k in v.knobs if k not in KNOBS]
        unknown += [k for k in self.axes if k not in KNOBS]
        if unknown:
            raise ValueError(f'space {self.name!r}: unknown knobs {sorted(set(unknown))}; '
                             f'known: {sorted(KNOBS)}')
        if self.search not in SEARCHES or self.scheduler not in SCHEDULERS:
            raise ValueError(f'space {self.name!r}: search {self.search!r} / scheduler '
                             f'{self.scheduler!r} not in {SEARCHES} / {SCHEDULERS}')

    def grid_trials(self, seeds):
        """Every (variant, axis values, seed): the trials of a grid search, in table order."""
        names = list(self.axes)
        values = [self.axes[n].grid(n) for n in names]
        trials = []
        for variant in self.variants:
            for combo in itertools.product(*values) if names else [()]:
                for seed in range(seeds):
                    trials.append(dict(variant=variant, seed=seed, params=dict(zip(names, combo))))
        return trials


def sample_axis(axis, rng):
    """One random value of an axis (numpy Generator)."""
    if axis.values is not None:
        return axis.values[int(rng.integers(len(axis.values)))]
    if axis.log:
        value = math.exp(rng.uniform(math.log(axis.low), math.log(axis.high)))
    else:
        value = rng.uniform(axis.low, axis.high)
    return int(round(value)) if axis.integer else float(value)
