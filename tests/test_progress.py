"""sweeps/progress.py: trial names, the console tables, the best-variant summary (no Ray run)."""
import pickle
from datetime import datetime, timezone

import pytest

from sweeps import driver_state
from sweeps.console import best_summary, final_rows, format_trials
from sweeps.naming import one_line, trial_name, tune_trial_dirname
from sweeps.progress import ConsoleProgress, SweepCallbacks
from sweeps.results import rows_to_table


def test_trial_names_of_grid_and_flat_configs():
    assert trial_name({'trial': {'variant': 'ripu_ra', 'seed': 0, 'params': {}}}) == 'ripu_ra-s0'
    assert trial_name({'trial': {'variant': 'ripu_ra', 'seed': 2, 'params': {'k': 2}}}) == \
        'ripu_ra-s2-k=2'
    # Optuna / PBT: flat keys; floats to 3 significant digits, dotted names by their last part
    assert trial_name({'variant': 'v', 'seed': 1, 'tau': 0.0512345, 'model.alpha1': 0.1}) == \
        'v-s1-tau=0.0512-alpha1=0.1'
    assert '/' not in trial_name({'trial': {'variant': 'a/b', 'seed': 0, 'params': {}}})


class _Trial:
    def __init__(self, trial_id, config, status='RUNNING', last_result=None):
        self.trial_id, self.config, self.status = trial_id, config, status
        self.last_result = last_result or {}
        self.error_file, self.error_msg = None, None


def test_dirname_is_name_and_id():
    trial = _Trial('ab12c_00003', {'trial': {'variant': 'rand', 'seed': 1, 'params': {}}})
    assert tune_trial_dirname(trial) == 'rand-s1_ab12c_00003'


def _row(trial_id, variant, seed, rnd, miou, final=False, status='ok', lf=0.02, error=None):
    return dict(sweep='sw', space='tiny', benchmark='synthshift', variant=variant,
                trial_id=trial_id, trial_name=f'{variant}-s{seed}', seed=seed, round=rnd,
                iteration=10 * rnd, labelled_fraction=lf, metrics={'mIoU': miou},
                is_final=final, status=status, error=error, wall_seconds=61.0,
                reported_at=datetime(2026, 1, 1, 0, 0, rnd, tzinfo=timezone.utc))


def _table():
    rows = []
    for seed, (r, f) in enumerate([(30.0, 33.0), (31.0, 34.9)]):
        rows += [_row(f'r{seed}', 'rand', seed, 0, 20.0), _row(f'r{seed}', 'rand', seed, 1, r,
                                                               final=True)]
        rows += [_row(f'f{seed}', 'ripu_ra_2.2%', seed, 1, f, final=True)]
        rows += [_row(f'o{seed}', 'oracle', seed, 0, 60.0, final=True, lf=1.0)]
    rows += [_row('x0', 'exploding', 0, 0, 10.0),
             _row('x0', 'exploding', 0, 1, None, status='error',
                  error='Traceback ...\nFloatingPointError: non-finite training loss nan')]
    return rows_to_table(rows)


def test_best_summary_names_the_best_variant_in_words():
    text = best_summary(_table())
    assert text.startswith('best: ripu_ra_2.2% (mean mIoU 33.95 over 2 seeds)')
    assert 'upper bound oracle 60.00' in text  # trains on every target label: named apart


def test_final_rows_and_the_table():
    rows, errors = final_rows(_table(), ['rand', 'ripu_ra_2.2%', 'oracle', 'exploding'])
    assert [r['variant'] for r in rows][:2] == ['rand', 'rand']
    byname = {r['trial']: r for r in rows}
    assert byname['rand-s1']['status'] == 'done' and byname['rand-s1']['miou'] == 31.0
    assert byname['exploding-s0']['status'] == 'error'
    assert errors == [('exploding-s0', 'FloatingPointError: non-finite training loss nan')]
    text = format_trials(rows)
    header = text.splitlines()[0].split()
    assert header == ['trial', 'variant', 'seed', 'status', 'round', 'labelled', 'mIoU',
                      'elapsed']
    assert 'rand-s1' in text and '31.00' in text and '2.00%' in text and '1:01' in text


def test_one_line_keeps_the_reason():
    assert one_line('Traceback (most recent call last):\n  File x\nValueError: bad\n') == \
        'ValueError: bad'
    assert one_line('') == 'trial failed'


def test_console_progress_lines(capsys):
    progress = ConsoleProgress(interval=0)
    trial = _Trial('t1', {'trial': {'variant': 'rand', 'seed': 0, 'params': {}}})
    progress.on_trial_start(0, [trial], trial)
    trial.last_result = {'round': 5, 'labelled_fraction': 0.0271, 'mIoU': 9.654, 'is_final': True,
                         'wall_seconds': 12.0}
    progress.on_trial_complete(0, [trial], trial)
    trial.error_msg = 'RuntimeError: boom'
    progress.on_trial_error(0, [trial], trial)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith('started  rand-s0')
    assert out[1] == 'finished rand-s0: round 5, labelled 2.71%, mIoU 9.65'
    assert out[2] == 'error    rand-s0 (t1): RuntimeError: boom'
    assert 'rand-s0' in progress.table([trial])
    quiet = ConsoleProgress(quiet=True)
    quiet.on_trial_start(0, [trial], trial)
    assert capsys.readouterr().out == ''


@pytest.fixture
def restore_current():
    saved = driver_state.sweep_callbacks
    yield
    driver_state.sweep_callbacks = saved


def test_driver_callbacks_unpickle_as_the_current_drivers(restore_current):
    first = SweepCallbacks([ConsoleProgress(quiet=True)])
    data = pickle.dumps(first)
    second = SweepCallbacks([ConsoleProgress(quiet=False)])
    assert pickle.loads(data) is second
