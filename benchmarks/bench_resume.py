"""Resume cost: seconds from building the Runner of a resumed run to its first trained iteration,
resumed at an early and at a late iteration (not a test; issue 24 item 5).

    python benchmarks/bench_resume.py --tiny                 # SynthShift tiny model, seconds
    python benchmarks/bench_resume.py [--scale 0.25] [--early 10 --late 30000] [--workers 2]

Two ways to skip the batches a checkpoint has trained, in the same process under the same load:
- `seek` (ExactResumeIterBasedTrainLoop's default): the sampler starts at iteration * batch size;
  nothing before it is loaded.
- `replay` (the same loop with resumable_sampler=False, which is what mmengine's
  IterBasedTrainLoop does): every skipped batch is loaded. At a late iteration it is timed only
  when its estimate (the early replay's seconds per batch times the iterations) fits under
  --replay-cap; otherwise the row gives that estimate.
Each row is the fastest of --repeats resumes (default 3 with --tiny), after one untimed resume.

The resumed checkpoints come from one trained iteration, with their iteration rewritten to
--early / --late (the model, optimiser and RNG state are the same; only the position differs),
and each resumed run trains one iteration. --tiny: the tiny SynthShift model on a tiny generated
SynthShift (fully_supervised/synthshift.py, two domains); otherwise the real GTA5 -> Cityscapes
fully supervised config (DeepLab-v2 R101, random init, two domains, its own batch and pipeline)
on a synthetic release at --scale of the real sizes (mmseg_ext.tools.make_release), --workers
data-loader workers (persistent, as the configs). The load average is printed with the table.

`run(tiny) -> rows` (dicts with section/item/time/rate/note) is what bench_real_scale.py calls.
"""
import argparse
import copy
import gc
import os
import os.path as osp
import shutil
import sys
import tempfile
import time

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

TINY = dict(config='configs/fully_supervised/synthshift.py', early=2, late=400, workers=2)
REAL = dict(config='configs/fully_supervised/gta5_to_cityscapes.py', early=10, late=30000,
            workers=2)


def _first_iteration_hook():
    from mmengine.hooks import Hook

    class FirstIteration(Hook):
        """Records when the first iteration of this run has trained."""
        priority = 'VERY_LOW'

        def __init__(self):
            self.at = None

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if self.at is None:
                self.at = time.perf_counter()
    return FirstIteration()


def _tiny_cfg(tmp):
    from mmengine.config import Config

    from mmseg_ext.datasets import ensure_synthshift
    sizes = dict(num_source=48, num_target_train=24, num_target_val=12)
    root = ensure_synthshift(osp.join(tmp, 'synthshift'), progress=False, **sizes)
    cfg = Config.fromfile(osp.join(REPO, TINY['config']))

    def point(d):
        if isinstance(d, dict):
            if d.get('type') == 'SynthShiftDataset':
                d.update(data_root=str(root), generate=dict(sizes))
            for v in d.values():
                point(v)
        elif isinstance(d, (list, tuple)):
            for v in d:
                point(v)
    point(cfg._cfg_dict)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.log_level = 'WARNING'
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10 ** 6,
                                    log_metric_by_epoch=False)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
                                        interval=10 ** 9, save_last=False)
    return cfg


def _real_cfg(tmp, scale, workers):
    import importlib.util
    spec = importlib.util.spec_from_file_location('gpu_check', osp.join(HERE, 'gpu_check.py'))
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    from mmseg_ext.tools.make_release import make_release
    release = osp.join(tmp, 'release')
    make_release(release, images=4, val_images=2, datasets=('gta5', 'cityscapes'), scale=scale,
                 workers=os.cpu_count())
    args = argparse.Namespace(scale=scale, tiny=False, workers=workers)
    return gpu_check.prepare(REAL['config'], args, osp.join(tmp, 'prepare'), release, iters=1)


def _runner(cfg, work_dir, iters, resume_from=None, seek=True):
    from mmengine.runner import Runner
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.experiment_name = f'{osp.basename(work_dir)}-{time.time_ns()}'
    if cfg.get('visualizer'):
        cfg.visualizer['name'] = cfg.experiment_name
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.resumable_sampler = seek
    cfg.param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0,
                                end=10 ** 9, by_epoch=False)]
    cfg.load_from, cfg.resume = resume_from, resume_from is not None
    return Runner.from_cfg(cfg)


def _checkpoint_at(src, dst, iteration):
    """The checkpoint `src` (after 1 update) as if written after `iteration` updates."""
    import torch
    ckpt = torch.load(src, map_location='cpu', weights_only=False)
    ckpt['meta'].update(iter=iteration)
    ckpt['exact_resume']['iteration'] = iteration
    torch.save(ckpt, dst)


def time_to_first_iteration(cfg, tmp, name, checkpoint, iteration, seek):
    """Seconds from building the resumed Runner to its first trained iteration."""
    work_dir = osp.join(tmp, name)
    os.makedirs(work_dir)
    resume = osp.join(work_dir, 'resume.pth')
    _checkpoint_at(checkpoint, resume, iteration)
    start = time.perf_counter()
    runner = _runner(cfg, work_dir, iteration + 1, resume, seek)
    hook = _first_iteration_hook()
    runner.register_hook(hook)
    runner.train()
    if runner.iter != iteration + 1 or hook.at is None:
        raise RuntimeError(f'{name}: resumed at {iteration}, ended at {runner.iter}')
    seconds = hook.at - start
    del runner
    gc.collect()  # persistent workers of this run go
    shutil.rmtree(work_dir, ignore_errors=True)
    return seconds


def run(tiny=False, scale=None, early=None, late=None, workers=None, replay_cap=600.0,
        repeats=None, log=print):
    """The table's rows: seek and replay at the early and the late iteration, each the fastest
    of `repeats` resumes (default 3 with tiny, 1 otherwise), after one untimed resume."""
    import torch

    import mmseg_ext  # noqa: F401  (compat first)
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    spec = TINY if tiny else REAL
    early = spec['early'] if early is None else early
    late = spec['late'] if late is None else late
    workers = spec['workers'] if workers is None else workers
    repeats = (3 if tiny else 1) if repeats is None else repeats
    if not 0 < early < late:
        raise ValueError(f'bench_resume: early {early}, late {late}; expected 0 < early < late')
    if scale is None:
        scale = 1.0 if torch.cuda.is_available() else 0.5
    tmp = tempfile.mkdtemp(prefix='bench_resume-')
    try:
        cfg = _tiny_cfg(tmp) if tiny else _real_cfg(tmp, scale, workers)
        cfg.train_dataloader.num_workers = workers
        cfg.train_dataloader.persistent_workers = workers > 0
        first = _runner(cfg, osp.join(tmp, 'first'), 1)
        first.train()
        checkpoint = osp.join(tmp, 'first.pth')
        first.save_checkpoint(tmp, 'first.pth')
        del first
        batch = cfg.train_dataloader.batch_size
        what = ('tiny SynthShift' if tiny else f'{REAL["config"]} at scale {scale:g}') + \
            f', batch {batch}, {workers} workers'
        rows, times = [], {}

        def timed(way, iteration):  # the fastest of `repeats` (a shared machine's noise)
            best = min(time_to_first_iteration(cfg, tmp, f'{way}{iteration}-{i}', checkpoint,
                                               iteration, seek=way == 'seek')
                       for i in range(repeats))
            log(f'{way} at {iteration}: {best:.2f} s')
            return best
        time_to_first_iteration(cfg, tmp, 'warm-up', checkpoint, early, seek=True)  # untimed
        for iteration in (early, late):
            times['seek', iteration] = timed('seek', iteration)
        times['replay', early] = timed('replay', early)
        per_batch = max(times['replay', early] - times['seek', early], 0.0) / early
        estimate = times['seek', late] + per_batch * late
        measured = estimate * repeats <= replay_cap
        times['replay', late] = timed('replay', late) if measured else estimate
        for way in ('seek', 'replay'):
            for iteration in (early, late):
                t = times[way, iteration]
                estimated = way == 'replay' and iteration == late and not measured
                note = f'{what}; ' + (
                    f'estimated: {per_batch:.3f} s per replayed batch x {late}' if estimated
                    else f'{iteration if way == "replay" else 0} batches skipped by loading')
                rows.append(dict(section='resume', item=f'{way} at iteration {iteration}',
                                 time=f'{"~" if estimated else ""}{t:.2f} s',
                                 rate=(f'{t / times["seek", early]:.2f}x seek at {early}'),
                                 note=note))
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--tiny', action='store_true', help='the tiny SynthShift model (seconds)')
    p.add_argument('--scale', type=float, default=None,
                   help='real sizes times this (default 1 with CUDA, 0.5 without)')
    p.add_argument('--early', type=int, default=None)
    p.add_argument('--late', type=int, default=None)
    p.add_argument('--workers', type=int, default=None, help='data-loader workers (default 2)')
    p.add_argument('--repeats', type=int, default=None,
                   help='resumes per row, the fastest counts (default 3 with --tiny, else 1)')
    p.add_argument('--replay-cap', type=float, default=600.0,
                   help='seconds a late replay may take before it is estimated instead')
    args = p.parse_args(argv)
    load0 = os.getloadavg()
    rows = run(tiny=args.tiny, scale=args.scale, early=args.early, late=args.late,
               workers=args.workers, replay_cap=args.replay_cap, repeats=args.repeats)
    load1 = os.getloadavg()
    print(f'\nload average {load0[0]:.1f} before, {load1[0]:.1f} after ({os.cpu_count()} CPUs)\n')
    print('| item | seconds to the first trained iteration | vs seek at early | note |')
    print('|---|---|---|---|')
    for r in rows:
        print(f'| {r["item"]} | {r["time"]} | {r["rate"]} | {r["note"]} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
