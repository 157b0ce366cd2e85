"""`--storage s3://...` end to end against a real S3 protocol server on loopback (moto's server
mode, extra `s3`, started and stopped by the test): bad storage input refused before anything
starts, the driver lease on the bucket, and a sweep on the bucket whose rows, tables and report,
read back from the bucket, equal those of the same sweep in a local folder, row by row.
"""
import json
import os
import subprocess
import sys
import time

import pytest
from runner_utils import REPO

from s3_server import bucket_keys, free_port, s3_server  # noqa: E402

# each test runs run.py (a plan takes ~20 s on 2 cores) or a sweep; and the extra `s3` is
# installed by `make test-slow`
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _moto_installed():
    """The extra `s3` (moto's server): CI installs it (make test-slow), so missing is a failure
    there and a skip elsewhere. A fixture, not a module-level import: `make test` collects this
    file (its tests deselected) before the extra is installed."""
    if os.environ.get('CI'):
        import moto  # noqa: F401
    else:
        pytest.importorskip('moto', reason="moto[server] missing: pip install -e '.[s3]'")

SPACE = '''"""A tiny space for tests."""
from sweeps.space import Space, Variant
from sweeps.spaces.rows import RIPU_ROWS, with_knobs
SPACE = Space(name='tiny', description=__doc__, seeds=1, variants={
    'rand': with_knobs(RIPU_ROWS['rand_region'], max_iters=20),
    'f_ripu': with_knobs(RIPU_ROWS['ripu_ra'], max_iters=20),
})
'''
SAME = ['variant', 'seed', 'round', 'is_final', 'iteration', 'status', 'miou',
        'labelled_fraction', 'pixels_bought', 'units_bought']


@pytest.fixture
def s3():
    with s3_server() as server:
        yield server


def _cli(script, args, cwd, env=None, timeout=600):
    env = {**os.environ, 'PYTHONWARNINGS': 'ignore', **(env or {})}
    return subprocess.run([sys.executable, os.path.join(REPO, 'sweeps', script), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _refused(tmp_path, storage, *messages, env=None, endpoint=None):
    """run.py with `storage` gives one `error:` line naming `messages`, exit 2, and writes
    nothing: not in tmp_path (the command's folder), not on the bucket."""
    before = sorted(p.name for p in tmp_path.iterdir())
    keys = sorted(bucket_keys(endpoint)) if endpoint else None
    started = time.time()
    out = _cli('run.py', ['--space', 'ripu_ablation', '--storage', storage, '--local-dir',
                          str(tmp_path / 'local')], tmp_path, env)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith('error: '), out.stderr[-2000:]
    for message in messages:
        assert message in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if endpoint:
        assert sorted(bucket_keys(endpoint)) == keys  # (a lease's renewal changes its size)
    return lines[0], time.time() - started


def test_a_bucket_that_does_not_exist_is_refused(tmp_path, s3):
    endpoint, query = s3
    _refused(tmp_path, f's3://no-such-bucket/runs?{query}', "bucket 'no-such-bucket'",
             'does not exist', endpoint=endpoint)


def test_missing_credentials_are_refused_and_never_printed(tmp_path, s3):
    endpoint, query = s3
    env = {'AWS_ACCESS_KEY_ID': '', 'AWS_SECRET_ACCESS_KEY': '',
           'AWS_SHARED_CREDENTIALS_FILE': str(tmp_path / 'none'),
           'AWS_CONFIG_FILE': str(tmp_path / 'none')}
    line, _ = _refused(tmp_path, f's3://adasweep/runs?{query}', 'no AWS credentials',
                       env=env, endpoint=endpoint)
    assert 'adasweep-test' not in line


def test_an_endpoint_that_does_not_answer_is_refused_quickly(tmp_path):
    uri = f's3://adasweep/runs?endpoint_override=127.0.0.1:{free_port()}&scheme=http'
    _, seconds = _refused(tmp_path, uri, '127.0.0.1', 'does not answer',
                          env={'ADASWEEP_STORAGE_TIMEOUT': '2'})
    assert seconds < 60  # the short time-out, not the SDK's retries (minutes)


def test_a_scheme_pyarrow_cannot_resolve_is_refused(tmp_path):
    _refused(tmp_path, 'nosuchfs://bucket/runs', 'nosuchfs://bucket/runs',
             'not a storage URI pyarrow resolves')


def test_local_dir_with_a_folder_storage_is_refused(tmp_path):
    out = _cli('run.py', ['--space', 'ripu_ablation', '--storage', str(tmp_path / 'r'),
                          '--local-dir', str(tmp_path / 'l')], tmp_path)
    assert out.returncode == 2 and out.stderr.startswith('error: --local-dir'), out.stderr
    assert sorted(os.listdir(tmp_path)) == []


def test_lease_conditional_create_takeover_and_release(s3):
    from sweeps.lease import LEASE_FILE, Lease
    from sweeps.common import SweepError
    from sweeps.storage import Storage
    endpoint, query = s3
    store = Storage(f's3://adasweep/runs/sw?{query}')
    first = Lease(store).acquire()
    record = json.loads(store.read_text(LEASE_FILE))
    assert record['pid'] == os.getpid() and record['expires'] > time.time()
    with pytest.raises(SweepError, match='in use by another driver .*pid'):
        Lease(store).acquire()  # this process is alive: not stale
    first.release()
    assert not store.is_file(LEASE_FILE)
    # a lease left by a dead process of this host is taken over at once
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                          capture_output=True, text=True).stdout.strip()
    store.write_text(LEASE_FILE, json.dumps(dict(owner='gone', host=os.uname().nodename,
                                                 pid=int(dead), expires=time.time() + 600)))
    second = Lease(store).acquire()
    assert json.loads(store.read_text(LEASE_FILE))['pid'] == os.getpid()
    second.release()
    # another host's lease: refused until it expires, then taken over
    store.write_text(LEASE_FILE, json.dumps(dict(owner='pid 1 on elsewhere', host='elsewhere',
                                                 pid=1, expires=time.time() + 600)))
    with pytest.raises(SweepError, match='pid 1 on elsewhere'):
        Lease(store).acquire()
    store.write_text(LEASE_FILE, json.dumps(dict(owner='pid 1 on elsewhere', host='elsewhere',
                                                 pid=1, expires=time.time() - 1)))
    third = Lease(store).acquire()
    assert json.loads(store.read_text(LEASE_FILE))['host'] == os.uname().nodename
    third.release()


def test_a_second_driver_on_the_bucket_is_refused(tmp_path, s3):
    from sweeps.lease import Lease
    from sweeps.storage import Storage
    endpoint, query = s3
    holder = Lease(Storage(f's3://adasweep/runs/ripu_ablation_synthshift?{query}')).acquire()
    try:
        _refused(tmp_path, f's3://adasweep/runs?{query}', 'in use by another driver',
                 f'pid {os.getpid()}', endpoint=endpoint)
    finally:
        holder.release()


def test_a_sweep_on_the_bucket_equals_the_sweep_in_a_folder(tmp_path, s3, synthshift_root):
    import pandas as pd

    from sweeps.results import read_results
    endpoint, query = s3
    space = tmp_path / 'tiny_space.py'
    space.write_text(SPACE)
    env = {'ADASWEEP_DATA': os.path.dirname(synthshift_root), 'RAY_DEDUP_LOGS': '0'}
    bucket, folder = f's3://adasweep/runs?{query}', str(tmp_path / 'results')
    local = tmp_path / 'local'
    for storage, extra in ((bucket, ['--local-dir', str(local)]), (folder, [])):
        out = _cli('run.py', ['--space', str(space), '--storage', storage, '--name', 'tiny',
                              *extra], tmp_path, env)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    keys = bucket_keys(endpoint, prefix='runs/tiny/')
    for name in ('results.parquet', 'plan.json', 'sweep.json', 'history.jsonl', 'space.json',
                 'configs.json', 'tune/tuner.pkl'):
        assert f'runs/tiny/{name}' in keys, sorted(keys)
    assert '.driver.lease' not in ' '.join(keys)  # released at the end
    checkpoints = [k for k in keys if '/checkpoint_' in k and k.endswith('latest.pth')]
    assert len(checkpoints) == 2 * 2  # num_to_keep=2 per trial
    assert any(k.startswith('runs/tiny/tensorboard/') for k in keys)
    # nothing of the trials is left on local disk: work dirs are removed when a trial ends
    assert not any(f for _, _, files in os.walk(local) for f in files), list(os.walk(local))
    assert not (tmp_path / 'results' / 'tiny' / '.driver.lease').exists()

    got = read_results(f's3://adasweep/runs/tiny?{query}').to_pandas()
    want = read_results(os.path.join(folder, 'tiny')).to_pandas()
    assert len(got) == len(want) == 12
    iou = [c for c in want if c.startswith('iou_')]
    pd.testing.assert_frame_equal(got[SAME + iou].reset_index(drop=True),
                                  want[SAME + iou].reset_index(drop=True))
    assert [json.loads(c)['model'] for c in got.config_json] == \
        [json.loads(c)['model'] for c in want.config_json]
    for table in ('ablation', 'rounds', 'per_class'):
        a = _cli('tables.py', ['tiny', '--storage', bucket, '--table', table], tmp_path)
        b = _cli('tables.py', ['tiny', '--storage', folder, '--table', table], tmp_path)
        assert a.returncode == 0 and a.stdout == b.stdout, a.stderr + a.stdout + b.stdout
    out = _cli('report.py', ['tiny', '--storage', bucket, '--out',
                             f's3://adasweep/runs/tiny/report.html?{query}'], tmp_path)
    assert out.returncode == 0, out.stderr
    page = bucket_keys(endpoint, prefix='runs/tiny/report.html')
    assert page and list(page.values())[0] > 10_000
    # a rerun resumes from the bucket: nothing rerun, the same rows
    again = _cli('run.py', ['--space', str(space), '--storage', bucket, '--name', 'tiny',
                            '--local-dir', str(local)], tmp_path, env)
    assert again.returncode == 0 and 'resuming sweep tiny' in again.stdout, again.stderr[-3000:]
    rows = read_results(f's3://adasweep/runs/tiny?{query}').to_pandas()
    assert (rows.reported_at.values == got.reported_at.values).all()


def test_a_sigkilled_sweep_on_the_bucket_rerun_gives_the_table_of_one_never_killed(
        tmp_path, s3, synthshift_root):
    """The whole sweep (driver, Ray, workers) SIGKILLed once a trial reported (its Parquet file
    is on the bucket); the same command again takes the dead driver's lease over (same host,
    pid gone) and resumes from the bucket. Then killed again inside a checkpoint upload (the
    4th checkpoint file a trial opens on the bucket: a checkpoint folder half there) and inside
    the compaction of results.parquet, each rerun: the rows of a never-killed sweep in a
    folder."""
    import tempfile

    from ray_cluster import kill_sessions

    from sweeps.results import read_results
    endpoint, query = s3
    space = tmp_path / 'tiny_space.py'
    space.write_text(SPACE.replace("'rand': with_knobs(RIPU_ROWS['rand_region'], "
                                   "max_iters=20),\n", ''))
    ray_tmp = tempfile.mkdtemp(prefix='rk', dir='/tmp')  # short: Ray's socket paths must fit
    env = dict(os.environ, PYTHONWARNINGS='ignore', RAY_TMPDIR=ray_tmp,
               ADASWEEP_DATA=os.path.dirname(synthshift_root))
    bucket = f's3://adasweep/runs?{query}'
    args = ['--space', str(space), '--name', 'killed', '--max-concurrent', '1']
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, 'sweeps', 'run.py'), *args,
                             '--storage', bucket, '--local-dir', str(tmp_path / 'local')],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None and \
                not bucket_keys(endpoint, prefix='runs/killed/trials/'):
            time.sleep(0.5)
        assert proc.poll() is None, 'the sweep ended before a trial reported'
        assert bucket_keys(endpoint, prefix='runs/killed/trials/'), 'no trial reported'
    finally:
        kill_sessions([proc.pid])
        proc.wait()
    assert bucket_keys(endpoint, prefix='runs/killed/.driver.lease')  # the dead driver's
    local = ['--local-dir', str(tmp_path / 'local')]
    for point in ('checkpoint_upload:4', 'compact:1'):  # fixed points (adasweep_base.testing)
        before = bucket_keys(endpoint, prefix='runs/killed/tune/')
        proc = subprocess.Popen([sys.executable, os.path.join(REPO, 'sweeps', 'run.py'), *args,
                                 '--storage', bucket, *local], cwd=tmp_path,
                                env=dict(env, ADASWEEP_TEST_KILL_AT=point),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            proc.wait(timeout=600)
        finally:
            kill_sessions([proc.pid])
        assert proc.returncode == -9, f'{point}: never reached (exit {proc.returncode})'
        if point.startswith('checkpoint_upload'):
            new = sorted(set(bucket_keys(endpoint, prefix='runs/killed/tune/')) - set(before))
            assert any('/checkpoint_' in k for k in new), new
    for storage, extra in ((bucket, local),
                           (str(tmp_path / 'results'), [])):
        out = _cli('run.py', [*args, '--storage', storage, *extra], tmp_path, env)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        if storage == bucket:
            assert 'resuming sweep killed' in out.stdout, out.stdout[-3000:]
    import shutil
    shutil.rmtree(ray_tmp, ignore_errors=True)
    got = read_results(f's3://adasweep/runs/killed?{query}').to_pandas()
    want = read_results(str(tmp_path / 'results' / 'killed')).to_pandas()
    assert (got.status == 'ok').all() and got.trial_id.nunique() == 1
    iou = [c for c in want if c.startswith('iou_')]
    import pandas as pd
    pd.testing.assert_frame_equal(got[SAME + iou].reset_index(drop=True),
                                  want[SAME + iou].reset_index(drop=True))


WARMUP_SPACE = '''"""One ADeADA variant from a short warm-up."""
from sweeps.space import Space, Variant
from sweeps.spaces.rows import ADEADA_ROWS, with_knobs
SPACE = Space(name='warm', description=__doc__, seeds=1, variants={
    'rand': with_knobs(ADEADA_ROWS['rand'], max_iters=40),
})
'''


def test_a_warm_up_is_published_on_the_bucket_and_fetched_by_another_sweep(
        tmp_path, s3, synthshift_root):
    """The warm-up trains once (a Ray task, in the node-local cache) and is published on the
    bucket (`<prefix>/.warmup/...`); a second sweep with an empty --local-dir does not train it
    again: its trial downloads it, and starts from the same weights (the same rows)."""
    from sweeps.results import read_results
    endpoint, query = s3
    space = tmp_path / 'warm_space.py'
    space.write_text(WARMUP_SPACE)
    warm = tmp_path / 'warm.py'
    warm.write_text(f"_base_ = [{os.path.join(REPO, 'configs/adeada/synthshift/warmup.py')!r}]\n"
                    'train_cfg = dict(max_iters=30, val_interval=30)\n')
    env = {'ADASWEEP_DATA': os.path.dirname(synthshift_root)}
    bucket = f's3://adasweep/runs?{query}'
    outs = []
    for name in ('first', 'second'):
        out = _cli('run.py', ['--space', str(space), '--storage', bucket, '--name', name,
                              '--local-dir', str(tmp_path / f'local_{name}'), '--set',
                              f'warmup_config={warm}'], tmp_path, env)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        outs.append(out.stdout)
    assert 'warm-up: training' in outs[0] and 'warm-up: training' not in outs[1], outs[1]
    warmups = bucket_keys(endpoint, prefix='runs/.warmup/')
    assert sorted(k.rsplit('/', 1)[-1] for k in warmups) == ['warmup.json', 'warmup.pth']
    # the second sweep's node fetched it into its own cache; its trial's work dir is gone
    fetched = [os.path.join(d, f) for d, _, files in os.walk(tmp_path / 'local_second')
               for f in files]
    assert [os.path.basename(f) for f in fetched] == ['warmup.pth'], fetched
    first, second = (read_results(f's3://adasweep/runs/{n}?{query}').to_pandas()
                     for n in ('first', 'second'))
    assert (first.status == 'ok').all() and len(first) == len(second) > 1
    assert first.miou.tolist() == second.miou.tolist()
