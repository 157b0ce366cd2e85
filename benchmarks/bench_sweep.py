"""Sweep throughput on this machine (not a test; prints ratios measured in one run).

1. Parallel efficiency: trials of a space through Ray with 2 concurrent trials (1 CPU and torch
   thread each) vs the same trials one after another in one process (torch with all cores).
   Required: speed-up >= 1.6x on the 2-core machine.
2. Per-trial overhead: (sweep wall time x concurrency - sum of the trials' training-loop time) /
   training-loop time, i.e. Ray scheduling + Runner construction + reporting and checkpoints
   against training (selection and evaluations count as training). Required: <= 10%.

    python benchmarks/bench_sweep.py [--space ripu_ablation] [--trials 4] [--iters 300]
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)


def bench_space(space, trials, iters):
    text = f'''"""Benchmark subset of {space}."""
from sweeps.space import Space, Variant
from sweeps.spaces import load_space
base = load_space({space!r})
names = list(base.variants)[:{trials}]
SPACE = Space(name='bench', description=__doc__, seeds=1,
              variants={{n: Variant(base.variants[n].config,
                                     dict(base.variants[n].knobs, max_iters={iters}))
                         for n in names}})
'''
    path = osp.join(tempfile.mkdtemp(prefix='bench_space_'), 'bench_space.py')
    with open(path, 'w') as f:
        f.write(text)
    return path


def serial(space_path, work):
    """The same trials in this process, one after another; returns (wall, train-loop seconds)."""
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--space', default='ripu_ablation')
    p.add_argument('--trials', type=int, default=4)
    p.add_argument('--iters', type=int, default=300)
    args = p.parse_args()
    space_path = bench_space(args.space, args.trials, args.iters)
    work = tempfile.mkdtemp(prefix='bench_sweep_')
    try:
        t_par, rows = parallel(space_path, osp.join(work, 'results'))
        t_ser, loop = serial(space_path, osp.join(work, 'serial'))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    finals = rows[rows.is_final]
    print(f'{len(finals)} trials of {args.space} ({args.iters} iterations each), '
          f'{os.cpu_count()} CPUs')
    print(f'[1] serial in one process {t_ser:.1f} s; Ray, 2 concurrent {t_par:.1f} s '
          f'(incl. ray start) -> speed-up {t_ser / t_par:.2f}x (required >= 1.6x)')
    trial_wall = finals.wall_seconds.sum()
    print(f'[2] training loops (serial run) {loop:.1f} s; trials measured inside Ray '
          f'{trial_wall:.1f} s; sweep wall x 2 = {2 * t_par:.1f} s')
    overhead = (2 * t_par - trial_wall) / trial_wall
    print(f'    per-trial overhead (Ray start, scheduling, Runner construction, reporting) '
          f'{overhead:.1%} of the trials\' time (required <= 10%)')


if __name__ == '__main__':
    main()
