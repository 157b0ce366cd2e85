"""Sweep throughput on this machine (not a test; prints ratios measured in one run).

1. Parallel efficiency: trials of a space through Ray with 2 concurrent trials (1 CPU and torch
   thread each) vs the same trials one after another in one process, (a) with the same per-trial
   resources (1 torch thread: the parallel-efficiency baseline; required: speed-up >= 1.6x on
   the 2-core machine) and (b) with torch using every core (what one process gets by default).
2. Per-trial overhead: (concurrency x the time trials were running - the trials' training-loop
   time) / training-loop time. Trials are running from the first trial's Runner construction to
   the last report; loop times are what the trials report (`train_seconds`: selection and
   evaluations included). So it counts Ray scheduling, worker reuse, Runner construction,
   checkpoints and reporting, and idle slots, but not the one-off driver and Ray start-up, which
   is printed separately (sweep-level overhead). Required: <= 10% on the default space.

    python benchmarks/bench_sweep.py [--space ripu_ablation] [--trials 4] [--iters N]
    python benchmarks/bench_sweep.py --overhead-of results/ripu_ablation_synthshift
        (the per-trial overhead of a finished sweep, e.g. the 24 trials of `make sweep`)
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

import pandas as pd

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)


def bench_space(space, trials, iters):
    knobs = f'dict(base.variants[n].knobs, max_iters={iters})' if iters else \
        'base.variants[n].knobs'
    text = f'''"""Benchmark subset of {space}."""
from sweeps.space import Space, Variant
from sweeps.spaces import load_space
base = load_space({space!r})
names = list(base.variants)[:{trials}]
SPACE = Space(name='bench', description=__doc__, seeds=1,
              variants={{n: Variant(base.variants[n].config, {knobs}) for n in names}})
'''
    path = osp.join(tempfile.mkdtemp(prefix='bench_space_'), 'bench_space.py')
    with open(path, 'w') as f:
        f.write(text)
    return path


def serial(space_path, work, threads):
    """The same trials in this process, one after another; returns (wall, train-loop seconds)."""
    import torch
    torch.set_num_threads(threads)
    import mmseg_ext  # noqa: F401
    from mmengine.hooks import Hook
    from mmseg.registry import RUNNERS
    from mmseg.utils import register_all_modules

    from sweeps.spaces import load_space
    from sweeps.trainable import eval_iters
    from sweeps.trial_config import build_trial_config
    register_all_modules(init_default_scope=False)
    space = load_space(space_path)
    loop_seconds = [0.0]

    class LoopTimer(Hook):
        def before_train(self, runner):
            self.t = time.perf_counter()

        def after_train(self, runner):
            loop_seconds[0] += time.perf_counter() - self.t

    start = time.perf_counter()
    for trial in space.grid_trials(1):
        cfg, _ = build_trial_config(space, 'synthshift', trial['variant'], trial['params'], 0,
                                    work_dir=osp.join(work, trial['variant']))
        cfg.log_level = 'WARNING'
        cfg.default_hooks.logger.interval = 10 ** 9
        for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[name].num_workers = 0
            cfg[name].persistent_workers = False
        cfg.custom_hooks = [*(cfg.get('custom_hooks') or []),
                            dict(type='TuneEvalHook', eval_iters=eval_iters(cfg)),
                            dict(type='TuneReportHook', eval_iters=eval_iters(cfg), report=False)]
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else RUNNERS.build(
            dict(cfg.to_dict(), runner_type='Runner'))
        runner.register_hook(LoopTimer(), 'VERY_LOW')
        runner.train()
    return time.perf_counter() - start, loop_seconds[0]


def parallel(space_path, storage):
    start = time.perf_counter()
    out = subprocess.run([sys.executable, osp.join(REPO, 'sweeps', 'run.py'), '--space',
                          space_path, '--storage', storage, '--name', 'bench',
                          '--max-concurrent', '2', '--cpus-per-trial', '1'],
                         cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f'sweep failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}')
    import pyarrow.parquet as pq
    rows = pq.read_table(osp.join(storage, 'bench', 'results.parquet')).to_pandas()
    return wall, rows


def trial_overhead(rows, concurrency=2):
    """(per-trial overhead, seconds trials were running, summed loop seconds) of a sweep's rows."""
    ok = rows[rows.status == 'ok']
    first = ok.sort_values('reported_at').groupby('trial_id').head(1)
    start = (first.reported_at - first.wall_seconds.map(lambda s: pd.Timedelta(seconds=s))).min()
    running = (ok.reported_at.max() - start).total_seconds()
    train = ok[ok.is_final].train_seconds.sum()
    return (concurrency * running - train) / train, running, train


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--overhead-of', metavar='SWEEP_DIR',
                   help='only print the per-trial overhead of a finished sweep')
    p.add_argument('--concurrency', type=int, default=2)
    p.add_argument('--space', default='ripu_ablation')
    p.add_argument('--trials', type=int, default=4)
    p.add_argument('--iters', type=int, default=None,
                   help="max_iters of every trial (default: the space's own schedule)")
    args = p.parse_args()
    if args.overhead_of:
        import pyarrow.parquet as pq
        rows = pq.read_table(osp.join(args.overhead_of, 'results.parquet')).to_pandas()
        overhead, running, train = trial_overhead(rows, args.concurrency)
        print(f'{rows.is_final.sum()} trials in {args.overhead_of}: running {running:.1f} s x '
              f'{args.concurrency} vs training loops {train:.1f} s -> per-trial overhead '
              f'{overhead:.1%} (required <= 10%)')
        return
    space_path = bench_space(args.space, args.trials, args.iters)
    work = tempfile.mkdtemp(prefix='bench_sweep_')
    cores = os.cpu_count() or 1
    try:
        t_par, rows = parallel(space_path, osp.join(work, 'results'))
        t_ser1, loop1 = serial(space_path, osp.join(work, 'serial1'), 1)
        t_ser, loop = serial(space_path, osp.join(work, 'serial'), cores)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    finals = rows[rows.is_final]
    print(f'{len(finals)} trials of {args.space} '
          f'({args.iters or "default"} iterations each), {cores} CPUs')
    print(f'[1] Ray, 2 concurrent trials (1 thread each): {t_par:.1f} s, incl. ray start')
    print(f'    (a) one after another in one process, 1 torch thread: {t_ser1:.1f} s -> '
          f'speed-up {t_ser1 / t_par:.2f}x (required >= 1.6x)')
    print(f'    (b) one after another in one process, {cores} torch threads: {t_ser:.1f} s -> '
          f'speed-up {t_ser / t_par:.2f}x')
    overhead, running, train = trial_overhead(rows, 2)
    print(f'[2] training loops inside Ray {train:.1f} s (serial, 1 thread: {loop1:.1f} s); '
          f'trials running {running:.1f} s x 2 = {2 * running:.1f} s')
    print(f'    per-trial overhead (scheduling, worker reuse, Runner construction, checkpoints, '
          f'reporting, idle slots) {overhead:.1%} of the training loops (required <= 10%)')
    print(f'    sweep-level overhead (plus driver and Ray start-up, compaction) '
          f'{(2 * t_par - train) / train:.1%}')


if __name__ == '__main__':
    main()
