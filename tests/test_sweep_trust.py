"""Unit tests of the sweep fixes of issues 12 (results you can trust) and 15 (cluster paths):
the Parquet callback driven with fake trials, error rows against ok rows in dedup, bad CLI input,
every space x scheduler as a dry run, `--set train_cfg.max_iters` = the `max_iters` knob, data
roots and --set paths made absolute, and the sweep folder's plan fingerprint and driver lock.

Issue 20: what --resume-anyway cannot apply is refused, the plan holds the space's metric, mode
and objectives and the data by what it is (a moved or renamed data folder keeps its plan and
warm-up), and a refused driver never removes a folder another driver made.

No Ray sweep runs here: the callback is called directly, and the sweep folder is driven through
`sweeps.plan.Plan` / `sweeps.folder.SweepFolder`. Modules under test are imported inside the tests, so each test
fails on its own against an older tree.
"""
import json
import os
import pickle
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from runner_utils import REPO

RUN_PY = os.path.join(REPO, 'sweeps', 'run.py')
ONE_VARIANT_SPACE = '''from sweeps.space import Space, Variant
from sweeps.spaces.rows import RIPU_ROWS, with_knobs
SPACE = Space(name={name!r}, description='a test space', seeds=1, variants={{
    {variant!r}: with_knobs(RIPU_ROWS[{config!r}], max_iters=20),
}})
'''


def _space_file(tmp_path, config='ripu_ra', variant='v', name='tiny'):
    path = tmp_path / f'{name}_{variant}_space.py'
    path.write_text(ONE_VARIANT_SPACE.format(name=name, variant=variant, config=config))
    return str(path)


@pytest.fixture(scope='module')
def data_root(synthshift_root):
    return os.path.dirname(synthshift_root)


# ---- 1. ParquetResultsCallback with fake trials -----------------------------------------------

class FakeTrial:
    def __init__(self, trial_id, variant='f_ripu', seed=0, params=None, error_file=None,
                 error_msg=None):
        self.trial_id = trial_id
        self.config = {'trial': {'variant': variant, 'seed': seed, 'params': dict(params or {})}}
        self.error_file, self.error_msg = error_file, error_msg


@pytest.fixture
def callback_current():
    """Restores the driver's callback (sweeps/driver_state.py) after the test."""
    from sweeps import driver_state
    from sweeps.parquet_callback import ParquetResultsCallback
    saved = driver_state.parquet_callback
    yield ParquetResultsCallback
    driver_state.parquet_callback = saved


def _callback(sweep_dir, sweep='sw'):
    from sweeps.parquet_callback import ParquetResultsCallback
    return ParquetResultsCallback(str(sweep_dir), sweep, 'tiny', 'synthshift', 'abc1234')


def _result(rnd, miou, final=False, **extra):
    return {'round': rnd, 'iteration': 10 * rnd + (5 if final else 0), 'mIoU': miou,
            'IoU.road': 50.0, 'labelled_fraction': 0.01 * rnd, 'pixels_bought': 100 * rnd,
            'units_bought': rnd, 'is_final': final, 'wall_seconds': 2.0, 'train_seconds': 1.0,
            **extra}


def _trial_rows(sweep_dir, trial_id):
    from sweeps.results import read_results
    rows = read_results(str(sweep_dir / 'trials' / f'{trial_id}.parquet')).to_pylist()
    return sorted(rows, key=lambda r: (r['round'], r['is_final']))


def test_error_after_two_rounds_keeps_round_two(tmp_path, callback_current):
    cb, trial = _callback(tmp_path), FakeTrial('t_a')
    error_file = tmp_path / 'error.txt'
    error_file.write_text('Traceback (most recent call last):\n  ...\nRuntimeError: boom\n')
    trial.error_file = str(error_file)
    cb.on_trial_result(1, [trial], trial, _result(1, 31.0))
    cb.on_trial_result(2, [trial], trial, _result(2, 32.0))
    cb.on_trial_error(3, [trial], trial)
    rows = _trial_rows(tmp_path, 't_a')
    assert [(r['round'], r['status']) for r in rows] == [(1, 'ok'), (2, 'ok'), (3, 'error')]
    assert rows[1]['miou'] == 32.0
    assert rows[2]['miou'] is None and rows[2]['error'] == 'RuntimeError: boom'


def test_error_before_the_first_report_is_replaced_by_a_successful_retry(tmp_path,
                                                                        callback_current):
    cb, trial = _callback(tmp_path), FakeTrial('t_b', error_msg='worker died')
    cb.on_trial_error(0, [trial], trial)
    rows = _trial_rows(tmp_path, 't_b')
    assert [(r['round'], r['status'], r['error']) for r in rows] == [(0, 'error', 'worker died')]
    cb.on_trial_result(1, [trial], trial, _result(1, 30.0))  # the retry's first evaluation
    rows = _trial_rows(tmp_path, 't_b')
    assert [(r['round'], r['status']) for r in rows] == [(1, 'ok')]
    cb.on_trial_error(2, [trial], trial)  # fails again, then the next retry goes on
    cb.on_trial_result(3, [trial], trial, _result(2, 33.0))
    cb.on_trial_result(4, [trial], trial, _result(3, 34.0, final=True))
    cb.on_trial_complete(5, [trial], trial)
    rows = _trial_rows(tmp_path, 't_b')
    assert [(r['round'], r['is_final'], r['status']) for r in rows] == [
        (1, False, 'ok'), (2, False, 'ok'), (3, True, 'ok')]


def test_a_trial_failing_after_its_final_evaluation_has_no_result(tmp_path, callback_current):
    """ADA-MCU's budget check (after training) failed a run after its final evaluation had been
    reported: the trial ended in error, yet its final 'ok' row made it a result in every table."""
    import pandas as pd

    from sweeps.results import final_ok
    cb, trial = _callback(tmp_path), FakeTrial('t_f', error_msg='RuntimeError: budget not spent')
    cb.on_trial_result(1, [trial], trial, _result(1, 31.0))
    cb.on_trial_result(2, [trial], trial, _result(1, 33.0, final=True))
    cb.on_trial_error(3, [trial], trial)
    rows = _trial_rows(tmp_path, 't_f')
    assert [(r['is_final'], r['status']) for r in rows if r['round'] == 1] == [
        (False, 'ok'), (True, 'error')]
    assert 'budget not spent' in rows[1]['error']
    assert final_ok(pd.DataFrame(rows)).empty


@pytest.mark.parametrize('bad, reason', [
    (dict(labelled_fraction=1.5), 'labelled_fraction'),
    ({'IoU.nosuchclass': 12.0}, 'nosuchclass'),
])
def test_a_result_failing_validation_becomes_an_error_row(tmp_path, callback_current, bad,
                                                          reason):
    cb, trial = _callback(tmp_path), FakeTrial('t_c')
    cb.on_trial_result(1, [trial], trial, _result(1, 30.0))
    cb.on_trial_result(2, [trial], trial, _result(2, 31.0, **bad))  # must not raise
    cb.on_trial_result(3, [trial], trial, _result(2, 31.5, **bad))  # nor on a repeat
    rows = _trial_rows(tmp_path, 't_c')
    assert [(r['round'], r['status']) for r in rows] == [(1, 'ok'), (2, 'error')]
    assert rows[0]['miou'] == 30.0
    assert 'invalid result' in rows[1]['error'] and reason in rows[1]['error']
    # an invalid re-report of an evaluation never replaces its good row
    cb.on_trial_result(4, [trial], trial, _result(1, 29.0, **bad))
    rows = _trial_rows(tmp_path, 't_c')
    assert (rows[0]['round'], rows[0]['status'], rows[0]['miou']) == (1, 'ok', 30.0)


def test_config_json_is_the_trials_own_config(tmp_path, callback_current, data_root):
    from sweeps.spaces import load_space
    from sweeps.trainable import write_trial_config
    from sweeps.trial_config import build_trial_config
    space = load_space('ripu_ablation')
    cb = _callback(tmp_path)
    for trial_id, seed in (('t_s0', 0), ('t_s1', 1)):
        cfg, _ = build_trial_config(space, 'synthshift', 'f_ripu', {}, seed, data_root=data_root)
        work = tmp_path / 'work' / trial_id
        work.mkdir(parents=True)
        write_trial_config(cfg, str(work))
        trial = FakeTrial(trial_id, seed=seed)
        cb.on_trial_result(1, [trial], trial, _result(1, 30.0 + seed))
    configs = {}
    for trial_id, seed in (('t_s0', 0), ('t_s1', 1)):
        (row,) = _trial_rows(tmp_path, trial_id)
        config = json.loads(row['config_json'])
        own = json.loads((tmp_path / 'work' / trial_id / 'trial_config.json').read_text())
        assert config == own
        assert config['randomness']['seed'] == seed
        configs[trial_id] = row['config_json']
    assert configs['t_s0'] != configs['t_s1']


def test_the_callback_unpickles_as_the_current_drivers_callback(tmp_path, callback_current):
    first = _callback(tmp_path / 'old_place', sweep='first')
    state = pickle.dumps(first)  # what Tune stores in the experiment state
    second = _callback(tmp_path / 'new_place', sweep='second')
    restored = pickle.loads(state)
    assert restored is second
    assert restored.sweep_dir == str(tmp_path / 'new_place')
    trial = FakeTrial('t_e')
    restored.on_trial_result(1, [trial], trial, _result(1, 30.0))
    assert (tmp_path / 'new_place' / 'trials' / 't_e.parquet').is_file()
    assert not (tmp_path / 'old_place').exists()
    # outside a driver (offline analysis) a restored callback writes nothing
    from sweeps import driver_state
    driver_state.parquet_callback = None
    inert = pickle.loads(state)
    assert not isinstance(inert, callback_current)
    inert.on_trial_result(1, [trial], trial, _result(1, 30.0))
    assert not (tmp_path / 'old_place').exists()


# ---- 2. dedup: an error row never replaces an ok row ------------------------------------------

def _row(status, reported_at, miou=None, trial_id='t1', rnd=2):
    from sweeps.results import make_row
    return make_row(sweep='s', space='sp', benchmark='synthshift', variant='v', trial_id=trial_id,
                    seed=0, round=rnd, iteration=20, status=status, miou=miou,
                    error='boom' if status == 'error' else None, reported_at=reported_at)


def test_dedup_keeps_the_ok_row_against_a_newer_error_row(tmp_path):
    import pyarrow.parquet as pq

    from sweeps.results import dedup_sort, read_results, rows_to_table
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    later = t0 + timedelta(hours=1)
    for rows in ([_row('ok', t0, 32.0), _row('error', later)],
                 [_row('error', later), _row('ok', t0, 32.0)]):
        out = dedup_sort(rows_to_table(rows)).to_pylist()
        assert [(r['status'], r['miou']) for r in out] == [('ok', 32.0)]
    # among ok rows (and among error rows) the newest still wins
    out = dedup_sort(rows_to_table([_row('ok', later, 33.0), _row('ok', t0, 32.0),
                                    _row('error', later), _row('error', t0)])).to_pylist()
    assert [(r['status'], r['miou']) for r in out] == [('ok', 33.0)]
    out = dedup_sort(rows_to_table([_row('error', t0, rnd=3), _row('error', later, rnd=3)]))
    assert out.num_rows == 1 and out['reported_at'][0].as_py() == later
    # read_results of a sweep folder (trial files before compaction) and of a trial file
    (tmp_path / 'trials').mkdir()
    pq.write_table(rows_to_table([_row('ok', t0, 32.0), _row('error', later)]),
                   tmp_path / 'trials' / 't1.parquet')
    for source in (tmp_path, tmp_path / 'trials' / 't1.parquet'):
        out = read_results(str(source)).to_pylist()
        assert [(r['status'], r['miou']) for r in out] == [('ok', 32.0)]


# ---- 3. bad CLI input: one line, exit 2, nothing written --------------------------------------

def _cli(args, cwd, timeout=240):
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    return subprocess.run([sys.executable, RUN_PY, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _assert_refused(args, tmp_path, *messages, storage=None):
    """`args` refused with one `error:` line naming `messages`; nothing written in tmp_path."""
    storage = storage if storage is not None else str(tmp_path / 'results')
    before = sorted(p.name for p in tmp_path.iterdir())
    out = _cli([*args, '--storage', storage], cwd=str(tmp_path))
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith('error: '), out.stderr[-2000:]
    for message in messages:
        assert message in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing created
    return lines[0]


@pytest.mark.parametrize('args, messages', [
    (['--num-samples', '0'], ['--num-samples 0', '>= 1']),
    (['--cpus-per-trial', '-1'], ['--cpus-per-trial -1', '>= 0']),
    (['--gpus-per-trial', '-1'], ['--gpus-per-trial -1']),
    (['--gpus-per-trial', '1.5'], ['--gpus-per-trial 1.5']),
    (['--max-concurrent', '-1'], ['--max-concurrent -1', '>= 0']),
    (['--name', '../x'], ["--name '../x'"]),
    (['--address', 'ray://127.0.0.1:10001'], ['ray://127.0.0.1:10001', 'ray job submit']),
], ids=['num-samples-0', 'cpus-neg', 'gpus-neg', 'gpus-1.5', 'max-concurrent-neg', 'name-dotdot',
        'ray-client'])
def test_bad_resources_and_names_are_refused(tmp_path, args, messages):
    work = tmp_path / 'cwd'
    work.mkdir()
    _assert_refused(['--space', 'ripu_ablation', *args], work, *messages)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['cwd']  # ../x not made either


def test_an_absolute_name_is_refused(tmp_path):
    target = tmp_path / 'elsewhere'
    _assert_refused(['--space', 'ripu_ablation', '--name', str(target)], tmp_path, str(target))


def test_storage_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / 'afile'
    path.write_text('keep me\n')
    _assert_refused(['--space', 'ripu_ablation'], tmp_path, str(path), 'not a folder',
                    storage=str(path))
    assert path.read_text() == 'keep me\n'


def test_storage_under_an_unwritable_folder_is_refused(tmp_path):
    if os.geteuid() == 0:
        pytest.skip('root may write anywhere (os.access says writable)')
    locked = tmp_path / 'locked'
    locked.mkdir()
    locked.chmod(0o500)
    try:
        _assert_refused(['--space', 'ripu_ablation'], tmp_path, 'not writable',
                        storage=str(locked / 'results'))
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_storage_uri_whose_endpoint_does_not_answer_is_refused(tmp_path):
    from ray_cluster import free_port
    uri = f's3://bucket/x?endpoint_override=127.0.0.1:{free_port()}&scheme=http'
    _assert_refused(['--space', 'ripu_ablation'], tmp_path, 's3://bucket/x', 'does not answer',
                    storage=uri)
    assert not (tmp_path / 's3:').exists()


def test_set_load_from_a_missing_file_is_refused(tmp_path, data_root):
    space = _space_file(tmp_path)
    _assert_refused(['--space', space, '--data-root', data_root, '--set',
                     'load_from=/no/such/file.pth'], tmp_path, '/no/such/file.pth',
                    'no such file')


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_an_impossible_budget_is_refused_before_anything_starts(tmp_path, data_root):
    space = _space_file(tmp_path, config='rand_region')
    _assert_refused(['--space', space, '--data-root', data_root, '--set',
                     'custom_hooks.0.budget.ratio=1.0'], tmp_path, 'budget', 'ratio=1.0',
                    'larger than the pool')


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_asha_on_trials_that_report_once_is_refused(tmp_path, data_root):
    space = _space_file(tmp_path, config='target_oracle', variant='oracle')
    _assert_refused(['--space', space, '--data-root', data_root, '--scheduler', 'asha'],
                    tmp_path, '--scheduler asha', 'report 1 time')


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_pbt_on_a_space_without_axes_is_refused(tmp_path, data_root):
    space = _space_file(tmp_path, config='target_oracle', variant='oracle')
    _assert_refused(['--space', space, '--data-root', data_root, '--scheduler', 'pbt'],
                    tmp_path, '--scheduler pbt', 'axes')


# ---- 3b. every space with every scheduler it allows, as a dry run -----------------------------

def _dry_run(capsys, storage, data_root, *args):
    from sweeps.run import main
    code = main([*args, '--data-root', data_root, '--storage', storage, '--dry-run'])
    out = capsys.readouterr()
    return code, out


def _check_space_schedulers(name, tmp_path, capsys, data_root):
    from sweeps.plan import Plan
    from sweeps.run import parse_args
    storage = str(tmp_path / 'results')
    plan = Plan(parse_args(['--space', name, '--data-root', data_root, '--storage', storage,
                            '--scheduler', 'fifo']))
    space = plan.space
    reports = plan.reports  # evaluations + the final one, of the trial that reports most
    # True: builds (exit 0); False: one `error:` line naming it (exit 2); None: either (PBT on
    # a grid, see test_pbt_on_a_grid_keeps_each_trials_grid_values; PBT with optuna, see
    # test_pbt_with_optuna_search_is_refused)
    allowed = {'fifo': True,
               'asha': reports >= 2 and not space.objectives,
               'pbt': bool(space.axes) and not space.objectives and None}
    for scheduler, ok in allowed.items():
        if ok is None and space.search == 'optuna':
            continue  # accepted now: a known bug
        code, out = _dry_run(capsys, storage, data_root, '--space', name,
                             '--scheduler', scheduler)
        lines = [ln for ln in out.err.strip().splitlines() if ln.startswith('error: ')]
        refused = code == 2 and len(lines) == 1 and f'--scheduler {scheduler}' in lines[0]
        if ok or (ok is None and code == 0):
            assert code == 0 and not lines, (name, scheduler, out.err[-2000:])
        else:
            assert refused, (name, scheduler, out.err[-2000:])
    assert not os.path.exists(storage)


FAST_SPACES = ('adamcu_gamma', 'ripu_budget', 'ripu_optuna', 'ripu_optuna_pareto')


@pytest.mark.parametrize('name', FAST_SPACES)
def test_space_schedulers_dry_run(name, tmp_path, capsys, data_root):
    _check_space_schedulers(name, tmp_path, capsys, data_root)


@pytest.mark.slow
def test_every_space_with_every_scheduler_dry_run(tmp_path, capsys, data_root):
    from sweeps.spaces import known_spaces
    for name in known_spaces():
        if name not in FAST_SPACES:
            _check_space_schedulers(name, tmp_path, capsys, data_root)


def test_asha_on_adamcu_is_refused_before_ray(tmp_path, capsys, data_root):
    """Issue 12 item 7: ADA-MCU trials report once (no select_iters); ASHA with max_t=1 against
    grace_period=2 used to assert only after the warm-up had trained."""
    code, out = _dry_run(capsys, str(tmp_path / 'r'), data_root, '--space', 'adamcu_gamma',
                         '--scheduler', 'asha')
    assert code == 2 and 'report 1 time' in out.err
    from sweeps.plan import Plan
    from sweeps.run import parse_args
    plan = Plan(parse_args(['--space', 'ripu_budget', '--data-root', data_root, '--storage',
                            str(tmp_path / 'r'), '--scheduler', 'asha']))
    assert plan.reports == 6  # 5 selection rounds + the final evaluation
    assert plan.tune_scheduler._max_t == 6


def test_pbt_with_optuna_search_is_refused(tmp_path, capsys, data_root):
    code, out = _dry_run(capsys, str(tmp_path / 'r'), data_root, '--space', 'ripu_optuna',
                         '--scheduler', 'pbt')
    assert code == 2 and 'error: ' in out.err and 'pbt' in out.err


class _FakeTuneTrial:
    """What PopulationBasedTraining.on_trial_add reads of a Tune Trial."""

    def __init__(self, config):
        from types import SimpleNamespace

        from ray.tune import CheckpointConfig
        self.config, self.evaluated_params, self.experiment_tag = config, {}, 'tag'
        self.run_metadata = SimpleNamespace(checkpoint_manager=SimpleNamespace(
            checkpoint_config=CheckpointConfig(num_to_keep=4)))


def test_pbt_on_a_grid_keeps_each_trials_grid_values(tmp_path, data_root):
    from types import SimpleNamespace

    from sweeps.common import SweepError
    from sweeps.plan import Plan
    from sweeps.run import parse_args
    from sweeps.trial_config import trial_spec
    try:
        plan = Plan(parse_args(['--space', 'ripu_budget', '--data-root', data_root, '--storage',
                                str(tmp_path / 'r'), '--scheduler', 'pbt']))
    except SweepError as err:  # refusing PBT on a grid is a fix too
        assert 'pbt' in str(err)
        return
    from ray.tune.search.variant_generator import generate_variants
    plan.tune_scheduler.set_search_properties('miou', 'max')
    ran = []
    for _, config in generate_variants(plan.param_space):  # the trial configs Tune makes
        trial = _FakeTuneTrial(config)
        plan.tune_scheduler.on_trial_add(SimpleNamespace(search_alg=None), trial)
        variant, seed, knobs = trial_spec(trial.config)
        ran.append((variant, seed, knobs['budget_ratio']))
    assert sorted(ran) == sorted((t['variant'], t['seed'], t['params']['budget_ratio'])
                                 for t in plan.trials)


def test_set_a_dict_value_on_a_dict_key(tmp_path, capsys, data_root):
    space = _space_file(tmp_path)
    code, out = _dry_run(capsys, str(tmp_path / 'r'), data_root, '--space', space, '--set',
                         "custom_hooks.0.budget={'ratio': 0.03}")
    assert code == 0, out.err


# ---- 4. --set train_cfg.max_iters is the max_iters knob ---------------------------------------

@pytest.mark.parametrize('space_name, variant', [('ripu_ablation', 'f_ripu'),
                                                 ('adeada_ablation', 'e_adeada'),
                                                 ('strategy_curve', 'adamcu')])
def test_set_max_iters_rescales_like_the_knob(space_name, variant):
    from sweeps.spaces import load_space
    from sweeps.trial_config import active_hook, build_trial_config
    space = load_space(space_name)
    base, _ = build_trial_config(space, 'synthshift', variant, {}, 0)
    by_set, _ = build_trial_config(space, 'synthshift', variant, {}, 0,
                                   sets={'train_cfg.max_iters': 1200})
    by_knob, _ = build_trial_config(space, 'synthshift', variant, {'max_iters': 1200}, 0)
    old = base.train_cfg.max_iters
    assert old != 1200

    def parts(cfg):
        return dict(train_cfg=cfg.train_cfg.to_dict(),
                    schedulers=[dict(s) for s in cfg.param_scheduler],
                    select_iters=active_hook(cfg).get('select_iters'),
                    eval_iters=active_hook(cfg).get('eval_iters'))

    assert parts(by_set) == parts(by_knob)
    assert by_set.to_dict() == by_knob.to_dict()
    got = parts(by_set)
    assert got['train_cfg']['max_iters'] == 1200 and got['train_cfg']['val_interval'] == 1200
    for sched, before in zip(got['schedulers'], base.param_scheduler):
        if before.get('end') == old:
            assert sched['end'] == 1200
        if 'period' in before:
            assert sched['period'] == before['period'] * 1200 // old
    hook = active_hook(base)
    for key in ('select_iters', 'eval_iters'):  # ADA-MCU: its evaluations, the others: rounds
        if hook.get(key) is not None:
            assert got[key] == [i * 1200 // old for i in hook[key]]


# ---- 5. paths: data roots under --data-root, --set paths absolute -----------------------------

def _dataset_roots(cfg):
    roots = []

    def walk(node):
        if isinstance(node, dict):
            if 'data_root' in node and node.get('type'):
                roots.append(node['data_root'])
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)
    walk(cfg.to_dict())
    return roots


def test_rebase_data_roots_of_the_gta5_configs(tmp_path):
    from mmengine.config import Config

    from sweeps.paths import data_roots, rebase_data_roots
    cfg = Config.fromfile(os.path.join(REPO, 'configs/ripu/gta5_to_cityscapes.py'))
    assert any(not os.path.isabs(r) for r in _dataset_roots(cfg))  # relative as shipped
    root = tmp_path / 'data'
    rebase_data_roots(cfg, str(root))
    roots = _dataset_roots(cfg)
    assert roots and all(r.startswith(str(root) + os.sep) for r in roots), roots
    assert data_roots(cfg) == [str(root / 'cityscapes'), str(root / 'gta5')]
    rebase_data_roots(cfg, str(tmp_path / 'other'))  # absolute roots are left alone
    assert data_roots(cfg) == [str(root / 'cityscapes'), str(root / 'gta5')]


@pytest.mark.parametrize('benchmark, names', [('gta5_to_cityscapes', ['cityscapes', 'gta5']),
                                              ('synthia_to_cityscapes', ['cityscapes', 'synthia']),
                                              ('synthshift', ['synthshift'])])
def test_build_trial_config_puts_every_dataset_under_the_data_root(tmp_path, benchmark, names):
    from sweeps.paths import data_roots
    from sweeps.spaces import load_space
    from sweeps.trial_config import build_trial_config
    root = tmp_path / 'data'
    cfg, _ = build_trial_config(load_space('ripu_ablation'), benchmark, 'f_ripu', {}, 0,
                                data_root=str(root))
    assert data_roots(cfg) == [str(root / n) for n in names]
    assert all(r.startswith(str(root) + os.sep) for r in _dataset_roots(cfg))


def test_absolute_sets(tmp_path):
    from sweeps.paths import absolute_sets
    sets = {'load_from': 'ckpt/a.pth', 'model.backbone.init_cfg.checkpoint': './w.pth',
            'train_dataloader.dataset.data_root': '../d', 'work_dir': '/abs/w',
            'resume_from': 's3://bucket/c.pth', 'model.decode_head.tau': 0.1,
            'optim_wrapper.optimizer.type': 'SGD', 'custom_hooks.0.strategy': 'ripu_ra',
            'train_cfg.max_iters': 100, 'some_dir': ''}
    out = absolute_sets(sets, str(tmp_path / 'cwd'))
    assert out == dict(sets, **{
        'load_from': str(tmp_path / 'cwd' / 'ckpt' / 'a.pth'),
        'model.backbone.init_cfg.checkpoint': str(tmp_path / 'cwd' / 'w.pth'),
        'train_dataloader.dataset.data_root': str(tmp_path / 'd')})


def test_plan_resolves_set_paths_and_data_root_against_the_users_directory(tmp_path, data_root):
    from sweeps.plan import Plan
    from sweeps.run import parse_args
    (tmp_path / 'ckpt.pth').write_bytes(b'')
    rel_data = os.path.relpath(data_root, tmp_path)
    plan = Plan(parse_args(['--space', _space_file(tmp_path), '--data-root', rel_data,
                            '--storage', str(tmp_path / 'results'), '--set',
                            'load_from=ckpt.pth']),
                cwd=str(tmp_path))
    assert plan.sets == {'load_from': str(tmp_path / 'ckpt.pth')}
    assert plan.data_root == os.path.abspath(data_root)
    assert plan.context()['sets'] == plan.sets and plan.context()['data_root'] == plan.data_root
    assert plan.configs['v']['load_from'] == str(tmp_path / 'ckpt.pth')
    assert not (tmp_path / 'results').exists()


# ---- 6. the sweep folder: one plan, one driver ------------------------------------------------

def _plan(space, storage, data_root, *extra, name='tiny'):
    from sweeps.plan import Plan
    from sweeps.run import parse_args
    return Plan(parse_args(['--space', space, '--storage', str(storage), '--name', name,
                            '--data-root', data_root, *extra]))


def _flock_from_another_process(path):
    code = ('import fcntl, sys\nf = open(sys.argv[1], "a+")\ntry:\n'
            '    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept OSError:\n'
            '    sys.exit(3)\n')
    return subprocess.run([sys.executable, '-c', code, str(path)], timeout=60).returncode


def test_sweep_folder_plan_fingerprint_and_lock(tmp_path, data_root):
    from sweeps.common import SweepError
    from sweeps.folder import HISTORY_FILE, LOCK_FILE, PLAN_FILE, SweepFolder
    space, storage = _space_file(tmp_path), tmp_path / 'results'
    plan = _plan(space, storage, data_root)
    folder = SweepFolder(plan)
    folder.acquire()
    try:
        sweep = storage / 'tiny'
        assert folder.check_plan(resuming=False) == {}
        folder.record('start')
        assert (sweep / PLAN_FILE).is_file()
        history = [json.loads(ln) for ln in (sweep / HISTORY_FILE).read_text().splitlines()]
        assert [h['event'] for h in history] == ['start']
        assert SweepFolder(plan).check_plan(resuming=True) == {}  # the same command resumes

        # a second driver on the folder is refused while the first holds it
        with pytest.raises(SweepError, match=f'in use by another driver.*pid {os.getpid()}'):
            SweepFolder(plan).acquire()
        assert _flock_from_another_process(sweep / LOCK_FILE) == 3  # still held after that

        # another plan under the same name: refused, naming what differs and --name, and
        # --resume-anyway where it can go on (not with more seeds: Tune keeps its grid)
        for extra, key, anyway in ((['--seeds', '2'], 'seeds', False),
                                   (['--set', 'optim_wrapper.optimizer.lr=0.001'], 'sets', True)):
            other = SweepFolder(_plan(space, storage, data_root, *extra))
            with pytest.raises(SweepError) as err:
                other.check_plan(resuming=True)
            message = str(err.value)
            assert f'{key}:' in message and '--name' in message
            assert ('--resume-anyway' in message) == anyway
            assert '\n' not in message
        anyway = SweepFolder(_plan(space, storage, data_root, '--set',
                                   'optim_wrapper.optimizer.lr=0.001', '--resume-anyway'))
        assert set(anyway.check_plan(resuming=True)) == {'sets', 'configs'}
    finally:
        folder.lock.close()
    assert _flock_from_another_process(sweep / LOCK_FILE) == 0  # released with the driver

    # a moved sweep folder (storage and data elsewhere) still matches its plan
    moved_storage, moved_data = tmp_path / 'moved_storage', tmp_path / 'moved_data'
    shutil.copytree(sweep, moved_storage / 'tiny')
    shutil.copytree(data_root, moved_data, symlinks=True)
    moved = SweepFolder(_plan(space, moved_storage, str(moved_data)))
    assert moved.check_plan(resuming=True) == {}


def test_a_data_root_inside_storage_moved_out_still_resumes(tmp_path, data_root):
    from sweeps.folder import SweepFolder
    space, storage = _space_file(tmp_path), tmp_path / 'shared'
    shutil.copytree(data_root, storage / 'data', symlinks=True)
    folder = SweepFolder(_plan(space, storage, str(storage / 'data')))
    folder.acquire()
    try:
        folder.record('start')
    finally:
        folder.lock.close()
    shutil.move(str(storage / 'data'), str(tmp_path / 'data_moved'))
    moved = SweepFolder(_plan(space, storage, str(tmp_path / 'data_moved')))
    assert moved.check_plan(resuming=True) == {}


def test_results_without_tune_state_are_refused(tmp_path, data_root):
    from sweeps.common import SweepError
    from sweeps.folder import SweepFolder
    space, storage = _space_file(tmp_path), tmp_path / 'results'
    plan = _plan(space, storage, data_root)
    trials = storage / 'tiny' / 'trials'
    trials.mkdir(parents=True)
    (trials / 'abc_00000.parquet').write_bytes(b'')
    folder = SweepFolder(plan)
    # no plan.json (an older adasweep): refused unless --resume-anyway adopts it
    with pytest.raises(SweepError, match='no plan.json'):
        folder.check_plan(resuming=False)
    # with a plan, but tune/ is gone: a new Tune experiment would double the trials
    folder.acquire()
    try:
        folder.record('start')
        with pytest.raises(SweepError, match='Tune state.*another --name'):
            folder.check_plan(resuming=False)
        anyway = SweepFolder(_plan(space, storage, data_root, '--resume-anyway'))
        with pytest.raises(SweepError, match='Tune state'):
            anyway.check_plan(resuming=False)
    finally:
        folder.lock.close()


def test_trials_take_the_drivers_warmup_path_not_their_environment(monkeypatch, tmp_path):
    """Issue 15 item 2: a trial gets the warm-up checkpoint the driver computed (context
    'warmups'), whatever ADASWEEP_DATA its node has."""
    from sweeps.spaces import load_space
    from sweeps.trial_config import build_trial_config
    space = load_space('adeada_ablation')
    driver, _ = build_trial_config(space, 'synthshift', 'e_adeada', {}, 0,
                                   storage=str(tmp_path), data_root=str(tmp_path / 'data'))
    monkeypatch.setenv('ADASWEEP_DATA', str(tmp_path / 'elsewhere'))
    trial, _ = build_trial_config(space, 'synthshift', 'e_adeada', {}, 0,
                                  storage=str(tmp_path / 'other'),
                                  data_root=str(tmp_path / 'data'),
                                  warmups={driver.warmup_config: driver.load_from})
    assert trial.load_from == driver.load_from
    assert trial.train_dataloader.dataset.target.data_root == str(tmp_path / 'data' / 'synthshift')


# ---- 7. issue 20: resume-anyway, metric/mode in the plan, data identity, racing drivers -------

def _started(space, storage, data_root, *extra):
    from sweeps.folder import SweepFolder
    folder = SweepFolder(_plan(space, storage, data_root, *extra))
    folder.acquire()
    try:
        folder.record('start')
    finally:
        folder.lock.close()
    return folder


@pytest.mark.parametrize('extra, key', [
    (['--seeds', '2'], 'seeds'),
    (['--scheduler', 'asha'], 'scheduler'),
    (['--cpus-per-trial', '2'], 'cpus_per_trial'),
], ids=['seeds', 'scheduler', 'cpus'])
def test_resume_anyway_refuses_what_a_resumed_sweep_cannot_run(tmp_path, data_root, extra, key):
    """Issue 20 item 3: Tuner.restore keeps the first plan's trials, scheduler and resources,
    so --resume-anyway with another of them is refused in one line (run() then records
    nothing); a changed config of the unfinished trials is still accepted."""
    from sweeps.common import SweepError
    from sweeps.folder import SweepFolder
    space, storage = _space_file(tmp_path), tmp_path / 'results'
    _started(space, storage, data_root)
    other = SweepFolder(_plan(space, storage, data_root, *extra, '--resume-anyway'))
    with pytest.raises(SweepError) as err:
        other.check_plan(resuming=True)
    message = str(err.value)
    assert '--resume-anyway cannot change' in message and f'{key}:' in message
    assert '--name' in message and '\n' not in message


def test_the_plan_holds_the_metric_mode_and_objectives(tmp_path, data_root):
    """Issue 20 item 7: they drive ASHA and Optuna, so a space that changes them is another
    plan."""
    from sweeps.common import SweepError
    from sweeps.folder import SweepFolder
    storage = tmp_path / 'results'
    path = tmp_path / 'metric_space.py'
    text = ONE_VARIANT_SPACE.format(name='tiny', variant='v', config='ripu_ra')
    path.write_text(text)
    _started(str(path), storage, data_root)
    for change, key in (("seeds=1, mode='min'", 'mode'), ("seeds=1, metric='miou13'", 'metric'),
                        ("seeds=1, search='optuna', objectives=[('miou', 'max'), "
                         "('pixels_bought', 'min')]", 'objectives')):
        path.write_text(text.replace('seeds=1', change))
        plan = _plan(str(path), storage, data_root, *(['--search', 'grid'] if 'optuna' in change
                                                      else []))
        with pytest.raises(SweepError, match=f'{key}:'):
            SweepFolder(plan).check_plan(resuming=True)


ADEADA_SPACE = '''from sweeps.space import Space
from sweeps.spaces.rows import ADEADA_ROWS, with_knobs
SPACE = Space(name='tiny_adeada', description='a test space', seeds=1, configs='adeada',
              variants={'adeada': with_knobs(ADEADA_ROWS['adeada'], max_iters=20)})
'''


def test_a_moved_or_renamed_data_folder_keeps_its_plan_and_warmup(tmp_path, data_root):
    """Issue 20 item 4: the warm-up checkpoint and the plan name the data by what it is: a
    moved data folder (here to a non-ASCII path) resumes and finds its trained warm-up;
    other data (another meta.json) is another plan and another warm-up."""
    from sweeps.folder import SweepFolder
    space = tmp_path / 'adeada_space.py'
    space.write_text(ADEADA_SPACE)
    storage, data = tmp_path / 'results', tmp_path / 'data'
    shutil.copytree(os.path.join(data_root, 'synthshift'), data / 'synthshift')
    first = _started(str(space), storage, str(data))
    (path,) = first.plan.warmups
    os.makedirs(os.path.dirname(path))
    open(path, 'wb').close()  # as if trained
    moved = tmp_path / 'dätä ü'
    shutil.move(str(data), str(moved))
    again = SweepFolder(_plan(str(space), storage, str(moved)))
    assert list(again.plan.warmups) == [path]  # the trained one: not retrained
    assert again.check_plan(resuming=True) == {}
    assert again.plan.fingerprint() == first.plan.fingerprint()
    meta = moved / 'synthshift' / 'meta.json'
    meta.write_text(meta.read_text().replace('"seed": 0', '"seed": 7'))
    other = SweepFolder(_plan(str(space), storage, str(moved)))
    assert list(other.plan.warmups) != [path]
    now, before = other.plan.fingerprint(), first.plan.fingerprint()
    assert {k for k in now if now[k] != before[k]} == {'data', 'configs'}  # configs: load_from


def test_data_digest_of_a_dataset_without_meta(tmp_path):
    """Real datasets (no meta.json): their relative file list and sizes, not their path; the
    superpixel cache the region hooks write inside the root is not data."""
    from sweeps.paths import data_digest
    root = tmp_path / 'a' / 'gta5'
    for rel, size in (('images/00001.png', 10), ('images/00002.png', 12),
                      ('labels/00001_labelTrainIds.png', 3)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b'x' * size)
    first = data_digest(str(root))
    shutil.move(str(root), str(tmp_path / 'ß'))
    assert data_digest(str(tmp_path / 'ß')) == first
    (tmp_path / 'ß' / 'superpixel' / 'slic_n40_c10').mkdir(parents=True)
    (tmp_path / 'ß' / 'superpixel' / 'slic_n40_c10' / 'x.npy').write_bytes(b'1')
    assert data_digest(str(tmp_path / 'ß')) == first
    (tmp_path / 'ß' / 'images' / '00002.png').write_bytes(b'x' * 13)
    os.utime(tmp_path / 'ß', ns=(1, 1))  # a new cache key: the digest is taken again
    assert data_digest(str(tmp_path / 'ß')) not in (first, None)
    assert data_digest(str(tmp_path / 'none')) is None


def test_a_refused_driver_never_removes_a_folder_it_did_not_make(tmp_path, data_root,
                                                                  monkeypatch, capsys):
    """Issue 20 item 6: driver B decides nothing about the folder before it holds the lock.
    The interleaving: B is started on a new sweep; driver A makes the folder and takes the lock
    just before B does; B is refused and leaves A's folder (and lock) alone."""
    from sweeps import run
    from sweeps.folder import LOCK_FILE
    space, storage = _space_file(tmp_path), tmp_path / 'results'
    sweep = storage / 'tiny'
    held = []
    real = run.SweepFolder.acquire

    def a_wins_then_b(self):
        sweep.mkdir(parents=True)
        (sweep / 'made_by_a').write_text('a\n')
        lock = open(sweep / LOCK_FILE, 'a+')  # A's own open file: B's flock fails
        import fcntl
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write('pid A\n')
        lock.flush()
        held.append(lock)
        return real(self)
    monkeypatch.setattr(run.SweepFolder, 'acquire', a_wins_then_b)
    code = run.main(['--space', space, '--storage', str(storage), '--name', 'tiny',
                     '--data-root', data_root, '--quiet'])
    err = capsys.readouterr().err
    assert code == 2 and 'in use by another driver (pid A)' in err
    try:
        assert (sweep / 'made_by_a').read_text() == 'a\n'
        assert _flock_from_another_process(sweep / LOCK_FILE) == 3  # A still holds it
    finally:
        held[0].close()
    monkeypatch.setattr(run.SweepFolder, 'acquire', real)
    # a refused driver that made the folder and holds it leaves nothing; a folder it found
    # (its own from before, or another driver's) it leaves as it is
    mine = run.SweepFolder(_plan(space, storage, data_root, name='mine'))
    mine.acquire()
    assert mine.created and (storage / 'mine').is_dir()
    mine.abandon()
    assert not (storage / 'mine').exists()
    found = run.SweepFolder(_plan(space, storage, data_root))
    found.acquire()
    assert not found.created
    found.abandon()
    found.lock.close()
    assert (sweep / 'made_by_a').is_file()


def test_first_sweep_on_ungenerated_synthshift_trains_its_warm_up(tmp_path, monkeypatch,
                                                                   synthshift_root):
    """A first `run.py --space adamcu_ablation` on a machine without SynthShift: the configs
    were built (and their warm-up checkpoint named by the data) before SynthShift was generated,
    so the plan named no warm-up to train while every trial, built with the data there, looked
    for a checkpoint nobody trained (FileNotFoundError in every trial, and 'no trial finished')."""
    import mmseg_ext.datasets
    from sweeps.plan import Plan
    from sweeps.run import parse_args
    from sweeps.trial_config import build_trial_config, warmup_target
    data_root = tmp_path / 'data'  # empty: the driver generates SynthShift into it
    data_root.mkdir()
    made = []

    def generate(root=None, progress=True, **params):  # the session's tiny SynthShift, copied
        shutil.copytree(synthshift_root, root)
        made.append(root)
        return root
    monkeypatch.setattr(mmseg_ext.datasets, 'ensure_synthshift', generate)
    storage = str(tmp_path / 'results')
    plan = Plan(parse_args(['--space', 'adamcu_gamma', '--data-root', str(data_root),
                            '--storage', storage]))
    assert made
    assert len(plan.warmups) == 1
    (path, _), = plan.warmups.items()
    trial = plan.trials[0]  # as the trainable builds it, with the data there
    cfg, _ = build_trial_config(plan.space, plan.benchmark, trial['variant'], trial['params'],
                                trial['seed'], plan.sets, storage=storage,
                                data_root=str(data_root))
    assert warmup_target(cfg) == path
    assert all(c['load_from'] == path for c in plan.configs.values())
