"""From a trial's spec (space, benchmark, variant, knobs, --set overrides) to its mmengine config.

No Ray here: the same function builds the config for `--dry-run`, for the checks the driver runs
before anything starts, and inside the Ray trial.
"""
import ast
import os.path as osp

from mmengine.config import Config

from .common import REPO, SweepError, default_data_root  # noqa: F401  (re-exported)
from .paths import is_path_key, rebase_data_roots
from .space import ADAMCU_MODEL_KNOBS, ADEADA_KNOBS, REGION_HOOK_KNOBS

HOOK_TYPES = ('ActiveSelectionHook', 'RegionSelectionHook', 'AdaptiveSamplingHook')


def trial_spec(config):
    """A Tune trial config -> (variant, seed, sampled knobs). Grid trials carry a 'trial' dict
    {variant, seed, params}; optuna/PBT put variant, seed and knobs at the top level."""
    spec = dict(config.get('trial', {}))
    spec.update({k: v for k, v in config.items() if k != 'trial'})
    knobs = {**spec.pop('params', {}), **{k: v for k, v in spec.items()
                                          if k not in ('variant', 'seed')}}
    return spec['variant'], int(spec.get('seed', 0)), knobs


def config_path(benchmark, name, folder='ripu'):
    path = osp.join(REPO, 'configs', folder, benchmark, f'{name}.py')
    if not osp.isfile(path):
        raise SweepError(f'no config {name!r} for benchmark {benchmark!r} (expected {path})')
    return path


def active_hook(cfg):
    for hook in cfg.get('custom_hooks', []) or []:
        if hook.get('type') in HOOK_TYPES:
            return hook
    return None


def _loss(cfg, group, loss_type):
    for loss in cfg.model.get(group, []) or []:
        if loss.get('type') == loss_type:
            return loss
    return None


def apply_knobs(cfg, knobs):
    """Set the space's named knobs (sweeps.space.KNOBS) in `cfg`; returns the knobs it applied
    (a knob that does not apply, e.g. alpha1 on the fully supervised config, is left out)."""
    hook, applied = active_hook(cfg), {}
    lcr = _loss(cfg, 'source_losses', 'LocalConsistencyLoss')
    nl = _loss(cfg, 'target_losses', 'NegativeLearningLoss')
    for name, value in knobs.items():
        if name == 'max_iters':
            set_max_iters(cfg, value)
        elif name == 'lr':
            cfg.optim_wrapper.optimizer.lr = float(value)
        elif name in ('alpha1', 'lcr_region'):
            if lcr is None:
                continue
            lcr['loss_weight' if name == 'alpha1' else 'region'] = value
        elif name in ('alpha2', 'tau'):
            if nl is None:
                continue
            nl['loss_weight' if name == 'alpha2' else 'threshold'] = value
        elif name in ADAMCU_MODEL_KNOBS:
            if not _apply_adamcu_knob(cfg.model, name, value):
                continue
        elif hook is None:
            continue
        elif name in ('adaptive_sampling', 'decay_every'):
            if hook.get('type') != 'AdaptiveSamplingHook':
                continue
            hook[name] = bool(value) if name == 'adaptive_sampling' else value
        elif name == 'strategy':
            hook['strategy'] = value
        elif name == 'strategy_cfg':
            hook['strategy_cfg'] = dict(value)
        elif name in REGION_HOOK_KNOBS:
            if hook.get('type') != 'RegionSelectionHook':
                continue
            hook[name] = value
        elif name in ('k', 'unit') + ADEADA_KNOBS:
            if name in ADEADA_KNOBS and hook.get('strategy') != 'adeada':
                continue
            hook['strategy_cfg'] = {**(hook.get('strategy_cfg') or {}), name: value}
        elif name == 'budget_ratio':
            hook['budget'] = dict(ratio=float(value))
        elif name == 'budget_pixels':
            hook['budget'] = {**{k: v for k, v in hook['budget'].items() if k == 'resolution'},
                              'pixels': float(value)}
        applied[name] = value
    return applied


def set_max_iters(cfg, value):
    """Change the training length and everything defined over it: validation interval, the LR
    schedule (`end` / RoundPolyLR `period`), selection and evaluation iterations. The one way
    both the `max_iters` knob and `--set train_cfg.max_iters=N` take."""
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
    if hook is not None and 'select_iters' in hook:
        hook['select_iters'] = [int(i * value / old) for i in hook['select_iters']]
    if cfg.get('eval_iters'):
        cfg.eval_iters = [int(i * value / old) for i in cfg.eval_iters]


def _apply_adamcu_knob(model, name, value):
    """Set an ADA-MCU model knob; False when it does not apply (another model, or a
    contrastive-loss knob with the loss switched off)."""
    if model.get('type') != 'ADAMCUSegmentor':
        return False
    if name == 'contrastive':
        if not value:
            model['contrastive_loss'] = None
        return True
    if name in ('mcu_levels', 'mcu_units', 'mcu_weight'):
        if model.get('contrastive_loss') is None:
            return False
        key = {'mcu_levels': 'levels', 'mcu_units': 'units', 'mcu_weight': 'loss_weight'}[name]
        model['contrastive_loss'][key] = float(value) if key == 'loss_weight' else tuple(value)
        return True
    model[name] = value
    return True


def parse_sets(pairs):
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


def _lookup(cfg, key):
    node = getattr(cfg, '_cfg_dict', cfg)
    for part in key.split('.'):
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise SweepError(f'--set {key}: unknown config key (no {part!r} there)')
    return node


def check_sets(cfg, sets):
    """Every --set key must exist in the config and keep its value's type (int -> float is fine).
    A key whose value is None takes a path (a path key: it must exist), a number, a bool, a
    string, a list or a dict, and None itself; a path key's path must exist."""
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


def apply_sets(cfg, sets):
    """`--set` overrides into `cfg`, checked; `train_cfg.max_iters` rescales what depends on it
    (as the max_iters knob does)."""
    sets = dict(sets or {})
    check_sets(cfg, sets)
    if 'train_cfg.max_iters' in sets:
        set_max_iters(cfg, sets.pop('train_cfg.max_iters'))
    if sets:
        cfg.merge_from_dict(sets)


def build_trial_config(space, benchmark, variant, knobs, seed, sets=None, work_dir=None,
                       storage=None, data_root=None, warmups=None):
    """The mmengine Config of one trial; `knobs` = the variant's plus the sampled ones. Dataset
    roots are rebased onto `data_root` (default: sweeps.common.default_data_root()). A config
    naming a `warmup_config` starts from its checkpoint (`warmups[warmup_config]` when the
    driver passed it, else computed under `storage`; sweeps.warmup) unless it sets load_from
    itself."""
    if variant not in space.variants:
        raise SweepError(f'space {space.name!r} has no variant {variant!r}; variants: '
                         f'{", ".join(space.variants)}')
    spec = space.variants[variant]
    cfg = Config.fromfile(config_path(benchmark, spec.config, spec.configs or space.configs))
    applied = apply_knobs(cfg, {**spec.knobs, **knobs})
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
    if cfg.get('warmup_config') and not cfg.get('load_from'):
        if warmups and cfg.warmup_config in warmups:
            cfg.load_from = warmups[cfg.warmup_config]
        elif storage is not None:
            from .warmup import warmup_checkpoint
            cfg.load_from = warmup_checkpoint(cfg, storage, data_root)
    return cfg, applied
