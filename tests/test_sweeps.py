"""sweeps/run.py end to end on a real local Ray instance, plus its bad-input errors."""
import os
import shutil
import subprocess
import sys
import tempfile

import pyarrow.parquet as pq
import pytest
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
    (['--space', 'ripu_ablation', '--set', 'train_cfg.max_iters=abc'], 'expected a int'),
    (['--space', 'ripu_ablation', '--benchmark', 'kitti'], "unknown benchmark 'kitti'"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
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
    # the same command again: nothing is rerun, nothing duplicated
    again = _run(args, data_env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert 'resuming sweep tiny' in again.stdout
    rows2 = _rows(storage, 'tiny')
    assert len(rows2) == len(rows)
    assert set(rows2.trial_id) == set(rows.trial_id)
    assert (rows2.sort_values(['trial_id', 'round']).reported_at.values ==
            rows.sort_values(['trial_id', 'round']).reported_at.values).all()


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
    ok = rows[rows.variant != 'exploding']
    assert ok.is_final.sum() == 2 and (ok.status == 'ok').all()


def test_sigkill_of_the_whole_sweep_then_rerun(tmp_path, data_env):
    space, storage = _space(tmp_path, iters=40), str(tmp_path / 'results')
    args = ['--space', space, '--storage', storage, '--name', 'killed', '--max-concurrent', '1']
    ray_tmp = tempfile.mkdtemp(prefix='rk', dir='/tmp')  # short: Ray's socket paths must fit
    env = dict(data_env, RAY_TMPDIR=ray_tmp)
    sweep_killed_after_first_report(args, env, os.path.join(storage, 'killed', 'trials'))
    out = _run(args, env)
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = _rows(storage, 'killed')
    assert rows.trial_id.nunique() == 2
    for _, trial in rows.groupby('trial_id'):
        assert sorted(trial['round']) == [0, 1, 2, 3, 4, 5]
        assert trial.is_final.sum() == 1


@pytest.mark.slow
def test_ray_job_submit_to_a_local_cluster(tmp_path, data_env):
    """The README's `ray job submit --working-dir . -- python sweeps/run.py ... --address auto`
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
