"""Benchmark sweeps/tables.py on a results file of 100,000 rows (not a test; one run, ratios).

Writes a synthetic compacted results.parquet (20 variants x 5 seeds x 200 tau values = 20,000
trials, 4 selection rounds + the final evaluation each; 19 class IoUs, params, ~1 KB config JSON
per trial), then times, median of --repeats, in this process:
  baseline: pyarrow.parquet.read_table(file) (all columns)
  each table: tables.build_table (needed columns read, grouped, formatted as markdown)
and once each as subprocesses (interpreter start and imports included): the CLI vs
`python -c "import pyarrow.parquet as pq; pq.read_table(file)"`.
Exits 1 if a table takes 1 s or more in process.

    python benchmarks/bench_tables.py [--rows 100000] [--repeats 5]
"""
import argparse
import json
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from sweeps import tables  # noqa: E402
from sweeps.results import IOU_COLUMNS, RESULT_SCHEMA, atomic_write_table  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def synthetic_results(rows, rounds=4, variants=20, seeds=5, seed=0):
    """A compacted-results-like table of about `rows` rows (vectorised, no make_row)."""
    rng = np.random.default_rng(seed)
    per = rounds + 1
    trials = -(-rows // per)
    t = np.repeat(np.arange(trials), per)[:rows]
    rnd = np.tile(np.arange(per), trials)[:rows]
    var, sd, tau_i = t % variants, (t // variants) % seeds, t // (variants * seeds)
    tau = 0.01 + 0.001 * tau_i
    frac = 0.022 * np.minimum(rnd + 1, rounds) / rounds
    miou = 40 + 0.5 * var + 600 * frac + rng.normal(0, 1, rows)
    now = int(datetime.now(timezone.utc).timestamp() * 1e6)
    cfg = json.dumps({'model': {'decode_head': {'num_classes': 19}}, 'pad': 'x' * 900})
    cols = {
        'sweep': np.full(rows, 'bench'), 'space': np.full(rows, 'ripu_ablation'),
        'benchmark': np.full(rows, 'gtav2cityscapes'),
        'variant': np.array([f'variant_{v:02d}' for v in range(variants)])[var],
        'trial_id': np.char.add('trial_', t.astype(str)), 'seed': sd, 'round': rnd,
        'iteration': (rnd + 1) * 1000, 'labelled_fraction': frac,
        'pixels_bought': (frac * 2e9).astype(np.int64),
        'units_bought': (frac * 1e6).astype(np.int64),
        'miou': miou, 'miou13': None,
        **{c: np.clip(miou + rng.normal(0, 10, rows), 0, 100) for c in IOU_COLUMNS},
        'is_final': rnd == rounds, 'status': np.full(rows, 'ok'), 'error': None,
        'params_json': np.char.add('{"tau": ', np.char.add(tau.astype(str), '}')),
        'config_json': np.full(rows, cfg), 'wall_seconds': rng.uniform(10, 100, rows),
        'git_rev': np.full(rows, '0123abcd'),
        'reported_at': pa.array(now + np.arange(rows), pa.timestamp('us', tz='UTC')),
    }
    arrays = [pa.nulls(rows, f.type) if cols.get(f.name) is None else pa.array(cols[f.name], f.type)
              for f in RESULT_SCHEMA]
    arrays += [pa.array(tau), pa.array(np.full(rows, 1, np.int64))]
    schema = pa.schema(list(RESULT_SCHEMA) + [pa.field('param_tau', pa.float64()),
                                              pa.field('param_k', pa.int64())])
    return pa.Table.from_arrays(arrays, schema=schema)


def timed(fn, repeats):
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def wall(cmd):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--rows', type=int, default=100_000)
    p.add_argument('--repeats', type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'bench', 'results.parquet')
        atomic_write_table(synthetic_results(args.rows), path)
        size = osp.getsize(path) / 2**20
        print(f'results file: {args.rows} rows, {size:.1f} MiB')
        base = timed(lambda: pq.read_table(path), args.repeats)
        print(f'baseline pq.read_table (all columns): {base * 1e3:8.1f} ms')
        worst = 0.0
        for kind, param in (('ablation', None), ('sensitivity', 'tau'), ('per_class', None),
                            ('budget', None)):
            dt = timed(lambda: tables.build_table(path, kind, 'markdown', param=param),
                       args.repeats)
            worst = max(worst, dt)
            print(f'tables {kind:<11} (read+group+format): {dt * 1e3:8.1f} ms  '
                  f'ratio to read_table {dt / base:5.2f}')
        py = sys.executable
        n = max(3, args.repeats // 2)
        cli = statistics.median(wall([py, 'sweeps/tables.py', path, '--table', 'budget'])
                                for _ in range(n))
        ref = statistics.median(wall([py, '-c', f'import pyarrow.parquet as pq; '
                                      f'pq.read_table({path!r})']) for _ in range(n))
        print(f'subprocess: CLI --table budget {cli:.2f} s, python -c read_table {ref:.2f} s, '
              f'ratio {cli / ref:.2f} (both include interpreter start and imports)')
        ok = worst < 1.0
        print(f'slowest table {worst:.3f} s: {"OK (< 1 s)" if ok else "TOO SLOW (>= 1 s)"}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
