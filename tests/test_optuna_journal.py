"""Optuna sweeps keep their study in the sweep folder (<sweep>/optuna.journal, JournalStorage
with the NFS-safe open lock): a finished sweep's study holds its trials, a dry run writes none,
and a killed sweep resumes in the same study."""
import os
import pickle
import shutil
import subprocess
import sys
import tempfile

import optuna
import pytest
from runner_utils import REPO, sweep_killed_after_first_report

OPTUNA_SPACE = '''"""A tiny Optuna space for tests."""
from sweeps.space import Axis, Space, Variant
from sweeps.spaces.rows import RIPU_ROWS, with_knobs
SPACE = Space(name='tiny_optuna', description=__doc__, seeds=1,
              variants={{'f_ripu': with_knobs(RIPU_ROWS['ripu_ra'], max_iters={iters})}},
              axes={{'tau': Axis(low=0.01, high=0.2)}},
              metric='miou', mode='max', search='optuna', scheduler='fifo', num_samples=2)
'''


@pytest.fixture(scope='module')
def data_env(synthshift_root):
    return dict(os.environ, ADASWEEP_DATA=os.path.dirname(synthshift_root),
                PYTHONWARNINGS='ignore', RAY_DEDUP_LOGS='0')


def _space(tmp_path, iters=20):
    path = tmp_path / 'tiny_optuna.py'
    path.write_text(OPTUNA_SPACE.format(iters=iters))
    return str(path)


def _run(args, env, timeout=420):
    return subprocess.run([sys.executable, 'sweeps/run.py', *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _study(path, name='opt'):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
    storage = JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
    return optuna.load_study(study_name=name, storage=storage)


def _final_taus(sweep):
    import pyarrow.parquet as pq
    rows = pq.read_table(os.path.join(sweep, 'results.parquet')).to_pandas()
    final = rows[rows.is_final & (rows.status == 'ok')]
    assert final.trial_id.is_unique
    return sorted(final.param_tau)


def _assert_study_matches(sweep):
    trials = _study(os.path.join(sweep, 'optuna.journal')).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert sorted(t.params['tau'] for t in trials) == pytest.approx(_final_taus(sweep))
    assert all(set(t.params) == {'tau'} for t in trials)
    return trials


@pytest.mark.slow
def test_the_study_is_in_the_sweep_folder_and_a_dry_run_writes_none(tmp_path, data_env):
    space, storage = _space(tmp_path), str(tmp_path / 'results')
    args = ['--space', space, '--storage', storage, '--name', 'opt']
    out = _run(args, data_env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    sweep = os.path.join(storage, 'opt')
    trials = _assert_study_matches(sweep)
    assert all(t.values[0] > 0 for t in trials)
    assert not os.path.exists(os.path.join(sweep, 'optuna.journal.lock'))  # released
    # the same command again: resumes, nothing rerun, the study is the same
    size = os.path.getsize(os.path.join(sweep, 'optuna.journal'))
    again = _run(args, data_env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert 'resuming sweep opt' in again.stdout
    assert os.path.getsize(os.path.join(sweep, 'optuna.journal')) == size

    fresh = tmp_path / 'fresh'
    dry = _run(['--space', space, '--storage', str(fresh), '--name', 'opt', '--dry-run'],
               data_env, timeout=180)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert '2 optuna trials over tau' in dry.stdout
    assert not fresh.exists()


def test_the_plan_writes_nothing_and_a_saved_searcher_follows_its_folder(tmp_path, synthshift_root):
    """What the Plan builds (also for --dry-run) writes nothing; run()'s searcher is the
    journal's, and pickled (as Tune saves it) it follows the sweep folder it is resumed in."""
    from sweeps import driver_state
    from sweeps.plan import Plan
    from sweeps.run import parse_args
    from sweeps.search import searcher as make_searcher
    storage = tmp_path / 'r'
    plan = Plan(parse_args(['--space', _space(tmp_path), '--storage', str(storage),
                            '--name', 'opt', '--data-root', os.path.dirname(synthshift_root),
                            '--dry-run']))
    assert plan.searcher is not None and not storage.exists()
    old = driver_state.journal_folder
    try:
        os.makedirs(plan.sweep_dir)
        searcher, _ = make_searcher(plan, persist=True)
        journal = os.path.join(plan.sweep_dir, 'optuna.journal')
        assert os.path.isfile(journal)
        config = searcher.suggest('t1')
        searcher.on_trial_complete('t1', {'miou': 1.5, **config})
        state = tmp_path / 'searcher.pkl'
        searcher.save(str(state))  # what Tune does, with the standard pickle
        # the sweep folder moved: the restored searcher writes into the moved journal
        moved = tmp_path / 'moved' / 'opt'
        shutil.move(plan.sweep_dir, moved)
        driver_state.journal_folder = str(moved)
        restored, _ = make_searcher(plan, persist=False)
        restored.restore(str(state))
        config = restored.suggest('t2')
        restored.on_trial_complete('t2', {'miou': 2.5, **config})
        assert not os.path.exists(journal)
        trials = _study(moved / 'optuna.journal').trials
        assert [t.values[0] for t in trials] == [1.5, 2.5]
        assert pickle.loads(pickle.dumps(restored._ot_study._storage._backend)).path == \
            str(moved / 'optuna.journal')
    finally:
        driver_state.journal_folder = old


@pytest.mark.slow
def test_a_killed_sweep_resumes_in_the_same_study(tmp_path, data_env):
    # in place: after a move, Tune 2.60 starts the trials it has not created yet under the old
    # path (its SearchGenerator state keeps the first run's storage), whatever the journal does
    space, storage = _space(tmp_path, iters=40), str(tmp_path / 'results')
    args = ['--space', space, '--storage', storage, '--name', 'opt', '--max-concurrent', '1']
    ray_tmp = tempfile.mkdtemp(prefix='rk', dir='/tmp')  # short: Ray's socket paths must fit
    env = dict(data_env, RAY_TMPDIR=ray_tmp)
    sweep_killed_after_first_report(args, env, os.path.join(storage, 'opt', 'trials'))
    journal = os.path.join(storage, 'opt', 'optuna.journal')
    before = _study(journal).trials
    assert len(before) == 1 and not before[0].state.is_finished()  # killed in its first trial
    out = _run(args, env)
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert 'resuming sweep opt' in out.stdout
    trials = _assert_study_matches(os.path.join(storage, 'opt'))
    assert trials[0].params == before[0].params  # the same study, its first trial finished
    assert optuna.get_all_study_names(_study(journal)._storage) == ['opt']  # one study
