"""Run a sweep space with Ray Tune: on this machine (local Ray) or on a Ray cluster.

    python sweeps/run.py --space ripu_ablation                 # SynthShift, local Ray, 3 seeds
    python sweeps/run.py --list-spaces
    python sweeps/run.py --space ripu_ablation --benchmark gta5_to_cityscapes --address auto \\
        --gpus-per-trial 1 --storage /shared/adasweep --data-root /shared/data
Rerunning the same command (same --name and --storage) resumes the sweep. A sweep folder belongs
to one plan: a rerun with another plan is refused (--resume-anyway records a change of the
trials' configs and goes on; what Tune keeps on restore, such as the trials, is refused), and a
second driver on the same folder is refused while the first runs.
"""
import argparse
import fcntl
import hashlib
import json
import math
import os
import os.path as osp
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sweeps.common import REPO, SweepError, default_data_root, mask_secrets  # noqa: E402
from sweeps.paths import absolute_sets, data_identity, data_roots  # noqa: E402
from sweeps.space import (BENCHMARKS, SCHEDULERS, SEARCHES, SPACE_RECORD,  # noqa: E402
                          sample_axis)
from sweeps.spaces import known_spaces, load_space, space_file  # noqa: E402
from sweeps.trial_config import (active_hook, build_trial_config, knob_applies,  # noqa: E402
                                  parse_sets, set_warmup_target, strategy_options,
                                  warmup_target)
from sweeps.warmup import ensure_warmup, warmup_checkpoint  # noqa: E402

PLAN_FILE = 'plan.json'
HISTORY_FILE = 'history.jsonl'
LOCK_FILE = '.driver.lock'


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
    from sweeps.knobs import knob
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


def say(args, text):
    """A progress line, unless --quiet."""
    if not getattr(args, 'quiet', False):
        print(text, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Run a sweep space with Ray Tune (see README.md and docs/).')
    p.add_argument('--space', help='a space name (--list-spaces) or a path to a space file')
    p.add_argument('--list-spaces', action='store_true', help='list the known spaces and exit')
    p.add_argument('--benchmark', default='synthshift', help=f'one of {", ".join(BENCHMARKS)}')
    p.add_argument('--seeds', type=int, help='seeds per variant (default: the space\'s)')
    p.add_argument('--search', help=f'one of {", ".join(SEARCHES)} (default: the space\'s)')
    p.add_argument('--num-samples', type=int, help='trials for random/optuna search')
    p.add_argument('--scheduler', help=f'one of {", ".join(SCHEDULERS)} (default: the space\'s)')
    p.add_argument('--address', help='Ray cluster address (auto, host:port); default: a local '
                   'Ray instance on this machine, on 127.0.0.1')
    p.add_argument('--gpus-per-trial', type=float, default=0)
    p.add_argument('--cpus-per-trial', type=float, default=1)
    p.add_argument('--max-concurrent', type=int, default=0, help='0: as many as resources allow')
    p.add_argument('--max-failures', type=int, default=1, help='retries of a failed trial')
    p.add_argument('--storage', default='results', help='results root (a path every node reaches)')
    p.add_argument('--data-root', help='root of every dataset (gta5/, synthia/, cityscapes/, '
                   'synthshift/); default: $ADASWEEP_DATA, else <repo>/data')
    p.add_argument('--name', help='sweep name (default: <space>_<benchmark>)')
    p.add_argument('--set', dest='sets', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override mmengine config keys of every trial')
    p.add_argument('--resume-anyway', action='store_true',
                   help='resume a sweep whose plan differs from this command (recorded in the '
                   "sweep's history.jsonl)")
    p.add_argument('--dry-run', action='store_true', help='print the trials and exit')
    p.add_argument('--quiet', action='store_true',
                   help='print only the final table (no plan, no progress)')
    p.add_argument('--tracking', metavar='NAME',
                   help='also track trials in: mlflow (TensorBoard files are always written to '
                   '<storage>/<name>/tensorboard)')
    p.add_argument('--tracking-uri', metavar='URI',
                   help='the MLflow tracking server for --tracking mlflow (e.g. '
                   'http://127.0.0.1:5000)')
    return p.parse_args(argv)


def git_rev():
    try:
        return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, text=True,
                              capture_output=True, timeout=10).stdout.strip() or 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def _check_resources(args):
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


def check_storage(storage):
    """--storage must be a local path (every node reaches it: NFS or similar) we can write."""
    if '://' in storage:
        raise SweepError(f'--storage {storage}: URIs are not supported; --storage must be a path '
                         'every node reaches (NFS or similar)')
    path = osp.abspath(storage)
    if osp.exists(path) and not osp.isdir(path):
        raise SweepError(f'--storage {storage}: exists and is not a folder')
    existing = path
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SweepError(f'--storage {storage}: {existing} is not writable')
    return path


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


class Plan:
    """Everything a sweep needs, validated before anything is started or written."""

    def __init__(self, args, cwd=None):
        cwd = cwd or os.getcwd()
        if args.benchmark not in BENCHMARKS:
            raise SweepError(f'unknown benchmark {args.benchmark!r}; known: {", ".join(BENCHMARKS)}')
        _check_resources(args)
        from sweeps.tracking import parse_tracking
        self.trackers, self.tracking_uri = parse_tracking(getattr(args, 'tracking', None),
                                                          getattr(args, 'tracking_uri', None))
        self.space_file = str(space_file(args.space))
        with open(self.space_file) as f:
            self.space_source = f.read()
        self.space = load_space(self.space_file, source=self.space_source)
        self.search = args.search or self.space.search
        self.scheduler = args.scheduler or self.space.scheduler
        if self.search not in SEARCHES:
            raise SweepError(f'unknown search {self.search!r}; known: {", ".join(SEARCHES)}')
        if self.scheduler not in SCHEDULERS:
            raise SweepError(f'unknown scheduler {self.scheduler!r}; known: '
                             f'{", ".join(SCHEDULERS)}')
        self.seeds = args.seeds if args.seeds is not None else self.space.seeds
        self.num_samples = args.num_samples if args.num_samples is not None else \
            self.space.num_samples
        if self.seeds < 1:
            raise SweepError(f'--seeds {self.seeds}: expected an integer >= 1')
        if self.num_samples < 1:
            raise SweepError(f'--num-samples {self.num_samples}: expected an integer >= 1')
        self.benchmark = args.benchmark
        self.raw_sets = list(args.sets)
        self.sets = absolute_sets(parse_sets(args.sets), cwd)
        self.name = check_name(args.name or f'{self.space.name}_{self.benchmark}')
        self.storage = check_storage(osp.join(cwd, args.storage) if '://' not in args.storage
                                     else args.storage)
        self.data_root = osp.abspath(osp.join(cwd, args.data_root)) if args.data_root else \
            default_data_root()
        self.sweep_dir = osp.join(self.storage, self.name)
        self.args = args
        self.trials = self._trials()
        # building every variant's config checks config files, knobs and --set keys/types
        self.configs, self.warmups, self.reports = {}, {}, 1
        from sweeps.trial_config import eval_iters
        built = []
        for variant in self.space.variants:
            example = next((t for t in self.trials if t['variant'] == variant), None)
            knobs = dict(example['params']) if example else {}
            # no storage: the warm-up checkpoint is named by the data, which may not exist yet
            # (SynthShift is generated below, after every check); it is set in the loop below
            cfg, applied = build_trial_config(self.space, self.benchmark, variant, knobs, 0,
                                              self.sets, data_root=self.data_root)
            check_trial_config(cfg)
            self.reports = max(self.reports, len(eval_iters(cfg)) + 1)
            built.append((variant, cfg, applied))
        check_knobs_apply(self.space, self.benchmark, built)
        # the search and the scheduler, before anything is generated or read from the data
        self.searcher, self.param_space = _searcher(self)
        self.tune_scheduler = _scheduler(self)
        for variant, cfg, _ in built:  # then what needs the data
            if self.benchmark == 'synthshift':
                self._ensure_synthshift(cfg)
            check_budget(cfg)
            if cfg.get('warmup_config'):
                path = warmup_checkpoint(cfg, self.storage, self.data_root)
                if not warmup_target(cfg):  # what the trials compute, with the data there
                    set_warmup_target(cfg, path)
                if path == warmup_target(cfg):
                    self.warmups.setdefault(path, cfg)
            self.configs[variant] = json.loads(json.dumps(cfg.to_dict(), default=str))
        self._data = None  # data_identity of the configs, on first use (fingerprint)

    def _ensure_synthshift(self, cfg):
        """SynthShift is generated once, by the driver, into the data root."""
        from mmseg_ext.datasets import ensure_synthshift
        for root in data_roots(cfg):
            if osp.basename(root) == 'synthshift':
                if not osp.isfile(osp.join(root, 'meta.json')):
                    say(self.args, f'generating SynthShift into {root} (once; about 20 s)')
                ensure_synthshift(root, progress=False)

    def _trials(self):
        if self.search == 'grid':
            return self.space.grid_trials(self.seeds)
        if self.search == 'random':
            import numpy as np
            rng = np.random.default_rng(0)
            variants = list(self.space.variants)
            return [dict(variant=variants[i % len(variants)], seed=i % self.seeds,
                         params={n: sample_axis(a, rng) for n, a in self.space.axes.items()})
                    for i in range(self.num_samples)]
        return []  # optuna samples while it runs

    def context(self):
        return dict(space_file=self.space_file, space_source=self.space_source,
                    benchmark=self.benchmark, sets=self.sets, sweep_dir=self.sweep_dir,
                    data_root=self.data_root, cpus_per_trial=self.args.cpus_per_trial,
                    warmups={cfg.warmup_config: path for path, cfg in self.warmups.items()})

    def fingerprint(self):
        """What makes results of this plan: a rerun must match it. Paths are excluded, so a
        moved storage or data folder still resumes; the data is in it by what it is
        (sweeps.paths.data_identity), and so are the metric, mode and objectives, which drive
        the scheduler and the searcher."""
        text = json.dumps(self.configs, sort_keys=True, default=str, ensure_ascii=False)
        marks = {self.sweep_dir: '<sweep>', self.storage: '<storage>', self.data_root: '<data>'}
        for path in sorted(marks, key=len, reverse=True):  # the longest (innermost) first
            text = re.sub(re.escape(path) + r'(?=[/"]|$)', marks[path], text)
        space = self.space
        if self._data is None:  # one look at the data per plan
            self._data = sorted({data_identity(cfg, self.data_root)
                                 for cfg in self.configs.values()})
        return dict(
            space=space.name, benchmark=self.benchmark, metric=space.metric, mode=space.mode,
            objectives=[list(o) for o in space.objectives or ()], data=self._data,
            variants={n: dict(config=space.variant_config(n),
                              knobs=json.loads(json.dumps(v.knobs_for(self.benchmark),
                                                          default=str)))
                      for n, v in space.variants.items()},
            axes={n: repr(a) for n, a in space.axes.items()}, seeds=self.seeds,
            search=self.search, num_samples=self.num_samples if self.search != 'grid' else None,
            scheduler=self.scheduler, sets=mask_secrets(self.raw_sets),
            cpus_per_trial=self.args.cpus_per_trial,
            device='gpu' if self.args.gpus_per_trial > 0 else 'cpu',
            configs=hashlib.sha1(text.encode('utf-8', 'surrogateescape')).hexdigest()[:16])

    def describe(self):
        lines = [f'sweep {self.name}: space {self.space.name} on {self.benchmark}, search '
                 f'{self.search}, scheduler {self.scheduler}, storage {self.sweep_dir}, data '
                 f'{self.data_root}']
        if self.search == 'optuna':
            axes = ', '.join(f'{n} in {list(a.values)}' if a.values is not None else
                             f'{n} in [{a.low}, {a.high}]{" (log)" if a.log else ""}'
                             for n, a in self.space.axes.items())
            lines.append(f'{self.num_samples} optuna trials over {axes}; variants '
                         f'{", ".join(self.space.variants)}')
        for t in self.trials:
            params = ' '.join(f'{k}={v}' for k, v in t['params'].items())
            lines.append(f'  {t["variant"]:<28} seed={t["seed"]} {params}'.rstrip())
        if self.trials:
            lines.append(f'{len(self.trials)} trials')
        return '\n'.join(lines)


JOURNAL_FILE = 'optuna.journal'


class _OptunaSpace:
    """Optuna's define-by-run space of a sweep: the variant (when there are several) and the
    axes; returns the constants of every trial. A class of an importable module, not a closure:
    Tune saves the searcher with the standard pickle (OptunaSearch.save)."""

    def __init__(self, space):
        self.variants, self.axes = list(space.variants), dict(space.axes)

    def __call__(self, trial):
        if len(self.variants) > 1:
            trial.suggest_categorical('variant', self.variants)
        for name, axis in self.axes.items():
            if axis.values is not None:
                trial.suggest_categorical(name, list(axis.values))
            elif axis.integer:
                trial.suggest_int(name, int(axis.low), int(axis.high), log=axis.log)
            else:
                trial.suggest_float(name, axis.low, axis.high, log=axis.log)
        return {'seed': 0, **({} if len(self.variants) > 1 else {'variant': self.variants[0]})}


class _SweepJournal:
    """The sweep's Optuna journal, <sweep>/optuna.journal: Optuna's JournalFileBackend with the
    O_EXCL lock file (JournalFileOpenLock, safe on NFSv3 and later), opened (and the file
    created) on first use. Tune pickles it with the searcher; unpickled in a driver that runs a
    sweep (`folder`, set by run() and _searcher), it is that sweep folder's journal: a restored
    searcher of a moved sweep folder writes the journal there, never at the old path."""
    folder = None

    def __init__(self, path):
        self.path, self._backend = path, None

    def _file(self):
        if self._backend is None:
            from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
            self._backend = JournalFileBackend(self.path,
                                               lock_obj=JournalFileOpenLock(self.path))
        return self._backend

    def read_logs(self, log_number_from):
        return self._file().read_logs(log_number_from)

    def append_logs(self, logs):
        self._file().append_logs(logs)

    def __getstate__(self):
        return {'path': self.path}

    def __setstate__(self, state):
        folder = type(self).folder or osp.dirname(state['path'])
        self.path, self._backend = osp.join(folder, osp.basename(state['path'])), None


def _searcher(plan, persist=False):
    """The search algorithm and Tune's param_space. Optuna's study is named after the sweep and
    kept, with persist, in <sweep>/optuna.journal (run() builds it so; the Plan, also for
    --dry-run, builds it in memory, so nothing is written). Tuner.restore brings the searcher
    back with its storage: a resumed sweep goes on in the same study."""
    from ray import tune
    space = plan.space
    if plan.search != 'optuna':
        if plan.scheduler == 'pbt' and plan.search == 'grid' and space.axes:
            # PBT mutates top-level keys: the axes go there (the same grid, as a product)
            base = [dict(t, params={}) for t in plan.trials
                    if all(t['params'][n] == space.axes[n].grid(n)[0] for n in space.axes)]
            return None, {'trial': tune.grid_search(base),
                          **{n: tune.grid_search(a.grid(n)) for n, a in space.axes.items()}}
        return None, {'trial': tune.grid_search(plan.trials)}
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    # by their module's name, also when this file runs as __main__, so pickles of the searcher
    # (tuner.pkl, searcher-state) load in any process
    from sweeps.run import _OptunaSpace, _SweepJournal

    if space.objectives:
        metric = [m for m, _ in space.objectives]
        mode = [m for _, m in space.objectives]
    else:
        metric, mode = space.metric, space.mode
    storage = None
    if persist:
        _SweepJournal.folder = plan.sweep_dir
        storage = optuna.storages.JournalStorage(
            _SweepJournal(osp.join(plan.sweep_dir, JOURNAL_FILE)))
    searcher = OptunaSearch(space=_OptunaSpace(space), metric=metric, mode=mode,
                            sampler=optuna.samplers.TPESampler(seed=0), storage=storage,
                            study_name=plan.name)
    return searcher, {}


def _scheduler(plan):
    """The Tune scheduler, built (and so checked) before anything runs. ASHA's rungs count
    reports: every trial reports at each evaluation (selection rounds or eval_iters) and at
    the end."""
    from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining
    if plan.scheduler == 'asha':
        if plan.space.objectives:
            raise SweepError('--scheduler asha needs one metric; this space optimises several '
                             '(use fifo)')
        if plan.reports < 2:
            raise SweepError(f'--scheduler asha needs trials that report more than once; the '
                             f'trials of {plan.space.name} report {plan.reports} time(s)')
        return ASHAScheduler(time_attr='training_iteration', max_t=plan.reports,
                             grace_period=min(2, plan.reports), reduction_factor=2)
    if plan.scheduler == 'pbt':
        from ray import tune
        if plan.search != 'grid':
            raise SweepError(f'--scheduler pbt needs --search grid (Ray Tune runs no search '
                             f'algorithm with PopulationBasedTraining), got {plan.search!r}')
        mutations = {n: (list(a.values) if a.values is not None else tune.uniform(a.low, a.high))
                     for n, a in plan.space.axes.items()}
        if not mutations:
            raise SweepError('--scheduler pbt needs a space with axes to mutate')
        if plan.space.objectives:
            raise SweepError('--scheduler pbt needs one metric; this space optimises several '
                             '(use fifo)')
        return PopulationBasedTraining(time_attr='training_iteration', perturbation_interval=1,
                                       hyperparam_mutations=mutations)
    return None


# what --resume-anyway can change in a resumed sweep: the config of the trials that have not
# finished (the trainable builds it from this driver's plan); `variants` only in their configs
# and knobs, not in which variants there are. Anything else (trials, search, scheduler,
# resources, metric) is kept by Tuner.restore, so a change to it is refused (never recorded).
RESUMABLE_CHANGES = ('configs', 'sets', 'data', 'variants')


class SweepFolder:
    """The sweep folder's ownership: one driver at a time (a lock held while it runs) and one
    plan (plan.json, fingerprinted on the first run; history.jsonl says what ran when)."""

    def __init__(self, plan):
        self.plan, self.dir = plan, plan.sweep_dir
        self.lock = None
        self.created = False  # this driver made the folder (see abandon)

    def acquire(self):
        """The lock first, then everything else: the folder is made (or found) and locked here,
        and `created` says whether this driver made it."""
        os.makedirs(osp.dirname(self.dir), exist_ok=True)
        for _ in range(3):  # the folder may vanish in between: a refused driver that made it
            try:
                os.mkdir(self.dir)
                self.created = True
            except FileExistsError:
                self.created = False
            try:
                lock = open(osp.join(self.dir, LOCK_FILE), 'a+')
                break
            except FileNotFoundError:
                continue
        else:
            raise SweepError(f'sweep folder {self.dir} keeps vanishing (another driver removes '
                             'it); use another --name')
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            holder = lock.read().strip() or 'another process'
            lock.close()
            raise SweepError(f'sweep folder {self.dir} is in use by another driver ({holder}); '
                             'wait for it to finish or use another --name') from None
        self.lock = lock
        self.lock.seek(0)
        self.lock.truncate()
        self.lock.write(f'pid {os.getpid()} on {socket.gethostname()} since '
                        f'{time.strftime("%Y-%m-%d %H:%M:%S")}\n')
        self.lock.flush()

    def abandon(self):
        """What a refused new sweep leaves: nothing. Its folder is removed only if this driver
        made it, holds its lock and recorded no plan in it; never a folder another driver made
        or holds."""
        if self.created and self.lock is not None and \
                not osp.isfile(osp.join(self.dir, PLAN_FILE)):
            import shutil
            shutil.rmtree(self.dir, ignore_errors=True)

    def check_plan(self, resuming):
        """Compare with the first run's plan; returns the differences accepted with
        --resume-anyway (empty when the plans match or this is the first run)."""
        path = osp.join(self.dir, PLAN_FILE)
        current = self.plan.fingerprint()
        trials = osp.join(self.dir, 'trials')
        has_results = osp.isdir(trials) and any(n.endswith('.parquet') for n in os.listdir(trials))
        if not osp.isfile(path):
            if not (has_results or resuming):
                return {}
            if not self.plan.args.resume_anyway:
                raise SweepError(f'sweep folder {self.dir} has results but no {PLAN_FILE} (an '
                                 'older adasweep made it): --resume-anyway adopts it with this '
                                 'plan, or use another --name')
            return {'plan': (None, 'adopted')}
        if has_results and not resuming:
            raise SweepError(f'sweep folder {self.dir} has results but its Tune state '
                             f'({osp.join(self.dir, "tune")}) is missing or unreadable, so a '
                             'rerun would start its trials again beside them; use another '
                             '--name')
        with open(path) as f:
            first = json.load(f)['fingerprint']
        # a key the first run did not record (an older adasweep) is not compared
        diff = {k: (first[k], current.get(k)) for k in sorted(first) if first[k] != current.get(k)}

        def what(keys):
            def short(value):
                text = json.dumps(value, default=str, ensure_ascii=False)
                return text if len(text) <= 60 else text[:57] + '...'
            return '; '.join(f'{k}: {short(diff[k][0])} -> {short(diff[k][1])}' for k in keys)
        fixed = [k for k in diff if k not in RESUMABLE_CHANGES or (
            k == 'variants' and sorted(diff[k][0] or ()) != sorted(diff[k][1] or ()))]
        if diff and not self.plan.args.resume_anyway:
            raise SweepError(f'sweep {self.plan.name} was started with another plan '
                             f'({what(diff)}); use another --name for a new sweep' +
                             ('' if fixed and resuming else
                              ', or --resume-anyway to go on with this plan'))
        if fixed and resuming:
            raise SweepError(f'--resume-anyway cannot change what sweep {self.plan.name} runs '
                             f'({what(fixed)}): a resumed sweep runs the trials, search, '
                             'scheduler and resources of its first plan (Tune restores them); '
                             'use another --name for this plan')
        return diff

    def record(self, event, **info):
        """plan.json (the current plan) and one line of history.jsonl."""
        from sweeps.parquet_callback import _write_json
        plan = self.plan
        tune_settings = dict(max_failures=plan.args.max_failures,
                             max_concurrent=plan.args.max_concurrent)
        _write_json(osp.join(self.dir, PLAN_FILE), dict(
            fingerprint=plan.fingerprint(), tune=tune_settings, git_rev=git_rev()))
        line = dict(event=event, time=time.strftime('%Y-%m-%dT%H:%M:%S%z'), git_rev=git_rev(),
                    host=socket.gethostname(), argv=mask_secrets(sys.argv[1:]), **info)
        with open(osp.join(self.dir, HISTORY_FILE), 'a') as f:
            f.write(json.dumps(line, default=str) + '\n')
            f.flush()
            os.fsync(f.fileno())

    def tune_settings(self):
        path = osp.join(self.dir, PLAN_FILE)
        if not osp.isfile(path):
            return None
        with open(path) as f:
            return json.load(f).get('tune')


def connect_ray(plan):
    import ray

    from sweeps import ray_env
    if plan.args.address:
        ray_env.connect(plan.args.address, log_to_driver=False)
    else:
        # the trials import what the driver can: the project, then the driver's PYTHONPATH
        # (a space's own strategies, `Space.imports`)
        path = os.pathsep.join(p for p in (REPO, os.environ.get('PYTHONPATH')) if p)
        ray_env.init_local(log_to_driver=False, runtime_env={'env_vars': {'PYTHONPATH': path}})
    return ray


def check_nodes(plan):
    """Every alive node that can run a trial holds the data roots the trials read, and can
    write the storage folder; one line naming the node and the path otherwise."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    need = set()
    for cfg in plan.configs.values():
        need.update(data_roots(cfg))
    cpus, gpus = plan.args.cpus_per_trial, plan.args.gpus_per_trial
    nodes = [n for n in ray.nodes() if n.get('Alive') and
             n['Resources'].get('CPU', 0) >= cpus and n['Resources'].get('GPU', 0) >= gpus]
    if not nodes:
        raise SweepError(f'no node of the cluster has {cpus:g} CPU and {gpus:g} GPU for a trial')
    probe = ray.remote(num_cpus=0)(_missing_paths)
    refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        n['NodeID'], soft=False)).remote(sorted(need), plan.storage) for n in nodes]
    for node, (host, missing) in zip(nodes, ray.get(refs)):
        if missing:
            raise SweepError(f'node {node["NodeID"][:12]} ({host}, {node["NodeManagerAddress"]}) '
                             f'lacks {missing[0]}' + (f' and {len(missing) - 1} more path(s)'
                                                      if len(missing) > 1 else ''))
    return len(nodes)


def _missing_paths(paths, storage):
    missing = [p for p in paths if not osp.isdir(p) or not os.listdir(p)]
    if not (osp.isdir(storage) and os.access(storage, os.W_OK)):
        missing.append(f'{storage} (writable --storage)')
    return socket.gethostname(), missing


def run(plan, folder):
    from ray import tune

    from sweeps.parquet_callback import ParquetResultsCallback
    from sweeps.results import TrialResultWriter
    from sweeps.progress import tune_trial_dirname, tune_trial_name
    from sweeps.trainable import run_trial

    # the console is ours (sweeps/progress.py): Tune's legacy output engine at verbose=0 prints
    # nothing (the new one prints its configuration box at any verbosity)
    os.environ['RAY_AIR_NEW_OUTPUT'] = '0'
    os.environ.setdefault('TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S', '0')
    os.environ.setdefault('TUNE_DISABLE_AUTO_CALLBACK_LOGGERS', '1')
    # a failed trial is one line of ours (name and reason); the traceback is in its error.txt
    os.environ.setdefault('TUNE_PRINT_ALL_TRIAL_ERRORS', '0')
    tune_dir = osp.join(plan.sweep_dir, 'tune')
    resuming = tune.Tuner.can_restore(tune_dir)
    diff = folder.check_plan(resuming)
    connect_ray(plan)
    nodes = check_nodes(plan)
    say(plan.args, f'{nodes} node(s) can run trials; data root {plan.data_root} checked on each')
    for cfg in plan.warmups.values():
        ensure_warmup(cfg, plan.storage, plan.data_root, cpus=plan.args.cpus_per_trial,
                      gpus=plan.args.gpus_per_trial, log=lambda text, **_: say(plan.args, text))
    resources = {'cpu': plan.args.cpus_per_trial, 'gpu': plan.args.gpus_per_trial}
    trainable = tune.with_resources(tune.with_parameters(run_trial, context=plan.context()),
                                    resources)
    metric = None if plan.space.objectives else plan.space.metric
    mode = None if plan.space.objectives else plan.space.mode
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback
    callbacks = [ParquetResultsCallback(plan.sweep_dir, plan.name, plan.space.name,
                                        plan.benchmark, git_rev(),
                                        {n: dict(v.knobs) for n, v in
                                         plan.space.variants.items()}),
                 JsonLoggerCallback(), CSVLoggerCallback(), _driver_callbacks(plan)]
    from sweeps.run import _SweepJournal
    _SweepJournal.folder = plan.sweep_dir  # where a restored Optuna searcher's journal is
    if resuming:
        say(plan.args, f'resuming sweep {plan.name} from {tune_dir}')
        try:
            tuner = tune.Tuner.restore(tune_dir, trainable=trainable, resume_errored=True)
        except Exception as err:  # noqa: BLE001
            raise SweepError(f'cannot resume sweep {plan.name} from {tune_dir}: '
                             f'{str(err).strip().splitlines()[-1][:300]}; use another --name '
                             'for a new sweep') from err
        _record(plan, folder, resuming, diff)  # the plan that runs: restored, so applicable
    else:
        _record(plan, folder, resuming, diff)  # first, so tune/ never exists without plan.json
        searcher, _ = _searcher(plan, persist=True)  # Optuna's study: <sweep>/optuna.journal
        tuner = tune.Tuner(
            trainable, param_space=plan.param_space,
            tune_config=tune.TuneConfig(
                metric=metric, mode=mode, search_alg=searcher, scheduler=plan.tune_scheduler,
                num_samples=plan.num_samples if plan.search == 'optuna' else 1,
                max_concurrent_trials=plan.args.max_concurrent or None,
                trial_name_creator=tune_trial_name, trial_dirname_creator=tune_trial_dirname,
                # a finished trial's worker process (torch, mmseg imported) runs the next one
                reuse_actors=True),
            run_config=tune.RunConfig(
                name='tune', storage_path=plan.sweep_dir, verbose=0, callbacks=callbacks,
                failure_config=tune.FailureConfig(max_failures=plan.args.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2)))
    tuner.fit()
    try:
        return TrialResultWriter(plan.sweep_dir).compact()
    except ValueError as err:  # never replaced: it may hold rows no trial file has any more
        raise SweepError(f'{err}; it is kept as it is: move it away to rebuild it from the '
                         'trial files') from err


def _record(plan, folder, resuming, diff):
    """sweep.json, configs.json and plan.json of the plan that runs, and its history line."""
    from sweeps.parquet_callback import write_space_record, write_sweep_snapshot
    if not resuming or diff or not osp.isfile(osp.join(plan.sweep_dir, SPACE_RECORD)):
        write_space_record(plan.sweep_dir, plan.space)  # what the report reads of the space
    if not resuming or diff:
        write_sweep_snapshot(plan.sweep_dir, dict(
            name=plan.name, space=plan.space.name, benchmark=plan.benchmark, search=plan.search,
            scheduler=plan.scheduler, variants=list(plan.space.variants), sets=plan.sets,
            git_rev=git_rev()), plan.configs)
    if not resuming:
        folder.record('start')
    elif diff:
        folder.record('resume-anyway', changed={k: dict(was=a, now=b) for k, (a, b) in
                                                diff.items()})
    else:
        settings = folder.tune_settings() or {}
        for key in ('max_failures', 'max_concurrent'):
            if key in settings and settings[key] != getattr(plan.args, key):
                print(f'note: --{key.replace("_", "-")} {getattr(plan.args, key)} differs from '
                      f'the first run\'s {settings[key]}; a resumed sweep keeps the first run\'s',
                      flush=True)
        folder.record('resume')


def _driver_callbacks(plan):
    """The console progress and the trackers of this command (sweeps/progress.py
    SweepCallbacks: a resumed sweep uses these, not the first run's)."""
    from sweeps.progress import ConsoleProgress, SweepCallbacks
    callbacks = [ConsoleProgress(quiet=plan.args.quiet,
                                 interval=float(os.environ.get('ADASWEEP_PROGRESS_SECONDS', 60)))]
    if 'mlflow' in plan.trackers:
        from sweeps.tracking import mlflow_callback
        callbacks.append(mlflow_callback(plan.tracking_uri, plan.name, plan.space.name,
                                         plan.benchmark, git_rev(),
                                         {n: dict(v.knobs) for n, v in
                                          plan.space.variants.items()}))
    return SweepCallbacks(callbacks)


def report(plan, table):
    """The final table: every trial (status, round, labelled %, mIoU, time) and the reasons of
    the failed ones, the space's own table, and the best variant in words."""
    from sweeps import tables
    from sweeps.progress import best_summary, final_rows, format_table
    rows, errors = final_rows(table, list(plan.space.variants))
    print(f'\n{len(rows)} trials, {table.num_rows} result rows in '
          f'{plan.sweep_dir}/results.parquet; TensorBoard: tensorboard --logdir '
          f'{plan.sweep_dir}')
    print(format_table(rows))
    for name, reason in errors:
        print(f'error in {name}: {reason}')
    print()
    try:
        text, _ = tables.build_table(plan.sweep_dir, table=plan.space.table,
                                     param=plan.space.table_param, rounds=plan.space.table_rounds)
    except ValueError as err:  # e.g. trials that errored before the space's table rounds
        text = f'(no {plan.space.table} table: {err})'
    print(text)
    if plan.space.objectives:
        print('\nPareto front (final evaluations):')
        print(tables.format_table(pareto_front(table, plan.space.objectives), 'markdown'))
    metric, mode = (plan.space.objectives[0] if plan.space.objectives else
                    (plan.space.metric, plan.space.mode))
    summary = best_summary(table, metric, mode)
    if summary:
        print(f'\n{summary}')


def pareto_front(table, objectives):
    df = table.to_pandas()
    df = df[df['is_final'] & (df['status'] == 'ok')]
    keep = []
    for i, row in df.iterrows():
        dominated = False
        for j, other in df.iterrows():
            better_or_equal = all((other[m] >= row[m]) if mode == 'max' else (other[m] <= row[m])
                                  for m, mode in objectives)
            strictly = any((other[m] > row[m]) if mode == 'max' else (other[m] < row[m])
                           for m, mode in objectives)
            if i != j and better_or_equal and strictly:
                dominated = True
                break
        if not dominated:
            keep.append(i)
    cols = ['variant', 'trial_id'] + [m for m, _ in objectives] + \
        [c for c in df.columns if c.startswith('param_')]
    return df.loc[keep, cols].sort_values(objectives[0][0], ascending=False).set_index('trial_id')


def _error(err):
    text = ' '.join(str(mask_secrets(str(err))).split())
    print(f'error: {text}', file=sys.stderr)
    return 2


def main(argv=None):
    args = parse_args(argv)
    if args.list_spaces:
        for name in known_spaces():
            print(f'{name:<22} {load_space(name).description.strip().splitlines()[0]}')
        return 0
    if not args.space:
        return _error('--space is required (see --list-spaces)')
    try:
        plan = Plan(args)
    except (SweepError, ValueError, OSError) as err:
        return _error(err)
    if args.dry_run and osp.isdir(plan.sweep_dir):  # what a real run checks next, read-only
        from ray import tune
        try:
            SweepFolder(plan).check_plan(tune.Tuner.can_restore(osp.join(plan.sweep_dir,
                                                                          'tune')))
        except SweepError as err:
            return _error(err)
    if args.dry_run or not args.quiet:
        print(plan.describe(), flush=True)
        for path, cfg in plan.warmups.items():
            state = 'trained' if os.path.isfile(path) else 'to train once'
            print(f'warm-up {cfg.warmup_config}: {path} ({state})', flush=True)
    if args.dry_run:
        return 0
    folder = SweepFolder(plan)
    try:
        folder.acquire()
        table = run(plan, folder)
    except SweepError as err:
        folder.abandon()
        return _error(err)
    report(plan, table)
    return 0


if __name__ == '__main__':
    sys.exit(main())
