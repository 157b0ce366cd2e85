"""Knobs onto an mmengine config: what a knob of sweeps/knobs.py sets (its config path, or a
setter: the strategy, its options, the budget, selection-only runs, a loss switched off) and
whether it applies to a config; the active hook and strategy options it looks at."""
import inspect
from typing import Any, Dict, Mapping, Optional, Set, Tuple

from mmengine.config import Config, ConfigDict

from .common import SweepError
from .knobs import Knob, is_knob, knob, order, range_error, unknown_knobs_message


def _hook_class(type_name: Any) -> Optional[type]:
    import mmseg_ext  # noqa: F401  (registers the hooks)
    from mmseg.registry import HOOKS
    return HOOKS.get(type_name) if isinstance(type_name, str) else None


def active_hook(cfg: Mapping) -> Optional[dict]:
    """The config's active hook: the custom hook whose registered class tells its acquisition
    schedule (`acquisition_schedule`); None when the config buys no labels."""
    for hook in cfg.get('custom_hooks', []) or []:
        cls = _hook_class(hook.get('type'))
        if cls is not None and hasattr(cls, 'acquisition_schedule'):
            return hook
    return None


def hook_parameters(type_name: str) -> Set[str]:
    """The arguments the hook class `type_name` takes by name."""
    cls = _hook_class(type_name)
    if cls is None:
        raise SweepError(f'hook type {type_name!r} is not registered')
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name for p in params if p.name != 'self' and p.kind in (
        p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def strategy_options(type_name: str) -> Dict[str, Any]:
    """Every option of the strategy `type_name` with its default: the keyword arguments of its
    constructor (mmseg_ext.active.strategies.contract.signature_options); SweepError for a name
    that is not registered."""
    from mmseg_ext.active.strategies import LEGACY_NAMES, STRATEGIES, names
    from mmseg_ext.active.strategies.contract import signature_options
    cls = STRATEGIES.get(type_name) if isinstance(type_name, str) else None
    if cls is not None:
        return signature_options(cls)
    now = sorted({f"'{m[type_name]}'" for m in LEGACY_NAMES.values() if type_name in m})
    hint = f' (now {" or ".join(now)})' if now else ''
    raise SweepError(f'unknown strategy {type_name!r}{hint}; known: {", ".join(names())}')


def _child(node: Any, part: str) -> Any:
    """`node[part]`, where part may be `name[Type]` (the item of list `name` of that type);
    None when it is not there."""
    if not isinstance(node, Mapping):
        return None
    if part.endswith(']') and '[' in part:
        name, type_name = part[:-1].split('[', 1)
        items = node.get(name) or []
        return next((i for i in items if isinstance(i, Mapping) and i.get('type') == type_name),
                    None)
    return node.get(part)


def _locate(cfg: Config, path: str) -> Tuple[Any, str]:
    """(the mapping that holds the path's last key, that key); the mapping is None when the path
    is not in the config. `hook.` and `strategy.` start at the active hook and its strategy."""
    parts = path.split('.')
    hook = active_hook(cfg)
    if parts[0] == 'hook':
        node, parts = hook, parts[1:]
    elif parts[0] == 'strategy':
        node, parts = (hook or {}).get('strategy'), parts[1:]
    else:
        node = getattr(cfg, '_cfg_dict', cfg)
    for part in parts[:-1]:
        node = _child(node, part)
    return (node if isinstance(node, Mapping) else None), parts[-1]


def row_applies(cfg: Config, row: Knob) -> bool:
    if row.when == 'always':
        return True
    hook = active_hook(cfg)
    if row.when == 'hook':
        return hook is not None
    if row.when == 'hook_takes':
        return hook is not None and row.path.split('.', 1)[1] in hook_parameters(hook['type'])
    if row.when == 'option':
        strategy = (hook or {}).get('strategy')
        if not isinstance(strategy, Mapping):
            return False
        option = row.path.split('.', 1)[1]
        return option in strategy_options(strategy.get('type')) and (
            not row.strategies or strategy.get('type') in row.strategies)
    node, key = _locate(cfg, row.path)  # 'exists'
    if node is None:
        return False
    return _child(node, key) is not None if key.endswith(']') else key in node


def knob_applies(cfg: Config, name: str) -> bool:
    """Whether the knob `name` (sweeps.knobs) would set something in `cfg`."""
    row = knob(name)
    return row is not None and row_applies(cfg, row)


def _swap_hook(cfg: Config, value: Mapping) -> None:
    hook = active_hook(cfg)
    if not isinstance(value, Mapping) or 'type' not in value:
        raise SweepError(f'hook={value!r}: expected dict(type=<hook>, ...)')
    takes = hook_parameters(value['type'])
    new = {k: v for k, v in hook.items() if k in takes}
    new.update(value)
    hooks = cfg.custom_hooks
    hooks[[id(h) for h in hooks].index(id(hook))] = ConfigDict(new)


def _set_strategy(cfg: Config, value: Any) -> None:
    hook = active_hook(cfg)
    if isinstance(value, str):
        strategy_options(value)
        hook['strategy'] = {**(hook.get('strategy') or {}), 'type': value}
    elif isinstance(value, Mapping) and 'type' in value:
        strategy_options(value['type'])
        hook['strategy'] = dict(value)
    else:
        raise SweepError(f'strategy={value!r}: expected dict(type=<strategy>, **options) or a '
                         'strategy name')


def _set_strategy_options(cfg: Config, value: Mapping) -> None:
    hook = active_hook(cfg)
    hook['strategy'] = {'type': hook['strategy']['type'], **dict(value)}


def _set_budget_pixels(cfg: Config, value: Any) -> None:
    hook = active_hook(cfg)
    hook['budget'] = {**{k: v for k, v in (hook.get('budget') or {}).items()
                         if k == 'resolution'}, 'pixels': float(value)}


def _selection_only(cfg: Config, value: Any) -> None:
    if not value:
        return
    for group, loss in (('source_losses', 'LocalConsistencyLoss'),
                        ('target_losses', 'NegativeLearningLoss')):
        if _child(cfg.model, f'{group}[{loss}]') is not None:
            cfg.model[group] = [dict(type=loss, loss_weight=0.0)]


def _off_if_false(cfg: Config, row: Knob, value: Any) -> None:
    if not value:
        node, key = _locate(cfg, row.path)
        node[key] = None


def _set(cfg: Config, row: Knob, value: Any) -> None:
    node, key = _locate(cfg, row.path)
    node[key] = row.convert(value) if row.convert else value


# the ways a row sets its value (Knob.how) other than 'set'
SETTERS = {
    'swap_hook': lambda cfg, row, value: _swap_hook(cfg, value),
    'strategy': lambda cfg, row, value: _set_strategy(cfg, value),
    'strategy_options': lambda cfg, row, value: _set_strategy_options(cfg, value),
    'budget_pixels': lambda cfg, row, value: _set_budget_pixels(cfg, value),
    'selection_only': lambda cfg, row, value: _selection_only(cfg, value),
    'max_iters': lambda cfg, row, value: set_max_iters(cfg, value),
    'off_if_false': _off_if_false,
    'set': _set,
}


def apply_knob(cfg: Config, name: str, value: Any) -> bool:
    """Set one knob (sweeps.knobs) in `cfg`; False (and nothing changed) where it does not
    apply."""
    row = knob(name)
    if row is None:
        raise SweepError(unknown_knobs_message([name]))
    wrong = range_error(name, value)
    if wrong:
        raise SweepError(f'knob {name}={value!r}: {wrong}')
    if not row_applies(cfg, row):
        return False
    SETTERS[row.how](cfg, row, value)
    return True


def apply_knobs(cfg: Config, knobs: Mapping[str, Any]) -> Dict[str, Any]:
    """Set the named knobs (sweeps.knobs: the table's rows and `strategy.<option>`) in `cfg`,
    in the table's order; returns the knobs it applied (one that does not apply, e.g. alpha1 on
    the fully supervised config, is left out)."""
    unknown = [name for name in knobs if not is_knob(name)]
    if unknown:
        raise SweepError(unknown_knobs_message(unknown))
    applied = {name for name in sorted(knobs, key=order) if apply_knob(cfg, name, knobs[name])}
    return {name: value for name, value in knobs.items() if name in applied}


def set_max_iters(cfg: Config, value: int) -> None:
    """Change the training length and everything defined over it: validation interval, the LR
    schedule (`end` / RoundPolyLR `period`), the active hook's selection and evaluation
    iterations. The one way both the `max_iters` knob and `--set train_cfg.max_iters=N` take."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SweepError(f'max_iters={value!r}: expected an integer >= 1')
    old = cfg.train_cfg.max_iters
    hook = active_hook(cfg)
    cfg.train_cfg.max_iters = int(value)
    cfg.train_cfg.val_interval = int(value)
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [s for group in schedulers.values() for s in group] if all(
            isinstance(g, (list, tuple)) for g in schedulers.values()) else [schedulers]
    for sched in schedulers:
        if sched.get('end') == old:
            sched['end'] = int(value)
        if 'period' in sched:  # RoundPolyLR: one period per round
            sched['period'] = int(sched['period'] * value / old)
    for key in ('select_iters', 'eval_iters'):
        if hook is not None and hook.get(key):
            hook[key] = [int(i * value / old) for i in hook[key]]
    if cfg.get('eval_iters'):
        cfg.eval_iters = [int(i * value / old) for i in cfg.eval_iters]
