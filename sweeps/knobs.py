"""The knob table: every named parameter a space (variant knobs, axes) or `--set` may give, with
the config path it sets and what it applies to. `sweeps.trial_config.apply_knobs` reads it; the
README's knob list is `render_markdown()` (a test checks they agree).

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
- 'option': the active hook's strategy has the option (its class's `defaults`), and its type is
  one of `strategies` when those are given.

How it sets (`how`): 'set' writes the converted value at the path; the other ways are named
setters in sweeps.trial_config (`SETTERS`), each documented by its row.
"""
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

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

    @property
    def applies_to(self) -> str:
        """What it applies to, in words (the README column)."""
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
         'hook.budget', when='hook', convert=lambda value: dict(ratio=float(value))),
    Knob('budget_pixels', 'budget=dict(pixels=...): pixels per target image over the run (the '
         "budget's resolution is kept)", 'hook.budget', when='hook', how='budget_pixels'),
    Knob('selection_only', 'True: no LCR, no NL (each replaced by a weight-0 stub), as the '
         "paper's baseline and ablation rows", LCR, how='selection_only'),
    Knob('alpha1', 'LocalConsistencyLoss weight (source); 0 switches it off',
         f'{LCR}.loss_weight'),
    Knob('alpha2', 'NegativeLearningLoss weight (target); 0 switches it off', f'{NL}.loss_weight'),
    Knob('tau', 'NegativeLearningLoss threshold', f'{NL}.threshold'),
    Knob('lcr_region', "LocalConsistencyLoss region: 'boundary' (reference) or 'all'",
         f'{LCR}.region'),
    Knob('lr', 'optimizer learning rate', 'optim_wrapper.optimizer.lr', when='always',
         convert=float),
    Knob('max_iters', 'training length; the LR schedule, selection and evaluation iterations '
         'scale with it', 'train_cfg.max_iters', when='always', how='max_iters'),
    Knob('alpha', 'ADeADA density share of the first round (Eq. 7)', 'strategy.alpha',
         when='option', strategies=('ADeADA',)),
    Knob('beta', 'ADeADA decay rate of the density share', 'strategy.beta', when='option',
         strategies=('ADeADA',)),
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
         'model.contrastive_loss.loss_weight', convert=float),
    Knob('use_dccm', 'ADA-MCU: weight the negatives by the DCCM (True) or plain InfoNCE (False)',
         'model.use_dccm'),
    Knob('gamma', 'ADA-MCU uncertainty: weight of KL(main || aux) (Eq. 1)', 'model.gamma'),
    Knob('pi_low', 'ADA-MCU: the low-uncertainty threshold (pseudo labels, centres)',
         'model.pi_low'),
)
KNOBS: Dict[str, Knob] = {k.name: k for k in KNOB_ROWS}


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
    """The README's knob list (between `<!-- knobs -->` and `<!-- /knobs -->`)."""
    lines = ['| knob | sets | applies to | what |', '|---|---|---|---|']
    for row in KNOB_ROWS:
        lines.append(f'| `{row.name}` | `{row.path}` | {row.applies_to} | '
                     f'{row.doc.replace("|", "/")} |')
    lines.append('| `strategy.<option>` | `strategy.<option>` | strategies with that option | '
                 'any option of the strategy (its `defaults`), no row needed |')
    return '\n'.join(lines) + '\n'
