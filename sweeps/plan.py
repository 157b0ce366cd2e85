"""The plan of a sweep: everything it needs, validated before anything is started or written
(`Plan`), and its fingerprint (what makes its results; a rerun must match it)."""
import hashlib
import json
import os
import os.path as osp
import re

from .checks import (check_budget, check_knobs_apply, check_name, check_resources, check_storage,
                     check_trial_config)
from .common import SweepError, default_data_root, mask_secrets, say
from .storage import default_local_dir
from .paths import absolute_sets, data_identity, data_roots
from .search import scheduler, searcher
from .space import BENCHMARKS, SCHEDULERS, SEARCHES, sample_axis
from .spaces import load_space, space_file
from .config_sets import parse_sets
from .trial_config import build_trial_config, eval_iters, set_warmup_target, warmup_target
from .warmup import warmup_checkpoint


class Plan:
    """Everything a sweep needs, validated before anything is started or written."""

    def __init__(self, args, cwd=None):
        cwd = cwd or os.getcwd()
        if args.benchmark not in BENCHMARKS:
            raise SweepError(f'unknown benchmark {args.benchmark!r}; known: {", ".join(BENCHMARKS)}')
        check_resources(args)
        from .tracking import parse_tracking
        from .tracking_wandb import wandb_target
        self.trackers, self.tracking_uri = parse_tracking(getattr(args, 'tracking', None),
                                                          getattr(args, 'tracking_uri', None))
        self.wandb = wandb_target(self.trackers, getattr(args, 'wandb_project', None),
                                  getattr(args, 'wandb_entity', None))
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
        # the storage (a folder, or an object store: sweeps/storage.py), and the node-local
        # root of what is not on it: the trials' running work dirs and the warm-up cache (the
        # storage itself for a folder, as before; --local-dir for an object store)
        self.store = check_storage(args.storage, cwd)
        self.storage = self.store.uri()
        self.sweep = self.store.child(self.name)
        self.sweep_dir = self.sweep.uri()
        local_dir = getattr(args, 'local_dir', None)
        if self.store.local and local_dir:
            raise SweepError(f'--local-dir {local_dir}: only for an object-store --storage '
                             '(s3://...); a folder storage holds the work dirs itself')
        # --local-dir is one path on every node; without it, each node picks its own
        # (storage.default_local_dir, resolved where the trial runs: sweeps.trainable)
        self.local_dir = osp.abspath(osp.join(cwd, local_dir)) if local_dir else None
        self.local_root = self.storage if self.store.local else \
            self.local_dir or default_local_dir()
        self.work_root = osp.join(self.sweep_dir if self.store.local else
                                  osp.join(self.local_root, self.name), 'work')
        self.data_root = osp.abspath(osp.join(cwd, args.data_root)) if args.data_root else \
            default_data_root()
        self.args = args
        self.trials = self._trials()
        # building every variant's config checks config files, knobs and --set keys/types
        self.configs, self.warmups, self.reports = {}, {}, 1
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
        self.searcher, self.param_space = searcher(self)
        self.tune_scheduler = scheduler(self)
        for variant, cfg, _ in built:  # then what needs the data
            if self.benchmark == 'synthshift':
                self._ensure_synthshift(cfg)
            check_budget(cfg)
            if cfg.get('warmup_config'):
                path = warmup_checkpoint(cfg, self.local_root, self.data_root)
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
                    work_root=self.work_root, local_root=self.local_root,
                    local_dir=self.local_dir,
                    storage=self.storage, data_root=self.data_root, cpus_per_trial=self.args.cpus_per_trial,
                    warmups={cfg.warmup_config: path for path, cfg in self.warmups.items()})

    def fingerprint(self):
        """What makes results of this plan: a rerun must match it. Paths are excluded, so a
        moved storage or data folder still resumes; the data is in it by what it is
        (sweeps.paths.data_identity), and so are the metric, mode and objectives, which drive
        the scheduler and the searcher."""
        text = json.dumps(self.configs, sort_keys=True, default=str, ensure_ascii=False)
        marks = {self.sweep_dir: '<sweep>', self.storage: '<storage>', self.data_root: '<data>',
                 self.local_root: '<storage>'}
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
                 f'{self.search}, scheduler {self.scheduler}, storage {self.sweep}, data '
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
