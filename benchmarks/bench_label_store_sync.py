"""Benchmark the durability cost of the active-label store (not a test; one run, medians).

For --images target images of 64x128, times ActiveLabelStore.initialise on a fresh store and then
one commit_round buying a 4x4 box in every image (delta computation not timed), under
  none:     no sync at all (os.fsync and syncfs stubbed out; not durable, the floor)
  per-file: as in f55f1a6: each label/state file written, fsynced, renamed in turn, then one
            fsync per folder
  fallback: the batch where syncfs is not used: all written, each fsynced, all renamed, folders
  batched:  the batch with one syncfs(2) (where fileio deems it safe), renames, folders
Modes are interleaved per repeat and os.sync() runs (untimed) before each timed step, so no mode
pays for another's dirty pages. Results depend on the disk and on other load on it.

    python benchmarks/bench_label_store_sync.py [--images 500] [--repeats 3] [--dir /tmp]
"""
import argparse
import os
import os.path as osp
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from adasweep_base import fileio  # noqa: E402
from mmseg_ext.active import label_store  # noqa: E402
from mmseg_ext.active.label_store import ActiveLabelStore  # noqa: E402

MODES = ('none', 'per-file', 'fallback', 'batched')


def _one_by_one(writes):
    """f55f1a6's label/state writes: atomic_write per file, folders fsynced at the end."""
    dirs = set()
    for path, write in writes:
        fileio.atomic_write(path, write, dirs)
    fileio.fsync_dirs(dirs)


def patch(mode, calls):
    """Set `mode`, counting flushes in `calls`; returns an undo function."""
    saved = os.fsync, fileio._syncfs, label_store.files.atomic_write_many
    real_fsync, real_syncfs = saved[:2]

    def fsync(fd):
        calls['fsync'] += 1
        if mode != 'none':
            real_fsync(fd)

    def syncfs(path):
        if mode != 'batched':
            return mode == 'none'
        done = real_syncfs(path)
        calls['syncfs'] += done
        return done
    os.fsync, fileio._syncfs = fsync, syncfs
    if mode == 'per-file':
        label_store.files.atomic_write_many = _one_by_one

    def undo():
        os.fsync, fileio._syncfs, label_store.files.atomic_write_many = saved
    return undo


def make_gt(root, n, shape=(64, 128)):
    items, rng = [], np.random.default_rng(0)
    for i in range(n):
        rel = f'city{i % 5}/img{i:04d}_gtFine_labelTrainIds.png'
        path = osp.join(root, 'gt', rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        Image.fromarray(rng.integers(0, 19, shape).astype(np.uint8)).save(path)
        items.append((rel, path))
    return items


def one(root, items, mode, calls):
    store_dir = osp.join(root, f'store_{mode}')
    shutil.rmtree(store_dir, ignore_errors=True)
    os.sync()
    undo = patch(mode, calls['init'])
    try:
        t0 = time.perf_counter()
        store = ActiveLabelStore(store_dir)
        store.initialise(items)
        t_init = time.perf_counter() - t0
        box = np.zeros((64, 128), bool)
        box[10:14, 20:24] = True
        deltas = {rel: store.delta(rel, box, box, units=1) for rel, _ in items}
        os.sync()
        undo()
        undo = patch(mode, calls['commit'])
        t0 = time.perf_counter()
        store.commit_round(0, 100, deltas, strategy='bench')
        t_commit = time.perf_counter() - t0
    finally:
        undo()
    assert len(store.ledger()) == len(items)
    return t_init, t_commit


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--images', type=int, default=500)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--dir', default=None, help='where to put the store (its filesystem matters)')
    args = p.parse_args()
    root = tempfile.mkdtemp(prefix='bench_label_store_', dir=args.dir)
    try:
        items = make_gt(root, args.images)
        times = {m: [] for m in MODES}
        calls = {m: {k: dict(fsync=0, syncfs=0) for k in ('init', 'commit')} for m in MODES}
        for _ in range(args.repeats):
            for mode in MODES:
                times[mode].append(one(root, items, mode, calls[mode]))
        fs = 'syncfs used' if fileio._syncfs(root) else 'syncfs not used here (per-file fallback)'
        print(f'{args.images} images of 64x128, median of {args.repeats}, {root} ({fs}); load '
              f'average {" ".join(f"{v:.2f}" for v in os.getloadavg())} on {os.cpu_count()} CPUs')
        print(f'{"mode":10s} {"initialise":>11s} {"commit_round":>13s}   flushes per run '
              '(initialise; commit_round)')
        for mode in MODES:
            init, commit = (statistics.median(t[k] for t in times[mode]) for k in (0, 1))
            n = {k: ', '.join(f'{c // args.repeats} {name}' for name, c in calls[mode][k].items()
                              if c) for k in calls[mode]}
            flushes = '(none)' if mode == 'none' else f'{n["init"]}; {n["commit"]}'
            print(f'{mode:10s} {init:10.3f}s {commit:12.3f}s   {flushes}')
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
