"""The knob table: every named parameter a space (variant knobs, axes) or `--set` may give, with
the config path it sets and what it applies to. `sweeps.trial_config.apply_knobs` reads it; the
knob list of docs/spaces-and-knobs.md is `render_markdown()` (a test checks they agree).

Paths: `hook.<key>` is a key of the config's active hook (the custom hook that buys labels,
`sweeps.trial_config.active_hook`), `strategy.<option>` an option of that hook's strategy dict,
`model.source_losses[LocalConsistencyLoss].<key>` a key of the list item of that type; any other
path is a config key from the root. Any `strategy.<option>` is a knob without a row (e.g. an axis
`'strategy.k': Axis(values=[1, 2])`); the rows below name the options spaces used before.

When a knob applies (`when`); one that does not is skipped, and `apply_knobs` returns only the
knobs it applied:
- 'always': every config;
- 'exists': the path is in the config (a None on the way counts as missing);
- 'hook': the config has an active hook;
- 'hook_takes': the active hook's class takes the key as an argument;
- 'option': the active hook's strategy has the option (a keyword argument of its constructor,
  `strategy_options`), and its type is one of `strategies` when those are given.

How it sets (`how`): 'set' writes the converted value at the path; the other ways are named
setters in sweeps.trial_config (`SETTERS`), each documented by its row.

The values a knob takes (`range`, a `Range`): a value outside it (a negative learning rate, a
budget ratio of 2, any non-finite number) is bad input, refused before anything runs, in a
space (variant knobs, axis values and bounds) and in `--set`. `KEY_RANGES` gives common config
keys (batch sizes, worker counts, ...) their ranges for `--set`.
"""
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple


@dataclass(frozen=True)
class Range:
    """The numbers a knob or config key takes: finite, `integer` or not, above `low` and below
    `high` (None: unbounded; `*_open`: the bound itself excluded)."""
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def __contains__(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if (self.integer and not isinstance(value, int)) or not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or self.low_open and value == self.low):
            return False
        return self.high is None or not (value > self.high or
                                         self.high_open and value == self.high)

    def describe(self) -> str:
        """'a number > 0', 'an integer >= 1', 'a number in [0, 1]'."""
        kind = 'an integer' if self.integer else 'a number'
        if self.low is not None and self.high is not None:
            return (f'{kind} in {"(" if self.low_open else "["}{self.low:g}, {self.high:g}'
                    f'{")" if self.high_open else "]"}')
        if self.low is not None:
            return f'{kind} {">" if self.low_open else ">="} {self.low:g}'
        if self.high is not None:
            return f'{kind} {"<" if self.high_open else "<="} {self.high:g}'
        return f'a finite {kind.split()[-1]}'


POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
UNIT = Range(0, 1)

STRATEGY_PREFIX = 'strategy.'
LCR = 'model.source_losses[LocalConsistencyLoss]'
NL = 'model.target_losses[NegativeLearningLoss]'


@dataclass(frozen=True)
class Knob:
    """One row of the table."""
    name: str
    doc: str
    path: str
    when: str = 'exists'
    how: str = 'set'
    convert: Optional[Callable[[Any], Any]] = None
    strategies: Tuple[str, ...] = ()
    range: Optional[Range] = None

    @property
    def applies_to(self) -> str:
        """What it applies to, in words (the docs' column)."""
        key = self.path.rsplit('.', 1)[-1]
        if self.when == 'always':
            return 'every config'
        if self.when == 'hook':
            return 'configs with an active hook'
        if self.when == 'hook_takes':
            return f'active hooks that take `{key}`'
        if self.when == 'option':
            which = ' or '.join(f'`{s}`' for s in self.strategies) or 'strategies'
            return f'{which} with option `{key}`' if not self.strategies else f'strategy {which}'
        return f'configs with `{self.path}`'


def _tuple(value):
    return tuple(value)


KNOB_ROWS: Tuple[Knob, ...] = (
    Knob('hook', "swap the active hook for another: dict(type=..., ...); the old hook's keys the "
         'new class takes (select_iters, batch_size, pool_pipeline, ...) are kept',
         'hook', when='hook', how='swap_hook'),
    Knob('strategy', 'the strategy: dict(type=<registry name>, **options) replaces it; a name '
         'keeps the options', 'hook.strategy', when='hook', how='strategy'),
    Knob('strategy_cfg', "the strategy's options (dict), replacing them (the type stays)",
         'hook.strategy', when='hook', how='strategy_options'),
    Knob('k', 'region radius (RA) or purity window / suppression radius (PA)', 'strategy.k',
         when='option'),
    Knob('unit', "'region' or 'pixel' (RAND, ENT, SCONF, MAR, Canny-ENT)", 'strategy.unit',
         when='option'),
    Knob('budget', 'the whole budget dict, e.g. dict(pixels=40, resolution=(640, 1280))',
         'hook.budget', when='hook', convert=dict),
    Knob('budget_ratio', 'budget=dict(ratio=...): fraction of target pixels over the run',
         'hook.budget', when='hook', convert=lambda value: dict(ratio=float(value)),
         range=Range(0, 1, low_open=True)),
    Knob('budget_pixels', 'budget=dict(pixels=...): pixels per target image over the run (the '
         "budget's resolution is kept)", 'hook.budget', when='hook', how='budget_pixels',
         range=POSITIVE),
    Knob('selection_only', 'True: no LCR, no NL (each replaced by a weight-0 stub), as the '
         "paper's baseline and ablation rows", LCR, how='selection_only'),
    Knob('alpha1', 'LocalConsistencyLoss weight (source); 0 switches it off',
         f'{LCR}.loss_weight', range=NON_NEGATIVE),
    Knob('alpha2', 'NegativeLearningLoss weight (target); 0 switches it off', f'{NL}.loss_weight',
         range=NON_NEGATIVE),
    Knob('tau', 'NegativeLearningLoss threshold', f'{NL}.threshold', range=UNIT),
    Knob('lcr_region', "LocalConsistencyLoss region: 'boundary' (reference) or 'all'",
         f'{LCR}.region'),
    Knob('lr', 'optimizer learning rate', 'optim_wrapper.optimizer.lr', when='always',
         convert=float, range=POSITIVE),
    Knob('max_iters', 'training length; the LR schedule, selection and evaluation iterations '
         'scale with it', 'train_cfg.max_iters', when='always', how='max_iters',
         range=Range(1, integer=True)),
    Knob('alpha', 'ADeADA density share of the first round (Eq. 7)', 'strategy.alpha',
         when='option', strategies=('ADeADA',), range=UNIT),
    Knob('beta', 'ADeADA decay rate of the density share', 'strategy.beta', when='option',
         strategies=('ADeADA',), range=NON_NEGATIVE),
    Knob('decay', "ADeADA schedule: 'exponential' (alpha 2^-beta(k-1)) or 'linear' "
         "(alpha - beta(k-1)); other strategies' decay: `strategy.decay`", 'strategy.decay',
         when='option', strategies=('ADeADA',)),
    Knob('category_balance', 'ADeADA: per-class density budgets (True) or one ranking (False)',
         'strategy.category_balance', when='option', strategies=('ADeADA',)),
    Knob('sigma', "ADeADA class weight: 'log', 'reference' (int(log10 KL)) or 'uniform'",
         'strategy.sigma', when='option', strategies=('ADeADA',)),
    Knob('indexing', "ADeADA schedule indexing: 'paper' or 'reference' (D2ADA's off-by-one)",
         'strategy.indexing', when='option', strategies=('ADeADA',)),
    Knob('budget_overshoot', 'keep the region that crosses the budget (D2ADA) instead of '
         'stopping', 'hook.budget_overshoot', when='hook_takes'),
    Knob('region', "region units: dict(type='superpixel'|'grid'|'square', ...)", 'hook.region',
         when='hook_takes'),
    Knob('source_images', 'how many source images the density model sees (None = all)',
         'hook.source_images', when='hook_takes'),
    Knob('adaptive_sampling', "ADA-MCU: Algorithm 1's adaptive sampling (False: 'AL (w/o AS)', "
         'the whole budget from the high group)',
         'strategy.adaptive_sampling', when='option', convert=bool),
    Knob('decay_every', "ADA-MCU: decay pi_high once per epoch ('epoch', the text; default), every "
         'buying iteration (1) or every k', 'strategy.decay_every', when='option'),
    Knob('fixed_pi_high', "ADA-MCU 'AL (w/o AS)': keep pi_high at its initial value (True, before "
         'issue 21) instead of decaying it like AS (False)', 'strategy.fixed_pi_high',
         when='option', convert=bool),
    Knob('pseudo_labels', "ADA-MCU pseudo labels: 'balanced' (as many as one labelled group per "
         "batch, Sec. III-B-2) or 'all' (every unlabelled low-uncertainty pixel)",
         'model.pseudo_label_sampling'),
    Knob('mcu_resolution', "ADA-MCU contrastive roles at the 'label' resolution (embeddings "
         "sampled bilinearly) or the 'decoder' one (labels nearest-downsampled)",
         'model.contrastive_resolution'),
    Knob('mcu_per_domain', 'ADA-MCU: L_con averages anchors per domain and sums the domains '
         '(True) or one mean over both (False)', 'model.contrastive_loss.per_domain',
         convert=bool),
    Knob('contrastive', 'ADA-MCU: the multi-level contrastive loss on (True) or off (False: None)',
         'model.contrastive_loss', how='off_if_false'),
    Knob('mcu_levels', "ADA-MCU contrastive levels: a subset of ('intra_image', 'cross_image', "
         "'cross_domain')", 'model.contrastive_loss.levels', convert=_tuple),
    Knob('mcu_units', "ADA-MCU contrastive losses: a subset of ('pixel', 'centre') (p2p, c2c)",
         'model.contrastive_loss.units', convert=_tuple),
    Knob('mcu_weight', 'ADA-MCU: the contrastive loss weight (loss_weight of L_con)',
         'model.contrastive_loss.loss_weight', convert=float, range=NON_NEGATIVE),
    Knob('use_dccm', 'ADA-MCU: weight the negatives by the DCCM (True) or plain InfoNCE (False)',
         'model.use_dccm'),
    Knob('gamma', 'ADA-MCU uncertainty: weight of KL(main || aux) (Eq. 1)', 'model.gamma',
         range=NON_NEGATIVE),
    Knob('pi_low', 'ADA-MCU: the low-uncertainty threshold (pseudo labels, centres)',
         'model.pi_low', range=UNIT),
)
KNOBS: Dict[str, Knob] = {k.name: k for k in KNOB_ROWS}

# common config keys a `--set` may give, with the values they take (the rows' own paths too)
KEY_RANGES: Dict[str, Range] = {
    **{f'{loader}.batch_size': Range(1, integer=True)
       for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')},
    **{f'{loader}.num_workers': Range(0, integer=True)
       for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')},
    'optim_wrapper.optimizer.weight_decay': NON_NEGATIVE,
    'optim_wrapper.optimizer.momentum': UNIT,
    'train_cfg.val_interval': Range(1, integer=True),
    **{row.path: row.range for row in KNOB_ROWS if row.range and not row.path.startswith(
        ('hook.', 'strategy.', 'model.source_losses[', 'model.target_losses['))},
}


def value_range(key: str) -> Optional[Range]:
    """The range of a knob (by name) or of a config key (by path); None: any value."""
    row = KNOBS.get(key)
    return row.range if row is not None else KEY_RANGES.get(key)


def range_error(key: str, value: Any) -> Optional[str]:
    """What is wrong with `value` for the knob or config key `key` ("expected a number > 0"),
    or None when it is in its range (or `key` has none); a non-finite number anywhere in it
    (lists and dicts too) is never right."""
    bad = _non_finite(value)
    if bad is not None:
        return f'{bad!r} is not a finite number'
    rng = value_range(key)
    if rng is not None and value not in rng:
        return f'expected {rng.describe()}'
    return None


def _non_finite(value: Any) -> Optional[float]:
    if isinstance(value, float) and not math.isfinite(value):
        return value
    items = value.values() if isinstance(value, dict) else value \
        if isinstance(value, (list, tuple)) else ()
    return next((v for v in map(_non_finite, items) if v is not None), None)


def knob(name: str) -> Optional[Knob]:
    """The row of `name`; a `strategy.<option>` without a row gets one of its own; None if
    `name` is no knob."""
    if name in KNOBS:
        return KNOBS[name]
    option = name[len(STRATEGY_PREFIX):] if name.startswith(STRATEGY_PREFIX) else ''
    if option.isidentifier():
        return Knob(name, f'the strategy option {option}', name, when='option')
    return None


def is_knob(name: str) -> bool:
    return knob(name) is not None


def order(name: str) -> float:
    """Knobs apply in table order (a hook swap, then the strategy, then its options, ...); a
    `strategy.<option>` without a row right after `strategy_cfg`."""
    if name in KNOBS:
        return float(KNOB_ROWS.index(KNOBS[name]))
    return KNOB_ROWS.index(KNOBS['strategy_cfg']) + 0.5


def unknown_knobs_message(names) -> str:
    return (f'unknown knobs {sorted(set(names))}; known: {sorted(KNOBS)} and '
            "'strategy.<option>' for any option of the strategy")


def render_markdown() -> str:
    """The knob list of docs/spaces-and-knobs.md (between `<!-- knobs -->` and `<!-- /knobs -->`)."""
    lines = ['| knob | sets | applies to | values | what |', '|---|---|---|---|---|']
    for row in KNOB_ROWS:
        lines.append(f'| `{row.name}` | `{row.path}` | {row.applies_to} | '
                     f'{row.range.describe() if row.range else "-"} | '
                     f'{row.doc.replace("|", "/")} |')
    lines.append('| `strategy.<option>` | `strategy.<option>` | strategies with that option | - '
                 '| any option of the strategy (a keyword argument of its constructor), no row '
                 'needed |')
    return '\n'.join(lines) + '\n'
