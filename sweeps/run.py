"""Run a sweep space with Ray Tune: on this machine (local Ray) or on a Ray cluster.

    python sweeps/run.py --space ripu_ablation                 # SynthShift, local Ray, 3 seeds
    python sweeps/run.py --list-spaces
    python sweeps/run.py --space ripu_ablation --benchmark gta5_to_cityscapes --address auto \\
        --gpus-per-trial 1
Rerunning the same command (same --name and --storage) resumes the sweep.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sweeps.space import BENCHMARKS, SCHEDULERS, SEARCHES, sample_axis  # noqa: E402
from sweeps.spaces import known_spaces, load_space  # noqa: E402
from sweeps.trial_config import (REPO, SweepError, active_hook, build_trial_config,  # noqa: E402
                                 parse_sets)
from sweeps.warmup import ensure_warmup, warmup_checkpoint  # noqa: E402


def check_trial_config(cfg):
    """What fails at build time in a trial fails here instead: strategy, budget, schedule, and
    the arguments of a model that can check them unbuilt (ADAMCUSegmentor.check_args)."""
    import mmseg_ext  # noqa: F401
    from mmseg.registry import HOOKS, MODELS
    model_cls = MODELS.get(cfg.model.get('type'))
    if hasattr(model_cls, 'check_args'):
        model_cls.check_args(**cfg.model)
    hook = active_hook(cfg)
    if hook is None:
        return
    HOOKS.build(dict(hook)).check_schedule(cfg.train_cfg.max_iters)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Run a sweep space with Ray Tune (see README).')
    p.add_argument('--space', help='a space name (--list-spaces) or a path to a space file')
    p.add_argument('--list-spaces', action='store_true', help='list the known spaces and exit')
    p.add_argument('--benchmark', default='synthshift', help=f'one of {", ".join(BENCHMARKS)}')
    p.add_argument('--seeds', type=int, help='seeds per variant (default: the space\'s)')
    p.add_argument('--search', help=f'one of {", ".join(SEARCHES)} (default: the space\'s)')
    p.add_argument('--num-samples', type=int, help='trials for random/optuna search')
    p.add_argument('--scheduler', help=f'one of {", ".join(SCHEDULERS)} (default: the space\'s)')
    p.add_argument('--address', help='Ray cluster address (auto, ray://host:port); default: a '
                   'local Ray instance on this machine')
    p.add_argument('--gpus-per-trial', type=float, default=0)
    p.add_argument('--cpus-per-trial', type=float, default=1)
    p.add_argument('--max-concurrent', type=int, default=0, help='0: as many as resources allow')
    p.add_argument('--max-failures', type=int, default=1, help='retries of a failed trial')
    p.add_argument('--storage', default='results', help='results root (every node must reach it)')
    p.add_argument('--name', help='sweep name (default: <space>_<benchmark>)')
    p.add_argument('--set', dest='sets', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override mmengine config keys of every trial')
    p.add_argument('--dry-run', action='store_true', help='print the trials and exit')
    return p.parse_args(argv)


def git_rev():
    try:
        return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, text=True,
                              capture_output=True, timeout=10).stdout.strip() or 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


class Plan:
    """Everything a sweep needs, validated before anything is started or written."""

    def __init__(self, args):
        if args.benchmark not in BENCHMARKS:
            raise SweepError(f'unknown benchmark {args.benchmark!r}; known: {", ".join(BENCHMARKS)}')
        self.space = load_space(args.space)
        self.search = args.search or self.space.search
        self.scheduler = args.scheduler or self.space.scheduler
        if self.search not in SEARCHES:
            raise SweepError(f'unknown search {self.search!r}; known: {", ".join(SEARCHES)}')
        if self.scheduler not in SCHEDULERS:
            raise SweepError(f'unknown scheduler {self.scheduler!r}; known: '
                             f'{", ".join(SCHEDULERS)}')
        self.seeds = args.seeds if args.seeds is not None else self.space.seeds
        self.num_samples = args.num_samples or self.space.num_samples
        if self.seeds < 1 or self.num_samples < 1:
            raise SweepError('--seeds and --num-samples must be >= 1')
        self.benchmark = args.benchmark
        self.sets = parse_sets(args.sets)
        self.name = args.name or f'{self.space.name}_{self.benchmark}'
        self.storage = osp.abspath(args.storage)
        self.sweep_dir = osp.join(self.storage, self.name)
        self.args = args
        self.trials = self._trials()
        # building every variant's config checks config files, knobs and --set keys/types
        self.configs, self.warmups = {}, {}
        for variant in self.space.variants:
            example = next((t for t in self.trials if t['variant'] == variant), None)
            knobs = dict(example['params']) if example else {}
            cfg, _ = build_trial_config(self.space, self.benchmark, variant, knobs, 0, self.sets,
                                        storage=self.storage)
            check_trial_config(cfg)
            if cfg.get('warmup_config') and cfg.get('load_from') == warmup_checkpoint(
                    cfg, self.storage):
                self.warmups.setdefault(cfg.load_from, cfg)
            self.configs[variant] = json.loads(json.dumps(cfg.to_dict(), default=str))

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
        return dict(space=self.args.space if osp.isfile(self.args.space or '') else
                    self.space.name, benchmark=self.benchmark, sets=self.sets,
                    sweep_dir=self.sweep_dir, cpus_per_trial=self.args.cpus_per_trial)

    def describe(self):
        lines = [f'sweep {self.name}: space {self.space.name} on {self.benchmark}, search '
                 f'{self.search}, scheduler {self.scheduler}, storage {self.sweep_dir}']
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


def _searcher(plan):
    from ray import tune
    space = plan.space
    if plan.search != 'optuna':
        return None, {'trial': tune.grid_search(plan.trials)}
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    def define(trial):
        if len(space.variants) > 1:
            trial.suggest_categorical('variant', list(space.variants))
        for name, axis in space.axes.items():
            if axis.values is not None:
                trial.suggest_categorical(name, list(axis.values))
            elif axis.integer:
                trial.suggest_int(name, int(axis.low), int(axis.high), log=axis.log)
            else:
                trial.suggest_float(name, axis.low, axis.high, log=axis.log)
        return {'seed': 0, **({} if len(space.variants) > 1 else
                              {'variant': next(iter(space.variants))})}

    if space.objectives:
        metric = [m for m, _ in space.objectives]
        mode = [m for _, m in space.objectives]
    else:
        metric, mode = space.metric, space.mode
    searcher = OptunaSearch(space=define, metric=metric, mode=mode,
                            sampler=optuna.samplers.TPESampler(seed=0))
    return searcher, {}


def _scheduler(plan):
    from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining
    rounds = max(len(c.get('custom_hooks', [{}])[0].get('select_iters', []) or [])
                 for c in plan.configs.values()) if plan.configs else 1
    if plan.scheduler == 'asha':
        return ASHAScheduler(time_attr='training_iteration', max_t=rounds + 1, grace_period=2,
                             reduction_factor=2)
    if plan.scheduler == 'pbt':
        from ray import tune
        mutations = {n: (list(a.values) if a.values is not None else tune.uniform(a.low, a.high))
                     for n, a in plan.space.axes.items()}
        if not mutations:
            raise SweepError('--scheduler pbt needs a space with axes to mutate')
        return PopulationBasedTraining(time_attr='training_iteration', perturbation_interval=1,
                                       hyperparam_mutations=mutations)
    return None


def run(plan):
    import ray
    from ray import tune

    from sweeps.parquet_callback import ParquetResultsCallback, write_sweep_snapshot
    from sweeps.results import TrialResultWriter
    from sweeps.trainable import run_trial

    os.environ.setdefault('RAY_AIR_NEW_OUTPUT', '1')
    os.environ.setdefault('TUNE_DISABLE_AUTO_CALLBACK_LOGGERS', '1')
    if plan.args.address:
        ray.init(address=plan.args.address, log_to_driver=False)
    else:
        env = {k: os.environ[k] for k in ('ADASWEEP_DATA',) if k in os.environ}
        ray.init(include_dashboard=False, log_to_driver=False,
                 runtime_env={'env_vars': {'PYTHONPATH': REPO, **env}})
    write_sweep_snapshot(plan.sweep_dir, dict(
        name=plan.name, space=plan.space.name, benchmark=plan.benchmark, search=plan.search,
        scheduler=plan.scheduler, variants=list(plan.space.variants), sets=plan.sets,
        git_rev=git_rev()), plan.configs)
    resources = {'cpu': plan.args.cpus_per_trial, 'gpu': plan.args.gpus_per_trial}
    trainable = tune.with_resources(tune.with_parameters(run_trial, context=plan.context()),
                                    resources)
    tune_dir = osp.join(plan.sweep_dir, 'tune')
    metric = None if plan.space.objectives else plan.space.metric
    mode = None if plan.space.objectives else plan.space.mode
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback
    callbacks = [ParquetResultsCallback(plan.sweep_dir, plan.name, plan.space.name,
                                        plan.benchmark, git_rev(), plan.configs,
                                        {n: dict(v.knobs) for n, v in
                                         plan.space.variants.items()}),
                 JsonLoggerCallback(), CSVLoggerCallback()]
    if tune.Tuner.can_restore(tune_dir):
        print(f'resuming sweep {plan.name} from {tune_dir}', flush=True)
        tuner = tune.Tuner.restore(tune_dir, trainable=trainable, resume_errored=True)
    else:
        searcher, param_space = _searcher(plan)
        tuner = tune.Tuner(
            trainable, param_space=param_space,
            tune_config=tune.TuneConfig(
                metric=metric, mode=mode, search_alg=searcher, scheduler=_scheduler(plan),
                num_samples=plan.num_samples if plan.search == 'optuna' else 1,
                max_concurrent_trials=plan.args.max_concurrent or None,
                # a finished trial's worker process (torch, mmseg imported) runs the next one
                reuse_actors=True),
            run_config=tune.RunConfig(
                name='tune', storage_path=plan.sweep_dir, verbose=1, callbacks=callbacks,
                failure_config=tune.FailureConfig(max_failures=plan.args.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2)))
    tuner.fit()
    table = TrialResultWriter(plan.sweep_dir).compact()
    return table


def report(plan, table):
    from sweeps import tables
    print(f'\n{table.num_rows} result rows in {plan.sweep_dir}/results.parquet')
    text, _ = tables.build_table(plan.sweep_dir, table=plan.space.table,
                                 param=plan.space.table_param, rounds=plan.space.table_rounds)
    print(text)
    if plan.space.objectives:
        print('\nPareto front (final evaluations):')
        print(tables.format_table(pareto_front(table, plan.space.objectives), 'markdown'))


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


def main(argv=None):
    args = parse_args(argv)
    if args.list_spaces:
        for name in known_spaces():
            print(f'{name:<22} {load_space(name).description.strip().splitlines()[0]}')
        return 0
    if not args.space:
        print('error: --space is required (see --list-spaces)', file=sys.stderr)
        return 2
    try:
        plan = Plan(args)
    except (SweepError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(plan.describe(), flush=True)
    for path, cfg in plan.warmups.items():
        state = 'trained' if os.path.isfile(path) else 'to train once'
        print(f'warm-up {cfg.warmup_config}: {path} ({state})', flush=True)
    if args.dry_run:
        return 0
    try:
        for cfg in plan.warmups.values():
            ensure_warmup(cfg, plan.storage)
    except SweepError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    report(plan, run(plan))
    return 0


if __name__ == '__main__':
    sys.exit(main())
