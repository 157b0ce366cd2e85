"""The sweep on a real multi-node Ray cluster on loopback (tests/ray_cluster.py: a head and two
worker nodes with one fake GPU each, token authentication): run from a directory that is not the
repository, with a relative --data-root and a relative --space file, two trials per GPU
(--gpus-per-trial 0.5); rows name both worker nodes. Then one worker node is SIGKILLed while its
trials run: they continue on the other node from their last checkpoint, and every trial appears
once with all its rounds. A node without the data is refused before anything trains.

Set ADASWEEP_MEASURE_NODE_KILL=1 to also run the same sweep without a kill and print what the
kill cost (sweep wall seconds, and trial-seconds redone)."""
import os
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
from ray_cluster import RayCluster
from runner_utils import REPO

SPACE = '''"""Cluster test space."""
from sweeps.space import Space, Variant
from sweeps.spaces.rows import RIPU_ROWS, with_knobs
SPACE = Space(name='cluster', description=__doc__, seeds=2, variants={
    'rand': with_knobs(RIPU_ROWS['rand_region'], max_iters=60),
    'ripu': with_knobs(RIPU_ROWS['ripu_ra'], max_iters=60),
})
'''


def _sweep(cluster, cwd, name, data_rel, extra=(), wait=None):
    args = [sys.executable, os.path.join(REPO, 'sweeps', 'run.py'), '--space', 'space.py',
            '--storage', 'results', '--name', name, '--data-root', data_rel,
            '--address', cluster.address, '--gpus-per-trial', '0.5', '--cpus-per-trial', '1',
            '--max-failures', '3', *extra]
    env = cluster.env(base=dict(os.environ, PYTHONWARNINGS='ignore'))
    started = time.time()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if wait is not None:
        wait(proc)
    out, _ = proc.communicate(timeout=900)
    return proc.returncode, out, time.time() - started


def _rows(cwd, name):
    df = pq.read_table(os.path.join(cwd, 'results', name, 'results.parquet')).to_pandas()
    return df.sort_values(['trial_id', 'round', 'is_final']).reset_index(drop=True)


def _trial_rows(cwd, name):
    trials = os.path.join(cwd, 'results', name, 'trials')
    if not os.path.isdir(trials):
        return None
    import pandas as pd
    frames = []
    for f in os.listdir(trials):
        if f.endswith('.parquet') and not f.startswith('.'):
            try:
                with open(os.path.join(trials, f), 'rb') as fh:
                    frames.append(pq.read_table(fh).to_pandas())
            except Exception:  # noqa: BLE001  (a file being replaced)
                pass
    return pd.concat(frames) if frames else None


@pytest.mark.slow
def test_sweep_on_a_cluster_survives_a_lost_node(tmp_path, synthshift_root):
    cwd = tmp_path / 'elsewhere'
    cwd.mkdir()
    (cwd / 'space.py').write_text(SPACE)
    data_rel = os.path.relpath(os.path.dirname(synthshift_root), cwd)
    assert not os.path.isabs(data_rel)
    with RayCluster(num_workers=2, worker_cpus=2, worker_gpus=1) as cluster:
        workers = cluster.worker_node_ids
        # a benchmark whose data the nodes lack: refused before anything trains
        code, out, _ = _sweep(cluster, cwd, 'nodata', data_rel,
                              extra=['--benchmark', 'gta5_to_cityscapes'])
        assert code == 2 and 'error: node ' in out and 'gta5' in out, out[-2000:]
        assert not (cwd / 'results' / 'nodata').exists()

        killed = {}

        def kill_when_reported(proc):
            deadline = time.time() + 600
            while time.time() < deadline and proc.poll() is None:
                df = _trial_rows(cwd, 'lost')
                if df is not None and (df.node_id == workers[0]).any() and \
                        (df[df.node_id == workers[0]]['round'] >= 1).any():
                    killed['at'] = time.time()
                    killed['trials'] = set(df[df.node_id == workers[0]].trial_id)
                    cluster.kill_node(0)
                    return
                time.sleep(0.5)

        code, out, seconds = _sweep(cluster, cwd, 'lost', data_rel, wait=kill_when_reported)
        assert code == 0, out[-4000:]
        assert killed, 'worker node 0 never reported a round'
        rows = _rows(cwd, 'lost')
    assert rows.trial_id.nunique() == 4
    assert (rows.status == 'ok').all(), rows[rows.status != 'ok'][['trial_id', 'error']]
    for _, trial in rows.groupby('trial_id'):
        assert sorted(trial['round']) == [0, 1, 2, 3, 4, 5] and trial.is_final.sum() == 1
    assert set(rows.node_id) <= set(workers) and set(rows.node_id) == set(workers)
    assert (rows.device == 'cpu').all() and rows.hostname.notna().all()
    moved = [t for t in killed['trials']
             if set(rows[rows.trial_id == t].node_id) == set(workers)]
    assert moved, 'no trial of the killed node went on on the other one'
    for t in moved:
        trial = rows[rows.trial_id == t]
        # continued from its checkpoint: its first rounds stay those reported on node 0
        assert trial.iloc[0].node_id == workers[0]
        assert trial[trial.is_final].iloc[0].node_id == workers[1]
    print(f'node kill: sweep {seconds:.0f} s, trials moved: {len(moved)}')
    if os.environ.get('ADASWEEP_MEASURE_NODE_KILL'):
        with RayCluster(num_workers=2, worker_cpus=2, worker_gpus=1) as cluster:
            code, out, base = _sweep(cluster, cwd, 'nokill', data_rel)
            assert code == 0, out[-3000:]
        ref = _rows(cwd, 'nokill')
        final = rows[rows.is_final].set_index(['variant', 'seed'])
        ref_final = ref[ref.is_final].set_index(['variant', 'seed'])
        print(f'node kill cost: sweep wall {seconds:.0f} s vs {base:.0f} s without the kill; '
              f'final mIoU equal: {bool((final.miou == ref_final.miou).all())}')
