"""Benchmark the active-label store at Cityscapes size (not a test; one run, per image per round).

For --images target images of --size (default 200 of 1024x2048; ground truth from SynthShift's
scene generator at that size, --scenes distinct scenes reused), runs --rounds selection rounds
(default 5) as the hooks do: per image, the state read (`state`, the blocked map a strategy
needs), `delta` of the pick, then one `commit_round` for all images (durable: data, renames,
folders). Picks per image and round are RIPU-like: RIPU-RA squares (k=1: the 3x3 square bought,
the 5x5 square blocked) placed by the repo's greedy pick (mmseg_ext.active.select.greedy_select)
on a score that is high near class boundaries (region impurity) plus noise, buying
--region-fraction of the image, and sparse single pixels (ADA-MCU-like: drawn at random within
8 px of a class boundary) buying --pixel-fraction. Then `rollback` of the last round, and of all
rounds.

Both implementations run on the same ground truth and picks: `after` (this worktree) and
`before` (the store of commit --baseline, default e371b40 = main before the label-file records;
ae49e50 = the store at the issue's filing; loaded from `git show`; --no-baseline to skip),
interleaved step by step (initialise, each round, each rollback), so the ratio is measured in
the same run under the same load. Wall times per step, and the process's CPU time (all threads:
`after` makes a round's files in background threads while deltas go on) over the state reads,
deltas and commits, and the time spent in fsync/syncfs (of the durable commit: what a disk
without write-back latency would not cost). os.sync() runs (untimed) before each
commit and rollback so neither pays for the other's dirty pages. Bytes on disk per image: the
sizes of the store's files after the rounds (and the 4 KiB blocks they take), divided by images.
The machine's load average is printed: timings on a shared machine vary.

    python benchmarks/bench_label_store.py [--images 200] [--size 1024x2048] [--rounds 5]
        [--scenes 4] [--region-fraction 0.01] [--k 1] [--pixel-fraction 0.002] [--dir /tmp]
        [--baseline e371b40 | --no-baseline]

`run(tiny)` gives the rows of benchmarks/bench_real_scale.py's table (--tiny: 20 images of
256x512).
"""
import argparse
import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from adasweep_base import fileio  # noqa: E402
from mmseg_ext.active import label_store  # noqa: E402
from mmseg_ext.active.label_store import ActiveLabelStore  # noqa: E402
from mmseg_ext.active.select import greedy_select  # noqa: E402
from mmseg_ext.datasets.synthshift_generator import render_sample  # noqa: E402

BASELINE = 'e371b40'  # main's store before the records in the label files
SYNC = [0.]  # seconds in fsync / syncfs (all threads; the store syncs in the caller's)


def _timed(fn):
    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SYNC[0] += time.perf_counter() - t0
    return timed


def parse_size(text):
    """'HxW' -> (H, W), or None."""
    try:
        h, w = (int(v) for v in text.lower().split('x'))
    except ValueError:
        return None
    return (h, w) if h >= 8 and w >= 8 else None


def load_baseline(tmp, commit=BASELINE):
    """ActiveLabelStore of `commit` (its one-file label_store.py, imported inside
    mmseg_ext.active)."""
    source = subprocess.run(['git', '-C', REPO, 'show', f'{commit}:mmseg_ext/active/label_store.py'],
                            capture_output=True, text=True, check=True).stdout
    # the old file's `..fileio` / `..testing` now live in adasweep_base (issue 22)
    source = (source.replace('from ..fileio import', 'from adasweep_base.fileio import')
              .replace('from ..testing import', 'from adasweep_base.testing import'))
    path = osp.join(tmp, 'label_store_baseline.py')
    with open(path, 'w') as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location('mmseg_ext.active.label_store_baseline', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ActiveLabelStore


def boundary(gt):
    """(H, W) bool: pixels whose right or lower neighbour has another class."""
    b = np.zeros(gt.shape, bool)
    b[:, :-1] |= gt[:, 1:] != gt[:, :-1]
    b[:-1] |= gt[1:] != gt[:-1]
    return b


def dilate(mask, r):
    out = mask.copy()
    for _ in range(r):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def make_picks(gt, rounds, region_fraction, pixel_fraction, seed, k=1):
    """[(bought, blocked)] per round for one scene, each round avoiding what is blocked."""
    rng = np.random.default_rng(seed)
    h, w = gt.shape
    edge = boundary(gt)
    near = [dilate(edge, r) for r in (1, 3, 8)]
    impurity = sum(n.astype(np.float32) for n in near)  # high at boundaries, fading out
    blocked = np.zeros((h, w), bool)
    picks = []
    for _ in range(rounds):
        score = torch.from_numpy(impurity + rng.random((h, w), dtype=np.float32) * 1.5)
        count = max(1, int(region_fraction * h * w / (2 * k + 1) ** 2))
        sel = greedy_select(score, count, k, 2 * k, blocked=torch.from_numpy(blocked))
        bought = sel.labelled.numpy() & ~blocked
        new_blocked = sel.blocked.numpy() & ~blocked
        band = np.flatnonzero(near[2].ravel() & ~(blocked | new_blocked).ravel())
        n = min(band.size, int(pixel_fraction * h * w))
        sparse = rng.choice(band, n, replace=False)
        bought.flat[sparse] = True
        new_blocked.flat[sparse] = True
        blocked |= new_blocked
        picks.append((bought, new_blocked))
    return picks


def picks_floor(picks):
    """KB of one scene's picks alone (no class values), compressed by the best general-purpose
    codecs of the standard library: the rounds' code map (uint8 per pixel: 0 untouched,
    2r + 1 blocked in round r, 2r + 2 bought in round r) through bz2 (level 9) and lzma (preset
    6), the smaller of the two. For scale, not a bound: what general-purpose codecs need to
    keep each round's blocked and bought pixels exactly, not knowing how a strategy shapes
    them."""
    import bz2
    import lzma
    code = np.zeros(picks[0][0].shape, np.uint8)
    for r, (bought, blocked) in enumerate(picks):
        code[blocked] = 2 * r + 1
        code[bought] = 2 * r + 2
    raw = code.tobytes()
    return min(len(bz2.compress(raw, 9)), len(lzma.compress(raw, preset=6))) / 1e3


def make_gt(root, n, scenes, shape):
    items, gts = [], []
    for s in range(scenes):
        gts.append(render_sample(s, 1, s, *shape)[1])
    for i in range(n):
        rel = f'city{i % 5}/img{i:04d}_gtFine_labelTrainIds.png'
        path = osp.join(root, 'gt', rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        Image.fromarray(gts[i % scenes]).save(path)
        items.append((rel, path))
    return items, gts


def disk_bytes(root):
    size = blocks = files = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            st = os.stat(osp.join(dirpath, name))
            size, blocks, files = size + st.st_size, blocks + st.st_blocks * 512, files + 1
    return size, blocks, files


def part_bytes(root):
    out = {}
    for sub in ('labels', 'state', 'rounds'):  # no state/ in this version's stores
        out[sub] = disk_bytes(osp.join(root, sub))[0] if osp.isdir(osp.join(root, sub)) else 0
    out['ledger'] = os.path.getsize(osp.join(root, 'ledger.jsonl'))
    return out


def run_store(cls, root, items, picks, scenes, rounds, t):
    """One implementation, step by step (a generator: main interleaves the implementations
    step by step, so both see the same load); times (seconds, totals over images) go to `t`:
    wall time per step, and the CPU time of the process (all its threads: the store's
    background work included) over state reads, deltas and commits."""
    shutil.rmtree(root, ignore_errors=True)
    store = cls(root)
    t0 = time.perf_counter()
    store.initialise(items)
    t.update(initialise=time.perf_counter() - t0, state=0., delta=0., commit=0., cpu=0.,
             sync=0.)
    yield
    for r in range(rounds):
        deltas = {}
        c0 = time.process_time()
        for i, (rel, _) in enumerate(items):
            bought, blocked = picks[i % scenes][r]
            t0 = time.perf_counter()
            store.state(rel)
            t1 = time.perf_counter()
            deltas[rel] = store.delta(rel, bought, blocked, units=1)
            t['state'] += t1 - t0
            t['delta'] += time.perf_counter() - t1
        t['cpu'] += time.process_time() - c0
        os.sync()
        c0, t0, s0 = time.process_time(), time.perf_counter(), SYNC[0]
        store.commit_round(r, 100 * (r + 1), deltas, strategy='bench')
        t['commit'] += time.perf_counter() - t0
        t['cpu'] += time.process_time() - c0
        t['sync'] += SYNC[0] - s0
        yield
    t['disk'] = disk_bytes(root)
    t['parts'] = part_bytes(root)
    t['labels'] = {rel: (store.labels(rel), store.state(rel)) for rel, _ in items[:scenes]}
    os.sync()
    t0 = time.perf_counter()
    assert store.rollback(100 * rounds - 1) == [rounds - 1]
    t['rollback1'] = time.perf_counter() - t0
    yield
    os.sync()
    t0 = time.perf_counter()
    assert store.rollback(0) == list(range(rounds - 2, -1, -1))
    t['rollback_rest'] = time.perf_counter() - t0


def parse(argv):
    """The options, or a one-line error."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--images', type=int, default=200)
    p.add_argument('--size', default='1024x2048', help='HxW (default 1024x2048)')
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--scenes', type=int, default=4, help='distinct ground truths (rendered)')
    p.add_argument('--region-fraction', type=float, default=0.01,
                   help='of each image bought per round as (2k+1)^2 squares')
    p.add_argument('--k', type=int, default=1, help="RIPU's k: (2k+1)^2 squares bought, "
                   '(4k+1)^2 blocked (default 1, as RIPU-RA)')
    p.add_argument('--pixel-fraction', type=float, default=0.002,
                   help='of each image bought per round as single pixels')
    p.add_argument('--baseline', default=BASELINE,
                   help=f'the commit whose store runs beside this one (default {BASELINE})')
    p.add_argument('--no-baseline', action='store_true', help='no baseline store')
    p.add_argument('--dir', default=None, help='where to put the stores (its filesystem matters)')
    args = p.parse_args(argv)
    bad = [f'--{k} {v!r}: expected an int >= 1' for k, v in
           (('images', args.images), ('rounds', args.rounds), ('scenes', args.scenes)) if v < 1]
    bad += [f'--{k} {v!r}: expected a number in [0, 0.05]' for k, v in
            (('region-fraction', args.region_fraction), ('pixel-fraction', args.pixel_fraction))
            if not 0 <= v <= 0.05]
    if args.k < 1:
        bad.append(f'--k {args.k}: expected an int >= 1')
    args.shape = parse_size(args.size)
    if args.shape is None:
        bad.append(f'--size {args.size!r}: expected HxW, e.g. 1024x2048, both >= 8')
    if args.rounds < 2:
        bad.append(f'--rounds {args.rounds}: expected at least 2 (one is rolled back alone)')
    return args, (bad[0] if bad else None)


def measure(args):
    """Run the implementations (see the module docstring); returns (results {name: times},
    facts about the run)."""
    scenes = min(args.scenes, args.images)
    root = tempfile.mkdtemp(prefix='bench_label_store_', dir=args.dir)
    saved = os.fsync, fileio._syncfs
    os.fsync, fileio._syncfs = _timed(os.fsync), _timed(fileio._syncfs)
    try:
        load = os.getloadavg()
        impls = {'after': ActiveLabelStore}
        if not args.no_baseline:
            impls = {'before': load_baseline(root, args.baseline), **impls}
        items, gts = make_gt(root, args.images, scenes, args.shape)
        picks = [make_picks(gt, args.rounds, args.region_fraction, args.pixel_fraction, s,
                            args.k) for s, gt in enumerate(gts)]
        bought = np.mean([sum(b.sum() for b, _ in pk) for pk in picks]) / gts[0].size
        blocked = np.mean([sum(bl.sum() for _, bl in pk) for pk in picks]) / gts[0].size
        results = {name: {} for name in impls}
        steps = [run_store(cls, osp.join(root, f'store_{name}'), items, picks, scenes,
                           args.rounds, results[name]) for name, cls in impls.items()]
        while steps:  # one step of each in turn
            steps = [s for s in steps if next(s, StopIteration) is not StopIteration]
        if 'before' in results:  # the labels the model trains on are the same
            for rel in results['after']['labels']:
                for a, b in zip(results['before']['labels'][rel],
                                results['after']['labels'][rel]):
                    assert all(np.array_equal(x, y) for x, y in zip(np.atleast_1d(a),
                                                                     np.atleast_1d(b)))
        facts = dict(root=root, scenes=scenes, bought=bought, blocked=blocked, load=load,
                     floor=np.mean([picks_floor(pk) for pk in picks]),
                     load_after=os.getloadavg())
        return results, facts
    finally:
        os.fsync, fileio._syncfs = saved
        shutil.rmtree(root, ignore_errors=True)


ROWS = (('state read', ('state',)), ('delta', ('delta',)), ('durable commit', ('commit',)),
        ('  of which fsync/syncfs', ('sync',)), ('delta + commit', ('delta', 'commit')),
        ('delta + commit, no fsync', ('delta', 'commit', '-sync')),
        ('state + delta + commit', ('state', 'delta', 'commit')),
        ('  the same, CPU time', ('cpu',)))


def per_image(t, keys, n):
    """ms per image (per round) of the sum of `keys` ('-key': minus) in `t`."""
    return sum(-t[k[1:]] if k.startswith('-') else t[k] for k in keys) / n * 1e3


def main(argv=None):
    args, error = parse(argv)
    if error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    results, facts = measure(args)
    (h, w), n, r = args.shape, args.images, args.rounds
    print(f'{n} images of {h}x{w}, {r} rounds, {facts["scenes"]} scenes; per round '
          f'{facts["bought"] / r:.2%} of each image bought, {facts["blocked"] / r:.2%} blocked '
          f'(k={args.k} squares, {args.pixel_fraction:.2%} single pixels); {facts["root"]}')
    print(f'OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")}, store threads '
          f'{label_store._threads()}'
          + ('' if args.no_baseline else f'; before = {args.baseline}, after = this tree'))
    load, load1 = facts['load'], facts['load_after']
    print(f'load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, after '
          f'{load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} on {os.cpu_count()} CPUs')
    rows = [(label, keys, n * r) for label, keys in ROWS]
    rows += [('rollback 1 round', ('rollback1',), n),
             (f'rollback {r - 1} rounds', ('rollback_rest',), n),
             ('initialise', ('initialise',), n)]
    head = ''.join(f'{k:>12s}' for k in results) + ('    ratio' if len(results) > 1 else '')
    print(f'{"ms per image (per round)":30s}{head}')
    for label, keys, per in rows:
        vals = [per_image(results[k], keys, per) for k in results]
        ratio = f'  {vals[0] / vals[1]:6.1f}x' if len(vals) > 1 and vals[1] > 0 else ''
        print(f'{label:30s}' + ''.join(f'{v:12.2f}' for v in vals) + ratio)
    print(f'{"KB per image after " + str(r) + " rounds":30s}')
    for part in ('labels', 'state', 'rounds', 'ledger'):
        vals = [results[k]['parts'][part] / n / 1e3 for k in results]
        print(f'{"  " + part:30s}' + ''.join(f'{v:12.1f}' for v in vals))
    for label, idx in (('  total (file sizes)', 0), ('  total (4 KiB blocks)', 1)):
        vals = [results[k]['disk'][idx] / n / 1e3 for k in results]
        ratio = f'  {vals[0] / vals[1]:6.1f}x' if len(vals) > 1 else ''
        print(f'{label:30s}' + ''.join(f'{v:12.1f}' for v in vals) + ratio)
    print(f'{"  the picks alone, bz2/lzma":30s}{facts["floor"]:12.1f}   (no class values; '
          'see picks_floor)')
    return 0


def run(tiny=False):
    """Rows of benchmarks/bench_real_scale.py's table (this tree's store; --tiny: 20 images of
    256x512, else the defaults: 200 of 1024x2048)."""
    args, _ = parse(['--no-baseline'] + (['--images', '20', '--size', '256x512'] if tiny else []))
    t, facts = measure(args)
    t, n, r = t['after'], args.images, args.rounds
    note = (f'{n} images of {args.size}, {r} rounds, load {facts["load"][0]:.1f}; '
            f'{facts["bought"] / r:.2%} bought per round')
    for label, keys in ROWS[:6]:
        yield dict(section='store', item=label.strip(),
                   time=f'{per_image(t, keys, n * r):.2f} ms/img/round', note=note)
    yield dict(section='store', item='rollback of 1 round',
               time=f'{per_image(t, ("rollback1",), n):.2f} ms/img', note=note)
    yield dict(section='store', item=f'disk after {r} rounds',
               rate=f'{t["disk"][0] / n / 1e3:.1f} KB/img', note=note)
    yield dict(section='store', item='the picks alone, bz2/lzma', rate=f'{facts["floor"]:.1f} '
               'KB/img', note=note)


if __name__ == '__main__':
    sys.exit(main())
