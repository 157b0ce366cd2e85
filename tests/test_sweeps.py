"""sweeps/run.py end to end on a real local Ray instance, plus its bad-input errors."""
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

import pyarrow.parquet as pq
import pytest
from ray_cluster import free_port
from runner_utils import REPO, sweep_killed_after_first_report

TINY_SPACE = '''"""A tiny space for tests."""
from sweeps.space import Space, Variant
from sweeps.spaces.rows import RIPU_ROWS, with_knobs
SPACE = Space(name='tiny', description=__doc__, seeds=1, variants={{
    'rand': with_knobs(RIPU_ROWS['rand_region'], max_iters={iters}),
    'f_ripu': with_knobs(RIPU_ROWS['ripu_ra'], max_iters={iters}),
{extra}}})
'''


@pytest.fixture(scope='module')
def data_env(tmp_path_factory, synthshift_root):
    return dict(os.environ, ADASWEEP_DATA=os.path.dirname(synthshift_root),
                PYTHONWARNINGS='ignore', RAY_DEDUP_LOGS='0')


def _space(tmp_path, iters=20, extra=''):
    path = tmp_path / 'tiny_space.py'
    path.write_text(TINY_SPACE.format(iters=iters, extra=extra))
    return str(path)


def _run(args, env, timeout=420, **kw):
    return subprocess.run([sys.executable, 'sweeps/run.py', *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, **kw)


def _rows(storage, name):
    return pq.read_table(os.path.join(storage, name, 'results.parquet')).to_pandas()


@pytest.mark.slow  # long for the default run (about 10 s or more)
def test_dry_run_lists_trials_and_writes_nothing(tmp_path):
    out = _run(['--space', 'ripu_ablation', '--dry-run', '--storage', str(tmp_path / 'r')],
               os.environ)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count('seed=') == 24 and 'fully_supervised' in out.stdout
    assert not (tmp_path / 'r').exists()


@pytest.mark.parametrize('args, message', [
    (['--space', 'nope'], "unknown space 'nope'; known spaces: adamcu_ablation"),
    (['--space', 'ripu_ablation', '--search', 'bayes'], "unknown search 'bayes'"),
    (['--space', 'ripu_ablation', '--scheduler', 'hyper'], "unknown scheduler 'hyper'"),
    (['--space', 'ripu_ablation', '--set', 'model.nope=1'], 'unknown config key'),
    (['--space', 'ripu_ablation', '--set', 'train_cfg.max_iters=abc'], 'expected an integer'),
    (['--space', 'ripu_ablation', '--benchmark', 'kitti'], "unknown benchmark 'kitti'"),
    (['--space', 'ripu_ablation', '--tracking', 'neptune'], "--tracking 'neptune': unknown "
     'tracking backend'),
    (['--space', 'ripu_ablation', '--tracking-uri', 'http://127.0.0.1:5000'],
     '--tracking-uri http://127.0.0.1:5000: needs --tracking mlflow'),
    (['--space', 'ripu_ablation', '--tracking', 'mlflow', '--tracking-uri', 'UNREACHABLE'],
     'cannot reach the MLflow tracking server' if importlib.util.find_spec('mlflow') else
     'mlflow is not installed'),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    if 'UNREACHABLE' in args:  # a loopback port nothing listens on
        args = [f'http://127.0.0.1:{free_port()}' if a == 'UNREACHABLE' else a for a in args]
    out = _run([*args, '--storage', str(tmp_path / 'r')], os.environ, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and message in lines[0]
    assert not (tmp_path / 'r').exists()


def test_tables_on_a_missing_sweep(tmp_path):
    out = subprocess.run([sys.executable, 'sweeps/tables.py', 'nope', '--storage',
                          str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith('error: ')
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # long for the default run (about 10 s or more)
def test_sweep_writes_rows_per_round_and_resumes(tmp_path, data_env):
    oracle = "    'oracle': with_knobs(RIPU_ROWS['target_oracle'], max_iters=20),\n"
    space, storage = _space(tmp_path, extra=oracle), str(tmp_path / 'results')
    args = ['--space', space, '--storage', storage, '--name', 'tiny']
    out = _run(args, data_env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    rows = _rows(storage, 'tiny')
    assert sorted(rows.variant.unique()) == ['f_ripu', 'oracle', 'rand']
    for _, trial in rows[rows.variant != 'oracle'].groupby('trial_id'):
        assert sorted(trial['round']) == [0, 1, 2, 3, 4, 5]  # before each round, and the end
        final = trial[trial.is_final]
        assert len(final) == 1 and final.iloc[0].iteration == 20
        assert (trial.status == 'ok').all() and trial.miou.notna().all()
        assert final.iloc[0].labelled_fraction > 0.02
        assert (0 < trial.train_seconds).all() and (trial.train_seconds < trial.wall_seconds).all()
    oracle_row = rows[rows.variant == 'oracle'].iloc[0]  # trains on every target label
    assert oracle_row.is_final and oracle_row.labelled_fraction == 1.0
    assert oracle_row.pixels_bought == 24 * 64 * 128  # the tiny SynthShift's target-train pixels
    assert '| rand' in out.stdout and '| f_ripu' in out.stdout  # the table is printed
    _check_names_and_console(storage, 'tiny', rows, out.stdout)
    _check_tensorboard(storage, 'tiny', rows)
    # the same command again: nothing is rerun, nothing duplicated
    again = _run(args, data_env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert 'resuming sweep tiny' in again.stdout
    rows2 = _rows(storage, 'tiny')
    assert len(rows2) == len(rows)
    assert set(rows2.trial_id) == set(rows.trial_id)
    assert (rows2.sort_values(['trial_id', 'round']).reported_at.values ==
            rows.sort_values(['trial_id', 'round']).reported_at.values).all()


@pytest.mark.slow  # two sweeps and a refused one
def test_rerun_after_trial_files_are_gone_and_the_data_moved_keeps_the_table(
        tmp_path, data_env, synthshift_root):
    """Issue 20 end to end: --resume-anyway with more seeds than the restored Tuner can run is
    refused in one line and records nothing (item 3); with its trial files deleted and its data
    folder moved to a non-ASCII path, the same sweep resumes and its table is unchanged (items
    2 and 4)."""
    data = tmp_path / 'data'
    shutil.copytree(synthshift_root, data / 'synthshift')
    space, storage = _space(tmp_path), str(tmp_path / 'results')
    args = ['--space', space, '--storage', storage, '--name', 'keep']
    out = _run(args + ['--data-root', str(data)], data_env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    key = ['trial_id', 'round', 'is_final']
    before = _rows(storage, 'keep').sort_values(key).reset_index(drop=True)
    assert len(before) == 12
    sweep = os.path.join(storage, 'keep')
    recorded = ('plan.json', 'sweep.json', 'configs.json', 'history.jsonl')

    def snapshot():
        return {n: open(os.path.join(sweep, n), 'rb').read() for n in recorded}
    first = snapshot()
    refused = _run(args + ['--data-root', str(data), '--seeds', '2', '--resume-anyway'],
                   data_env)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2, refused.stdout[-3000:] + refused.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith('error: --resume-anyway cannot change')
    assert 'seeds: 1 -> 2' in lines[0]
    assert snapshot() == first
    shutil.rmtree(os.path.join(sweep, 'trials'))
    moved = tmp_path / 'dätä ü'
    shutil.move(str(data), str(moved))
    again = _run(args + ['--data-root', str(moved)], data_env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert 'resuming sweep keep' in again.stdout and '2 trials, 12 result rows' in again.stdout
    after = _rows(storage, 'keep').sort_values(key).reset_index(drop=True)
    assert after.equals(before)


def _check_names_and_console(storage, name, rows, stdout):
    """Trials named <variant>-s<seed> in the Parquet rows, Tune's trial folders and the
    console; the final table and the best variant in words."""
    names = dict(zip(rows.trial_id, rows.trial_name))
    assert sorted(set(names.values())) == ['f_ripu-s0', 'oracle-s0', 'rand-s0']
    tune_dirs = {d for d in os.listdir(os.path.join(storage, name, 'tune'))
                 if os.path.isdir(os.path.join(storage, name, 'tune', d))}
    assert tune_dirs == {f'{n}_{t}' for t, n in names.items()}
    for n in names.values():
        assert f'started  {n} (' in stdout and f'finished {n}: round ' in stdout
    lines = stdout.splitlines()
    header = [i for i, ln in enumerate(lines) if ln.split() == [
        'trial', 'variant', 'seed', 'status', 'round', 'labelled', 'mIoU', 'elapsed']]
    assert header, stdout[-3000:]
    final = lines[header[-1] + 2:header[-1] + 5]
    assert [ln.split()[0] for ln in final] == ['rand-s0', 'f_ripu-s0', 'oracle-s0']
    assert all(ln.split()[3] == 'done' for ln in final)
    best = [ln for ln in lines if ln.startswith('best: ')]
    ok = rows[rows.is_final & (rows.variant != 'oracle')].set_index('variant').miou
    winner = ok.idxmax()
    assert best == [f'best: {winner} (mean mIoU {ok[winner]:.2f} over 1 seed); upper bound '
                    f'oracle {rows[rows.variant == "oracle"].miou.iloc[0]:.2f} (trained on '
                    'every target label)']
    assert 'Configuration for experiment' not in stdout  # Tune's own console is off


def _check_tensorboard(storage, name, rows):
    """`tensorboard --logdir <storage>/<name>`: one run per trial, read back with
    TensorBoard's own reader: mIoU and per-class IoU against round and labelled fraction equal
    the Parquet rows; losses, learning rate and selection seconds are there."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    root = os.path.join(storage, name, 'tensorboard')
    for trial_id, trial in rows.groupby('trial_id'):
        run = os.path.join(root, f'{trial.trial_name.iloc[0]}_{trial_id}')
        events = EventAccumulator(run, size_guidance={'scalars': 0})
        events.Reload()
        tags = set(events.Tags()['scalars'])
        assert {'loss', 'decode.loss_ce', 'lr', 'mIoU'} <= tags, sorted(tags)
        trial = trial.sort_values('round')
        by_round = {e.step: e.value for e in events.Scalars('by_round/mIoU')}
        assert sorted(by_round) == list(trial['round'])
        for _, row in trial.iterrows():
            assert by_round[row['round']] == pytest.approx(row.miou, abs=1e-4)
        by_labelled = {e.step: e.value for e in events.Scalars('by_labelled/mIoU')}
        assert sorted(by_labelled) == sorted(round(1e4 * f) for f in trial.labelled_fraction)
        road = {e.step: e.value for e in events.Scalars('by_round/IoU.road')}
        assert road[trial['round'].iloc[-1]] == pytest.approx(trial.iou_road.iloc[-1], abs=1e-4)
        lr = [e.value for e in events.Scalars('lr')]
        assert lr[0] > lr[-1] >= 0  # the poly schedule
        if trial.variant.iloc[0] != 'oracle':  # five selection rounds, logged per round
            assert {'src.loss_lcr', 'tgt.loss_nl'} <= tags or trial.variant.iloc[0] == 'rand'
            seconds = events.Scalars('selection/seconds')
            assert [e.step for e in seconds] == [1, 2, 3, 4, 5]
            assert all(e.value > 0 for e in seconds)


@pytest.mark.slow  # long for the default run (about 10 s or more)
def test_a_failing_trial_is_recorded_retried_and_the_sweep_goes_on(tmp_path, data_env):
    extra = "    'exploding': with_knobs(RIPU_ROWS['ripu_ra'], max_iters=20, lr=1e12),\n"
    space, storage = _space(tmp_path, extra=extra), str(tmp_path / 'results')
    out = _run(['--space', space, '--storage', storage, '--name', 'nan', '--max-failures', '1'],
               data_env)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = _rows(storage, 'nan')
    bad = rows[rows.variant == 'exploding']
    assert (bad.status == 'error').any()
    assert bad[bad.status == 'error'].error.str.contains('non-finite training loss').all()
    assert (bad.status == 'error').sum() == 1  # one row per evaluation slot, retries replace
    # the console: the trial's name and the one-line reason, at each failure and at the end
    failed = [ln for ln in out.stdout.splitlines() if 'exploding-s0' in ln and
              'non-finite training loss' in ln]
    assert any(ln.startswith('failed   exploding-s0 (') and 'retrying' in ln for ln in failed)
    assert any(ln.startswith('error    exploding-s0 (') for ln in failed)
    assert any(ln.startswith('error in exploding-s0: FloatingPointError: non-finite training '
                             'loss') for ln in failed)
    assert 'Traceback' not in out.stdout + out.stderr
    ok = rows[rows.variant != 'exploding']
    assert ok.is_final.sum() == 2 and (ok.status == 'ok').all()


@pytest.mark.slow  # long; tests/test_kill_anywhere.py kills at every stage in the slow run too
def test_sigkill_of_the_whole_sweep_then_rerun(tmp_path, data_env):
    space, storage = _space(tmp_path, iters=40), str(tmp_path / 'results')
    args = ['--space', space, '--storage', storage, '--name', 'killed', '--max-concurrent', '1']
    ray_tmp = tempfile.mkdtemp(prefix='rk', dir='/tmp')  # short: Ray's socket paths must fit
    env = dict(data_env, RAY_TMPDIR=ray_tmp)
    sweep_killed_after_first_report(args, env, os.path.join(storage, 'killed', 'trials'))
    out = _run(args + ['--quiet'], env)
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = _rows(storage, 'killed')
    # --quiet: the trials ran, but only the final table is printed
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith('2 trials, 12 result rows in '), out.stdout[:2000]
    assert lines[1].split()[:3] == ['trial', 'variant', 'seed']
    assert lines[-1].startswith('best: ')
    assert not any(ln.startswith(('started', 'finished', 'resuming', 'sweep killed'))
                   for ln in lines)
    assert rows.trial_id.nunique() == 2
    for _, trial in rows.groupby('trial_id'):
        assert sorted(trial['round']) == [0, 1, 2, 3, 4, 5]
        assert trial.is_final.sum() == 1


@pytest.mark.slow
def test_ray_job_submit_to_a_local_cluster(tmp_path, data_env):
    """docs/cluster.md's `ray job submit --working-dir . -- python sweeps/run.py ... --address auto`
    to a cluster on loopback with token authentication (tests/ray_cluster.py), the data root
    passed as --data-root (no environment variable reaches the trials)."""
    from ray_cluster import RayCluster
    space, storage = _space(tmp_path, iters=20), str(tmp_path / 'results')
    ray_bin = os.path.join(os.path.dirname(sys.executable), 'ray')
    with RayCluster(num_workers=1, worker_cpus=2, worker_gpus=0) as cluster:
        env = cluster.env(base={k: v for k, v in data_env.items() if k != 'ADASWEEP_DATA'})
        job = subprocess.run(
            [ray_bin, 'job', 'submit', '--address', cluster.dashboard_url, '--working-dir', '.',
             '--', sys.executable, 'sweeps/run.py', '--space', space, '--storage', storage,
             '--name', 'job', '--address', 'auto',
             '--data-root', data_env['ADASWEEP_DATA']],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert 'succeeded' in job.stdout + job.stderr
    rows = _rows(storage, 'job')
    assert rows.is_final.sum() == 2 and (rows.status == 'ok').all()


@pytest.fixture
def mlflow_server(tmp_path):
    """A real `mlflow server` on 127.0.0.1 (a free port), SQLite backend and artifact root in
    tmp_path, in a session of its own; stopped by its pid (process group) afterwards."""
    import signal
    import time
    import urllib.request
    port = free_port()
    log_path = tmp_path / 'mlflow_server.log'
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(
            [sys.executable, '-m', 'mlflow', 'server', '--host', '127.0.0.1', '--port', str(port),
             '--backend-store-uri', f'sqlite:///{tmp_path}/mlflow.db',
             '--default-artifact-root', str(tmp_path / 'mlflow_artifacts'), '--workers', '1'],
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f'http://127.0.0.1:{port}'
    try:
        deadline = time.time() + 240
        while True:
            try:
                urllib.request.urlopen(f'{uri}/health', timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f'mlflow server did not start: {log_path.read_text()[-2000:]}')
                time.sleep(1)
        yield uri
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec('mlflow') is None,
                    reason="needs the optional extra: pip install -e '.[mlflow]'")
def test_tracking_mlflow_logs_every_trial_as_a_run(tmp_path, data_env, mlflow_server):
    """`--tracking mlflow --tracking-uri URI`: one experiment named after the sweep, one run per
    trial named after it, with its parameters and the per-round metrics of the Parquet rows."""
    from mlflow.tracking import MlflowClient
    space, storage = _space(tmp_path, iters=20), str(tmp_path / 'results')
    out = _run(['--space', space, '--storage', storage, '--name', 'mlf', '--tracking', 'mlflow',
                '--tracking-uri', mlflow_server], data_env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    rows = _rows(storage, 'mlf')
    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name('mlf')
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ['f_ripu-s0', 'rand-s0']
    for run in runs:
        trial = rows[rows.trial_name == run.info.run_name].sort_values('round')
        assert run.info.status == 'FINISHED'
        assert run.data.tags['adasweep.trial_id'] == trial.trial_id.iloc[0]
        params = run.data.params
        assert params['variant'] == trial.variant.iloc[0] and params['seed'] == '0'
        assert params['max_iters'] == '20' and params['trial_name'] == run.info.run_name
        history = client.get_metric_history(run.info.run_id, 'mIoU')
        assert [m.step for m in history] == list(trial['round'])
        assert [m.value for m in history] == pytest.approx(list(trial.miou), abs=1e-4)
        fractions = client.get_metric_history(run.info.run_id, 'labelled_fraction')
        assert [m.value for m in fractions] == pytest.approx(list(trial.labelled_fraction))
        assert 'IoU.road' in run.data.metrics and 'round' in run.data.metrics
