"""Storage overhead of an object store (not a test; prints what it measured in one run).

The same SynthShift sweep twice on this machine, one after the other: `--storage` a local folder
(the baseline) and `--storage s3://...` on moto's S3 server on 127.0.0.1 (extra `s3`; a real
bucket adds the network's latency and bandwidth on top). Prints both wall times and their
ratio, each trial's own wall time (its rows' wall_seconds: training, evaluations, checkpoint
uploads) in both, and what lies on the bucket per trial: the Tune checkpoints kept (count, bytes), and the
bytes uploaded per trial (every report uploads one checkpoint: reports x checkpoint size, plus
the trial's Parquet file rewritten at each report, its TensorBoard files and trial config).

    python benchmarks/bench_s3_storage.py [--space ripu_ablation] [--trials 2] [--iters 20]
        [--repeats 1]
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.join(REPO, 'tests'))

from bench_sweep import bench_space  # noqa: E402


def run(space, storage, local, env):
    extra = ['--local-dir', local] if storage.startswith('s3://') else []
    started = time.time()
    out = subprocess.run([sys.executable, osp.join(REPO, 'sweeps', 'run.py'), '--space', space,
                          '--storage', storage, '--name', 'bench', '--quiet', *extra],
                         env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit(out.stderr[-3000:])
    return time.time() - started


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--space', default='ripu_ablation')
    p.add_argument('--trials', type=int, default=2)
    p.add_argument('--iters', type=int, default=20)
    p.add_argument('--repeats', type=int, default=1,
                   help='pairs of sweeps, in alternating order (the median ratio is printed)')
    args = p.parse_args()
    from s3_server import bucket_keys, s3_server

    from sweeps.results import read_results
    space = bench_space(args.space, args.trials, args.iters)
    tmp = tempfile.mkdtemp(prefix='bench_s3_')
    with s3_server() as (endpoint, query):
        env = dict(os.environ, PYTHONWARNINGS='ignore')
        pairs = []
        for i in range(args.repeats):
            folder, uri = osp.join(tmp, f'results{i}'), f's3://adasweep/runs{i}?{query}'
            if i % 2:
                bucket = run(space, uri, osp.join(tmp, 'local'), env)
                local = run(space, folder, None, env)
            else:
                local = run(space, folder, None, env)
                bucket = run(space, uri, osp.join(tmp, 'local'), env)
            pairs.append((local, bucket))
            print(f'pair {i + 1}: local folder {local:.1f} s, S3 {bucket:.1f} s, ratio '
                  f'{bucket / local:.2f}', flush=True)
        keys = bucket_keys(endpoint, prefix='runs0/bench/')
        rows = read_results(f's3://adasweep/runs0/bench?{query}').to_pandas()
    base = read_results(osp.join(tmp, 'results0', 'bench')).to_pandas()
    import statistics
    local = statistics.median(a for a, _ in pairs)
    bucket = statistics.median(b for _, b in pairs)
    trials = rows.trial_id.nunique()
    reports = len(rows) / trials
    ckpt_files = {k: v for k, v in keys.items() if '/checkpoint_' in k}
    ckpts = {k.rsplit('/', 1)[0] for k in ckpt_files}
    per_ckpt = sum(ckpt_files.values()) / len(ckpts)
    parquet = sum(v for k, v in keys.items() if '/trials/' in k) / trials
    other = sum(v for k, v in keys.items() if '/tensorboard/' in k or '/work/' in k) / trials
    print(f'{trials} trials x {reports:.0f} reports, {args.space} at {args.iters} iterations')
    print(f'wall time (median of {len(pairs)}): local folder {local:.1f} s, S3 (moto on '
          f'loopback) {bucket:.1f} s, ratio {bucket / local:.2f}; ratios per pair '
          f'{", ".join(f"{b / a:.2f}" for a, b in pairs)}')
    trial_wall = [r[r.is_final].wall_seconds.mean() for r in (base, rows)]
    print(f'a trial\'s own wall time (its final row): local folder {trial_wall[0]:.1f} s, S3 '
          f'{trial_wall[1]:.1f} s, ratio {trial_wall[1] / trial_wall[0]:.2f}; the rest of the '
          f'difference is per sweep (checks, lease, Tune\'s experiment sync, Ray start-up)')
    print(f'checkpoints kept on the bucket: {len(ckpts) / trials:.0f} per trial, '
          f'{per_ckpt / 1e6:.2f} MB each (model+optimiser+schedulers+RNG, label-store tar)')
    print(f'bytes on the bucket: {sum(keys.values()) / 1e6:.2f} MB in {len(keys)} objects')
    print(f'uploaded per trial: {(reports * per_ckpt + reports * parquet + other) / 1e6:.2f} MB '
          f'({reports:.0f} checkpoints, {reports:.0f} rewrites of a {parquet / 1e3:.0f} kB '
          f'Parquet file, {other / 1e3:.0f} kB TensorBoard and config)')


if __name__ == '__main__':
    main()
