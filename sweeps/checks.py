"""Checks of a sweep's input that run before anything starts: resources, storage, the sweep
name, each variant's config (model, strategy, schedule), that every knob applies, and the budget
against the target pool. Bad input raises SweepError (one line)."""
import math
import os
import os.path as osp

from .common import SweepError
from .config_knobs import active_hook, knob_applies, strategy_options


def check_trial_config(cfg):
    """What fails at build time in a trial fails here instead: strategy, schedule, and the
    arguments of a model that can check them unbuilt (ADAMCUSegmentor.check_args)."""
    import mmseg_ext  # noqa: F401
    from mmseg.registry import HOOKS, MODELS
    model_cls = MODELS.get(cfg.model.get('type'))
    if hasattr(model_cls, 'check_args'):
        model_cls.check_args(**cfg.model)
    hook_cfg = active_hook(cfg)
    if hook_cfg is not None:
        HOOKS.build(dict(hook_cfg)).check_schedule(cfg.train_cfg.max_iters)


def check_knobs_apply(space, benchmark, built):
    """Every axis and variant knob of the space sets something in at least one variant's config
    (`built`: [(variant, config, the knobs it applied)]): one that applies to none (a strategy
    option no strategy of the space has, `strategy.kk`, or alpha1 in a space without LCR) is
    a mistake, not a knob to skip."""
    applied = set()
    for _, cfg, done in built:
        applied.update(done)
        applied.update(n for n in space.axes if n not in done and knob_applies(cfg, n))
    names = list(space.axes) + [k for v in space.variants.values()
                                for k in v.knobs_for(benchmark)]
    unused = [n for n in dict.fromkeys(names) if n not in applied]
    if not unused:
        return
    from .knobs import knob
    name = unused[0]
    row = knob(name)
    what = 'axis' if name in space.axes else 'knob'
    hint = ''
    if name.startswith('strategy.'):
        options = set()
        for _, cfg, _ in built:
            strategy = (active_hook(cfg) or {}).get('strategy')
            if isinstance(strategy, dict) and isinstance(strategy.get('type'), str):
                options.update(strategy_options(strategy['type']))
        hint = f'; the options of its strategies: {", ".join(sorted(options)) or "none"}'
    raise SweepError(f'space {space.name!r}: {what} {name!r} applies to no variant on '
                     f'{benchmark} (it sets {row.path}; applies to {row.applies_to}){hint}')


def check_budget(cfg):
    """The budget against the target images (where they are on this machine), as the hook's
    before_train checks it."""
    from mmseg.registry import DATASETS, HOOKS
    hook_cfg = active_hook(cfg)
    if hook_cfg is None:
        return
    hook = HOOKS.build(dict(hook_cfg))
    dataset = cfg.train_dataloader.dataset
    target = dataset.get('target', dataset)
    root = target.get('data_root')
    if target.get('type') == 'SynthShiftDataset' or (root and osp.isdir(root)):
        target = DATASETS.build(dict(target, pipeline=[], active_label_dir=None))
        infos = [target.get_data_info(i) for i in range(len(target))]
        hook.check_pool([dict(info, gt_seg_map_path=info['seg_map_path']) for info in infos])
        if hasattr(hook, 'check_spendable'):  # ADA-MCU: can the schedule spend the budget?
            hook.check_spendable(cfg.train_cfg.max_iters, cfg.train_dataloader.batch_size)


def check_resources(args):
    if not math.isfinite(args.cpus_per_trial) or args.cpus_per_trial < 0:
        raise SweepError(f'--cpus-per-trial {args.cpus_per_trial:g}: expected a finite number '
                         '>= 0')
    gpus = args.gpus_per_trial
    if not math.isfinite(gpus) or gpus < 0 or (gpus > 1 and gpus != int(gpus)):
        raise SweepError(f'--gpus-per-trial {gpus:g}: expected a fraction in [0, 1] or a whole '
                         'number of GPUs')
    if args.max_concurrent < 0:
        raise SweepError(f'--max-concurrent {args.max_concurrent}: expected an integer >= 0 '
                         '(0: as many as resources allow)')
    if args.max_failures < 0:
        raise SweepError(f'--max-failures {args.max_failures}: expected an integer >= 0')
    if args.address and args.address.startswith('ray://'):
        raise SweepError(f'--address {args.address}: Ray Client (ray://) is not supported; run '
                         'the driver on the cluster with `ray job submit -- python '
                         'sweeps/run.py ... --address auto` (docs/cluster.md)')


def check_storage(storage, cwd=None):
    """--storage: a folder (local or NFS: every node reaches it) we can write, or an object-store
    URI (s3://bucket/prefix) whose endpoint answers, with credentials and an existing bucket
    (sweeps/storage.py). Returns its sweeps.storage.Storage."""
    from .storage import Storage, is_uri
    if not is_uri(storage):
        storage = osp.join(cwd or os.getcwd(), storage)
    return Storage(storage).check()


# the longest sweep name in bytes: a folder name (255 bytes on common file systems) that trial
# folders named after it (TensorBoard's <name>_<trial id>) extend
MAX_NAME_BYTES = 200


# names older adasweep versions used inside the storage (the warm-up cache was <storage>/warmup;
# now sweeps.warmup.CACHE_DIR, a dot name no sweep can take)
RESERVED_NAMES = ('warmup',)


def check_name(name):
    """A sweep name is one folder name under the storage, never a dot name (the warm-up cache,
    sweeps.warmup.CACHE_DIR, and hidden files are dot names), nor a reserved one."""
    if not name or name in ('.', '..') or '/' in name or os.sep in name or \
            name.startswith('.') or '\0' in name:
        raise SweepError(f'--name {name!r}: expected a folder name (no path separators, not '
                         'starting with a dot)')
    size = len(name.encode('utf-8', 'surrogateescape'))
    if size > MAX_NAME_BYTES:
        raise SweepError(f'--name {name[:24]}...: {size} bytes long; expected at most '
                         f'{MAX_NAME_BYTES} bytes (one folder name, which trial folders extend)')
    if name in RESERVED_NAMES:
        raise SweepError(f'--name {name!r}: reserved (older adasweep versions kept the warm-up '
                         f'cache in <storage>/{name}); use another --name')
    return name
