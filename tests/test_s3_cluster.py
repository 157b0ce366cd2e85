"""A 3-node loopback Ray cluster whose nodes share nothing but the bucket (moto's S3 server on
127.0.0.1, started by the test): each node has its own local dir (`ADASWEEP_LOCAL_DIR` in its
`ray start` environment; no --local-dir, so each node resolves its own), two fake GPUs' worth of
trials (--gpus-per-trial 0.5), and worker node 0 is SIGKILLed mid-sweep. Every trial appears
once with all its rounds; the trials of the killed node go on on the other one from the bucket's
checkpoint (their work dir there starts from `resume.pth`); no trial writes outside its node's
local dir and the bucket (the command's folder, the data, the system's default local dir and the
repository are as they were).
"""
import io
import os
import subprocess
import sys
import tempfile
import time

import pytest
from ray_cluster import RayCluster
from runner_utils import REPO

from s3_server import bucket_keys, s3_server

pytestmark = pytest.mark.slow

SPACE = '''"""Cluster test space."""
from sweeps.space import Space, Variant
from sweeps.spaces.rows import RIPU_ROWS, with_knobs
SPACE = Space(name='cluster', description=__doc__, seeds=2, variants={
    'rand': with_knobs(RIPU_ROWS['rand_region'], max_iters=60),
    'ripu': with_knobs(RIPU_ROWS['ripu_ra'], max_iters=60),
})
'''
NODES = ('head', 'worker0', 'worker1')


@pytest.fixture(autouse=True)
def _moto_installed():
    if os.environ.get('CI'):
        import moto  # noqa: F401
    else:
        pytest.importorskip('moto', reason="moto[server] missing: pip install -e '.[s3]'")


def _bucket_rows(endpoint, prefix):
    """Every trial file's rows on the bucket (a pandas frame, or None before the first)."""
    import boto3
    import pandas as pd
    import pyarrow.parquet as pq
    client = boto3.client('s3', endpoint_url=endpoint)
    frames = []
    for key in bucket_keys(endpoint, prefix=prefix):
        if key.endswith('.parquet'):
            body = client.get_object(Bucket='adasweep', Key=key)['Body'].read()
            frames.append(pq.read_table(io.BytesIO(body)).to_pandas())
    return pd.concat(frames) if frames else None


def _tree(root, skip=()):
    """{relative path: (size, mtime)} of every file under `root`, folders in `skip` left out."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skip]
        for f in files:
            path = os.path.join(folder, f)
            try:
                st = os.stat(path)
            except OSError:
                continue
            out[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return out


def _work_dirs(local):
    """{trial id: files in its work dir} under a node's local dir (`<sweep>/work/<trial>`)."""
    work = os.path.join(local, 'shared', 'work')
    out = {}
    try:
        trials = os.listdir(work)
    except OSError:
        return out
    for trial in trials:
        try:
            out[trial] = set(os.listdir(os.path.join(work, trial)))
        except OSError:
            pass
    return out


def test_a_cluster_sharing_only_the_bucket_survives_a_lost_node(tmp_path, synthshift_root):
    cwd = tmp_path / 'elsewhere'
    cwd.mkdir()
    (cwd / 'space.py').write_text(SPACE)
    local = {n: str(tmp_path / 'nodes' / n) for n in NODES}
    driver_local = str(tmp_path / 'driver')
    data = os.path.dirname(synthshift_root)
    default_local = os.path.join(tempfile.gettempdir(), 'adasweep')
    watched = {'cwd': (str(tmp_path), {str(tmp_path / 'nodes'), driver_local}),
               'data': (data, set()), 'default local dir': (default_local, set())}
    before = {k: _tree(root, skip) for k, (root, skip) in watched.items()}
    git = ['git', '-C', REPO, 'ls-files', '--others', '--exclude-standard']  # new files
    repo_before = subprocess.run(git, capture_output=True, text=True).stdout
    seen = {n: {} for n in NODES}   # node -> trial -> files its work dir ever held

    def watch():
        for n in NODES:
            for trial, files in _work_dirs(local[n]).items():
                seen[n].setdefault(trial, set()).update(files)

    with s3_server() as (endpoint, query):
        bucket = f's3://adasweep/runs?{query}'
        with RayCluster(num_workers=2, worker_cpus=2, worker_gpus=1,
                        node_env={n: {'ADASWEEP_LOCAL_DIR': local[n]} for n in NODES}) as cluster:
            workers = cluster.worker_node_ids
            env = cluster.env(base=dict(os.environ, PYTHONWARNINGS='ignore',
                                        ADASWEEP_LOCAL_DIR=driver_local))
            args = [sys.executable, os.path.join(REPO, 'sweeps', 'run.py'), '--space',
                    'space.py', '--storage', bucket, '--name', 'shared', '--data-root', data,
                    '--address', cluster.address, '--gpus-per-trial', '0.5',
                    '--cpus-per-trial', '1', '--max-failures', '3']
            proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            killed = {}
            import threading
            out_chunks = []
            reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()))
            reader.start()
            deadline = time.time() + 900
            while proc.poll() is None and time.time() < deadline:
                watch()
                if not killed:
                    df = _bucket_rows(endpoint, 'runs/shared/trials/')
                    if df is not None and (df[df.node_id == workers[0]]['round'] >= 1).any():
                        killed['trials'] = set(df[df.node_id == workers[0]].trial_id)
                        cluster.kill_node(0)
                time.sleep(0.3)
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            reader.join()
            out = ''.join(out_chunks)
            assert proc.returncode == 0, out[-4000:]
            assert killed, 'worker node 0 never reported a round'
        from sweeps.results import read_results
        rows = read_results(f's3://adasweep/runs/shared?{query}').to_pandas()
        keys = bucket_keys(endpoint, prefix='runs/shared/')

    assert rows.trial_id.nunique() == 4
    assert (rows.status == 'ok').all(), rows[rows.status != 'ok'][['trial_id', 'error']]
    for _, trial in rows.groupby('trial_id'):
        assert sorted(trial['round']) == [0, 1, 2, 3, 4, 5] and trial.is_final.sum() == 1
    assert set(rows.node_id) == set(workers)
    assert any(k.startswith('runs/shared/tune/') and '/checkpoint_' in k for k in keys)
    node_of = dict(zip(workers, ('worker0', 'worker1')))
    ran_on = {t: {node_of[n] for n in g.node_id} for t, g in rows.groupby('trial_id')}
    moved = [t for t in killed['trials'] if ran_on[t] == {'worker0', 'worker1'}]
    assert moved, 'no trial of the killed node went on on the other one'
    for t in moved:
        trial = rows[rows.trial_id == t].sort_values('round')
        assert trial.iloc[0].node_id == workers[0]
        assert trial[trial.is_final].iloc[0].node_id == workers[1]
        # it went on from the checkpoint it had put on the bucket, in worker1's own local dir
        assert 'resume.pth' in seen['worker1'].get(t, set()), seen['worker1'].get(t)
    # each trial's work dir was in the local dirs of the nodes it ran on, and the surviving
    # node's only held trials that reported from it (the killed node's can also hold a trial
    # killed before its first report); the head runs no trial (0 CPUs)
    assert not seen['head']
    for n in ('worker0', 'worker1'):
        assert seen[n], f'no work dir ever seen under {n}: {local[n]}'
        assert {t for t in ran_on if n in ran_on[t]} <= set(seen[n]), (n, seen[n], ran_on)
    assert set(seen['worker0']) <= set(ran_on)
    assert all('worker1' in ran_on[t] for t in seen['worker1']), (seen['worker1'], ran_on)
    # a trial's work dir is removed when the trial ends, on the node that survived
    assert not _work_dirs(local['worker1']), _work_dirs(local['worker1'])
    # nothing written anywhere else (Ray's own temp dirs are the cluster's, in /tmp/rc*)
    after = {k: _tree(root, skip) for k, (root, skip) in watched.items()}
    for k in watched:
        assert after[k] == before[k], (k, sorted(set(after[k]) ^ set(before[k]))[:10])
    assert subprocess.run(git, capture_output=True, text=True).stdout == repo_before
    print(f'trials moved from the killed node: {len(moved)}')
