"""From a trial's spec (space, benchmark, variant, knobs, --set overrides) to its mmengine config.

No Ray here: the same function builds the config for `--dry-run`, for the checks the driver runs
before anything starts, and inside the Ray trial.
"""
import importlib
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Tuple

from mmengine.config import Config

from .common import REPO, SweepError, default_data_root  # noqa: F401  (re-exported)
from .config_knobs import active_hook, apply_knobs
from .config_sets import apply_sets
from .paths import rebase_data_roots
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
