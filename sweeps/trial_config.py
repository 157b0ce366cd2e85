"""From a trial's spec (space, benchmark, variant, knobs, --set overrides) to its mmengine config.

No Ray here: the same function builds the config for `--dry-run`, for the checks the driver runs
before anything starts, and inside the Ray trial.
"""
import ast
import importlib
import inspect
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from mmengine.config import Config, ConfigDict

from .common import REPO, SweepError, default_data_root  # noqa: F401  (re-exported)
from .knobs import KNOB_ROWS, Knob, is_knob, knob, order, range_error, unknown_knobs_message
from .paths import is_path_key, rebase_data_roots
from .space import Space
from .warmup import warmup_checkpoint

def trial_spec(config: Mapping) -> Tuple[str, int, Dict[str, Any]]:
    """A Tune trial config -> (variant, seed, sampled knobs). Grid trials carry a 'trial' dict
    {variant, seed, params}; optuna/PBT put variant, seed and knobs at the top level."""
    spec = dict(config.get('trial', {}))
    spec.update({k: v for k, v in config.items() if k != 'trial'})
    knobs = {**spec.pop('params', {}), **{k: v for k, v in spec.items()
                                          if k not in ('variant', 'seed')}}
    return spec['variant'], int(spec.get('seed', 0)), knobs


def config_path(benchmark: str, config: str) -> str:
    """The file of a variant's `config` on `benchmark`: 'ripu' -> configs/ripu/<benchmark>.py
    (the method's anchor), 'ripu/source_free_ra' -> configs/ripu/<benchmark>/source_free_ra.py."""
    method, _, protocol = config.partition('/')
    rel = osp.join('configs', method, benchmark, f'{protocol}.py') if protocol else \
        osp.join('configs', method, f'{benchmark}.py')
    path = osp.join(REPO, rel)
    if not osp.isfile(path):
        from .moved import moved_message
        raise SweepError(moved_message(rel) or f'no config {config!r} for benchmark '
                         f'{benchmark!r} (expected {path})')
    return path


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
    """Every option of the strategy `type_name` with its default (the class's `defaults`);
    SweepError for a name that is not registered."""
    from mmseg_ext.active.strategies import LEGACY_NAMES, STRATEGIES, names
    cls = STRATEGIES.get(type_name) if isinstance(type_name, str) else None
    if cls is not None:
        return dict(cls.defaults)
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


def _applies(cfg: Config, row: Knob) -> bool:
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
    return row is not None and _applies(cfg, row)


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
    if not _applies(cfg, row):
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


def acquisition_schedule(cfg: Config) -> Tuple[List[int], List[int]]:
    """(selection iterations, evaluation iterations) of the config's active hook, as the hook
    tells them (`acquisition_schedule(max_iters)`); ([], []) without one."""
    hook = active_hook(cfg)
    if hook is None:
        return [], []
    from mmseg.registry import HOOKS
    schedule = HOOKS.build(dict(hook)).acquisition_schedule(cfg.train_cfg.max_iters)
    return list(schedule.select_iters), list(schedule.eval_iters)


def eval_iters(cfg: Config) -> List[int]:
    """The iterations (> 0) a trial evaluates at before the end (the trainable's reports)."""
    return [i for i in acquisition_schedule(cfg)[1] if i > 0]


def parse_sets(pairs: Optional[List[str]]) -> Dict[str, Any]:
    """`--set key=value` strings -> {key: python value} (values parsed as Python literals)."""
    sets = {}
    for pair in pairs or []:
        if '=' not in pair:
            raise SweepError(f'--set {pair!r}: expected key=value')
        key, text = pair.split('=', 1)
        try:
            sets[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            sets[key] = text
    return sets


def _lookup(cfg: Config, key: str) -> Any:
    node = getattr(cfg, '_cfg_dict', cfg)
    for part in key.split('.'):
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise SweepError(f'--set {key}: unknown config key (no {part!r} there)')
    return node


# --set keys that are the path of a row with a setter of its own take that setter
# (`train_cfg.max_iters` rescales what is defined over it, as the max_iters knob does)
SET_ROUTES = {row.path: row.name for row in KNOB_ROWS if row.how != 'set' and row.when == 'always'}


def _split_sets(sets: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """--set items -> (knobs, config keys): a key that is a knob (sweeps.knobs) or the path of a
    row in SET_ROUTES is set as that knob (a knob name wins over a top-level config variable)."""
    knobs, keys = {}, {}
    for key, value in sets.items():
        if key in SET_ROUTES:
            knobs[SET_ROUTES[key]] = value
        elif '.' not in key and is_knob(key) or key.startswith('strategy.'):
            knobs[key] = value
        else:
            keys[key] = value
    return knobs, keys


def check_sets(cfg: Config, sets: Mapping[str, Any]) -> None:
    """Every --set key must exist in the config and keep its value's type (int -> float is fine).
    A key whose value is None takes a path (a path key: it must exist), a number, a bool, a
    string, a list or a dict, and None itself; a path key's path must exist. A knob (sweeps.knobs)
    must apply to the config. No value may hold a non-finite number, and a knob or a common
    config key (sweeps.knobs.KEY_RANGES) must be in its range."""
    for key, value in sets.items():  # values of the right type can still be impossible
        wrong = range_error(SET_ROUTES.get(key, key), value)
        if wrong:
            raise SweepError(f'--set {key}={value!r}: {wrong}')
    knobs, sets = _split_sets(sets)
    for name in knobs:
        row = knob(name)
        if not _applies(cfg, row):
            raise SweepError(f'--set {name}: the knob does not apply to this config (it sets '
                             f'{row.path}; applies to {row.applies_to})')
    for key, value in sets.items():
        old = _lookup(cfg, key)
        if is_path_key(key) and isinstance(value, str) and '://' not in value and \
                not osp.exists(value):
            raise SweepError(f'--set {key}={value!r}: no such file or folder')
        if old is None:
            if not isinstance(value, (str, int, float, bool, list, tuple, dict, type(None))):
                raise SweepError(f'--set {key}={value!r}: expected a literal value')
            continue
        ok = isinstance(value, type(old)) or (isinstance(old, float) and isinstance(value, int)
                                               and not isinstance(value, bool))
        if isinstance(old, (list, tuple)) and isinstance(value, (list, tuple)):
            ok = True
        if isinstance(old, dict) and isinstance(value, dict):  # a ConfigDict takes a dict
            ok = True
        if not ok:
            raise SweepError(f'--set {key}={value!r}: expected a {type(old).__name__} '
                             f'like the config value {old!r}')


def apply_sets(cfg: Config, sets: Optional[Mapping[str, Any]]) -> None:
    """`--set` overrides into `cfg`, checked: knobs first (sweeps.knobs, in the table's order;
    `train_cfg.max_iters` is the max_iters knob), then the config keys."""
    sets = dict(sets or {})
    check_sets(cfg, sets)
    knobs, sets = _split_sets(sets)
    apply_knobs(cfg, knobs)
    if sets:
        cfg.merge_from_dict(sets)


def _scoring_hook(cfg: Config) -> dict:
    hook = active_hook(cfg)
    if hook is None:
        raise SweepError(f'warmup_scores = True but {cfg.filename} has no active hook')
    return hook


def warmup_target(cfg: Config) -> Optional[str]:
    """The checkpoint the config already takes its warm-up from (load_from, or with
    warmup_scores its active hook's score_checkpoint); None when not set yet."""
    if cfg.get('warmup_scores'):
        return _scoring_hook(cfg).get('score_checkpoint')
    return cfg.get('load_from')


def set_warmup_target(cfg: Config, path: str) -> None:
    """Make the config take its warm-up from checkpoint `path` (see warmup_target)."""
    if cfg.get('warmup_scores'):
        _scoring_hook(cfg)['score_checkpoint'] = path
    else:
        cfg.load_from = path


def import_space_modules(space: Space) -> None:
    """Import the modules a space names (`Space.imports`: its own strategies, which register
    themselves), before any of its configs is built; SweepError when one cannot be imported."""
    for module in space.imports:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise SweepError(f'space {space.name!r}: cannot import {module!r} ({err}); put the '
                             'folder that holds it on PYTHONPATH') from None


def build_trial_config(space: Space, benchmark: str, variant: str, knobs: Mapping[str, Any],
                       seed: int, sets: Optional[Mapping[str, Any]] = None,
                       work_dir: Optional[str] = None, storage: Optional[str] = None,
                       data_root: Optional[str] = None,
                       warmups: Optional[Mapping[str, str]] = None
                       ) -> Tuple[Config, Dict[str, Any]]:
    """The mmengine Config of one trial; `knobs` = the variant's plus the sampled ones. Dataset
    roots are rebased onto `data_root` (default: sweeps.common.default_data_root()). A config
    naming a `warmup_config` starts from its checkpoint (`warmups[warmup_config]` when the
    driver passed it, else computed under `storage`; sweeps.warmup) unless it sets load_from
    itself."""
    if variant not in space.variants:
        raise SweepError(f'space {space.name!r} has no variant {variant!r}; variants: '
                         f'{", ".join(space.variants)}')
    spec = space.variants[variant]
    import_space_modules(space)
    cfg = Config.fromfile(config_path(benchmark, space.variant_config(variant)))
    if space.imports:  # the trial's config says what it needs, as mmengine configs do
        own = cfg.get('custom_imports') or dict(imports=[], allow_failed_imports=False)
        cfg.custom_imports = dict(own, imports=[*own['imports'], *space.imports])
    applied = apply_knobs(cfg, {**spec.knobs_for(benchmark), **knobs})
    cfg.randomness = dict(seed=int(seed))
    dataset = cfg.train_dataloader.dataset
    if dataset.get('type') == 'TwoDomainDataset':
        dataset['seed'] = int(seed)
    hook = active_hook(cfg)
    if hook is not None:
        hook['seed'] = int(seed)
    data_root = data_root or default_data_root()
    rebase_data_roots(cfg, data_root)
    apply_sets(cfg, sets)
    if work_dir is not None:
        cfg.work_dir = work_dir
    if cfg.get('warmup_config') and not warmup_target(cfg):
        path = warmups.get(cfg.warmup_config) if warmups else None
        if path is None and storage is not None:
            path = warmup_checkpoint(cfg, storage, data_root)
        if path is not None:
            set_warmup_target(cfg, path)
    return cfg, applied
