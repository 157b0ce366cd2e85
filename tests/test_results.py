"""sweeps.results on real Parquet files: rows, atomic trial files, unification, dedup, reading."""
import os
import threading
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sweeps.results import (CLASS_NAMES_19, RESULT_SCHEMA, TrialResultWriter, iou_column,
                            make_row, metrics_to_columns, read_results)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def row(trial_id='t0', round=0, is_final=False, miou=50.0, seed=0, variant='ripu', params=None,
        at=0, **kw):
    return make_row(sweep='s', space='ripu_ablation', benchmark='synthshift', variant=variant,
                    trial_id=trial_id, seed=seed, round=round, iteration=100 * (round + 1),
                    status='ok', is_final=is_final, metrics={'mIoU': miou},
                    params=params if params is not None else {'tau': 0.05},
                    reported_at=T0 + timedelta(seconds=at), **kw)


def test_schema_and_names():
    assert CLASS_NAMES_19[6] == 'traffic light' and len(CLASS_NAMES_19) == 19
    assert iou_column('traffic light') == 'iou_traffic_light'
    names = RESULT_SCHEMA.names
    assert names[:8] == ['sweep', 'space', 'benchmark', 'variant', 'trial_id', 'seed', 'round',
                         'iteration']
    assert names[13:32] == [iou_column(c) for c in CLASS_NAMES_19]
    assert names[-1] == 'reported_at' and RESULT_SCHEMA.field('reported_at').type.tz == 'UTC'
    assert RESULT_SCHEMA.field('miou13').nullable and not RESULT_SCHEMA.field('seed').nullable


def test_make_row_and_metrics():
    cols = metrics_to_columns({'mIoU': 45.1, 'mIoU13': 50.0, 'IoU.road': 90.2, 'aAcc': 93.0,
                               'val/IoU.traffic light': float('nan')})
    assert cols == {'miou': 45.1, 'miou13': 50.0, 'iou_road': 90.2, 'iou_traffic_light': None}
    with pytest.raises(ValueError, match='unknown class'):
        metrics_to_columns({'IoU.dragon': 1.0})
    r = row(params={'model': {'tau': 0.05}, 'k': 1}, config={'a': [1, 2]}, labelled_fraction=0.02)
    assert r['param_model_tau'] == 0.05 and r['param_k'] == 1 and r['miou'] == 50.0
    assert r['params_json'] == '{"k": 1, "model.tau": 0.05}' and r['config_json'] == '{"a": [1, 2]}'
    assert r['iou_road'] is None and r['error'] is None and list(r)[:5] == RESULT_SCHEMA.names[:5]
    assert make_row(**r) == r
    with pytest.raises(ValueError, match=r"missing required field\(s\) \['seed'\]"):
        make_row(**{**r, 'seed': None})
    for bad, msg in (({'status': 'done'}, 'status'), ({'bogus': 1}, 'unknown field'),
                     ({'labelled_fraction': 2.2}, 'labelled_fraction'),
                     ({'error': 'boom'}, 'error given'), ({'round': 1.5}, 'integer')):
        with pytest.raises(ValueError, match=msg):
            make_row(**{**r, **bad})


def test_atomic_rewrites_while_reader_polls(tmp_path):
    w = TrialResultWriter(tmp_path / 'sw')
    rows = [row(round=r, at=r) for r in range(20)]
    w.write_trial('t0', rows[:1])
    path, errors, reads, done = w.trial_path('t0'), [], [0], threading.Event()

    def reader():
        while not done.is_set():
            try:
                # read_results opens each file once; plain pq.read_table(path) opens it twice
                # (footer, then pages) and can fail under os.replace: see docs/results-schema.md
                n = read_results(path).num_rows
                assert 1 <= n <= 20 and read_results(tmp_path / 'sw').num_rows >= 1
                reads[0] += 1
            except Exception as e:  # noqa: BLE001  (collected, asserted below)
                errors.append(repr(e))

    th = threading.Thread(target=reader)
    th.start()
    try:
        for i in range(50):
            w.write_trial('t0', rows[:1 + i % 20])
    finally:
        done.set()
        th.join()
    assert not errors and reads[0] > 0
    assert sorted(p.name for p in (tmp_path / 'sw' / 'trials').iterdir()) == ['t0.parquet']


def test_rerun_overwrites_without_duplicates(tmp_path):
    w = TrialResultWriter(tmp_path / 'sw')
    w.write_trial('t0', [row(round=0)])
    w.write_trial('t0', [row(round=0), row(round=1, at=1)])
    w.write_trial('t0', [row(round=0), row(round=1, at=1)])  # rerun of the same reports
    t = w.compact()
    assert t['round'].to_pylist() == [0, 1]
    assert sorted(p.name for p in (tmp_path / 'sw').iterdir()) == ['results.parquet', 'trials']
    with pytest.raises(ValueError, match='other trials'):
        w.write_trial('t1', [row(trial_id='t0')])


def test_schema_unification(tmp_path):
    w = TrialResultWriter(tmp_path / 'sw')
    w.write_trial('t0', [row('t0', params={'lr': 1})])  # int lr, no tau
    w.write_trial('t1', [row('t1', params={'lr': 0.5, 'tau': 0.05, 'name': 'x'})])
    w.write_trial('t2', [row('t2', params={'lr': 2, 'name': 3})])  # int vs string -> string
    old = row('t3').copy()  # a file from an older writer: no units_bought column, int32 seed
    t_old = pa.Table.from_pylist([old]).drop_columns(['units_bought'])
    pq.write_table(t_old.set_column(t_old.schema.get_field_index('seed'), 'seed',
                                    t_old['seed'].cast(pa.int32())), w.trial_path('t3'))
    assert 'param_tau' not in pq.read_schema(w.trial_path('t0')).names
    assert pq.read_schema(w.trial_path('t0')).field('param_lr').type == pa.int64()
    t = w.compact()
    assert t.schema.names[:len(RESULT_SCHEMA)] == RESULT_SCHEMA.names
    assert t.schema.field('param_lr').type == pa.float64()
    assert t.schema.field('seed').type == pa.int64()
    assert t['trial_id'].to_pylist() == ['t0', 't1', 't2', 't3']
    assert t['param_lr'].to_pylist() == [1.0, 0.5, 2.0, None]
    assert t['param_tau'].to_pylist() == [None, 0.05, None, 0.05]
    assert t['param_name'].to_pylist() == [None, 'x', '3', None]
    assert t['units_bought'].null_count == 4
    assert pq.read_table(tmp_path / 'sw' / 'results.parquet').schema.names == t.schema.names


def test_dedup_keeps_latest_and_sorts(tmp_path):
    w = TrialResultWriter(tmp_path / 'sw')
    w.write_trial('b', [row('b', variant='rand', round=1, at=5), row('b', variant='rand', at=4)])
    w.write_trial('a', [row('a', miou=1.0, at=9), row('a', miou=2.0, at=3),
                        row('a', round=1, is_final=True, miou=7.0, at=10),
                        row('a', round=1, miou=6.0, at=8)])
    t = w.compact()
    got = list(zip(t['variant'].to_pylist(), t['trial_id'].to_pylist(), t['round'].to_pylist(),
                   t['is_final'].to_pylist(), t['miou'].to_pylist()))
    assert got == [('rand', 'b', 0, False, 50.0), ('rand', 'b', 1, False, 50.0),
                   ('ripu', 'a', 0, False, 1.0), ('ripu', 'a', 1, False, 6.0),
                   ('ripu', 'a', 1, True, 7.0)]


def test_read_results_file_folder_and_newer_trials(tmp_path):
    w = TrialResultWriter(tmp_path / 'sw')
    for i in range(3):
        w.write_trial(f't{i}', [row(f't{i}', seed=i)])
    assert read_results(tmp_path / 'sw').num_rows == 3  # before compaction: trial files
    compacted = w.compact()
    assert read_results(tmp_path / 'sw' / 'results.parquet').equals(compacted)
    w.write_trial('t1', [row('t1', seed=1, miou=60.0, at=1), row('t1', seed=1, round=1, at=2)])
    w.write_trial('t9', [row('t9', seed=9, params={'new': True})])  # a new param column too
    t = read_results(tmp_path / 'sw')
    assert t['trial_id'].to_pylist() == ['t0', 't1', 't1', 't2', 't9']
    assert t['miou'].to_pylist() == [50.0, 60.0, 50.0, 50.0, 50.0]
    assert t['param_new'].to_pylist() == [None, None, None, None, True]
    sub = read_results(tmp_path / 'sw', columns=['miou', 'variant'])
    assert sub.column_names == ['miou', 'variant'] and sub.num_rows == 5


def test_missing_sweep_error(tmp_path):
    TrialResultWriter(tmp_path / 'alpha').write_trial('t0', [row()])
    TrialResultWriter(tmp_path / 'beta').compact()
    (tmp_path / 'not_a_sweep').mkdir()
    with pytest.raises(FileNotFoundError) as e:
        read_results(tmp_path / 'gamma')
    msg = str(e.value)
    assert 'gamma' in msg and 'alpha, beta' in msg and '\n' not in msg
    with pytest.raises(FileNotFoundError, match='no results.parquet'):
        read_results(tmp_path / 'not_a_sweep')
    with pytest.raises(FileNotFoundError, match='no sweeps under'):
        read_results(tmp_path / 'empty' / 'x')


def _table_rows(table):
    return sorted(table.to_pylist(), key=lambda r: (r['trial_id'], r['round'], r['is_final']))


def test_read_results_decides_by_the_rows_not_by_file_times(tmp_path):
    """Issue 20 item 8: a folder copied without its file times, or with adversarial times,
    reads as the same table: the rows' own report times decide, not mtimes."""
    import shutil
    w = TrialResultWriter(tmp_path / 'sw')
    w.write_trial('t0', [row()])
    w.write_trial('t1', [row('t1', seed=1)])
    w.compact()
    w.write_trial('t0', [row(miou=70.0, at=1)])  # reported again after the compaction
    want = _table_rows(read_results(tmp_path / 'sw'))
    assert [r['miou'] for r in want] == [70.0, 50.0]
    results = tmp_path / 'sw' / 'results.parquet'
    now = results.stat().st_mtime
    for compacted, trial in ((now + 3600, now - 3600), (now - 3600, now + 3600)):
        os.utime(results, (compacted, compacted))
        os.utime(w.trial_path('t0'), (trial, trial))
        assert _table_rows(read_results(tmp_path / 'sw')) == want
    # copied without times (the copy's trial files may be older or newer than its results)
    copy = tmp_path / 'copy'
    shutil.copytree(tmp_path / 'sw', copy, copy_function=shutil.copyfile)
    assert _table_rows(read_results(copy)) == want


def test_compaction_never_drops_a_row_it_had(tmp_path):
    """Issue 20 item 2: results.parquet is merged with the trial files, so trial files that are
    gone (deleted, or not copied) leave their rows in it; new trial files are added."""
    w = TrialResultWriter(tmp_path / 'sw')
    w.write_trial('t0', [row(), row(round=1, is_final=True, miou=55.0, at=1)])
    w.write_trial('t1', [row('t1', seed=1)])
    first = _table_rows(w.compact())
    assert len(first) == 3
    w.trial_path('t1').unlink()
    assert _table_rows(w.compact()) == first
    import shutil
    shutil.rmtree(w.trials_dir)
    assert _table_rows(w.compact()) == first
    assert _table_rows(read_results(tmp_path / 'sw')) == first
    w.write_trial('t2', [row('t2', seed=2)])
    w.write_trial('t0', [row(miou=51.0, at=2)])  # a rerun of t0's round 0 (t0's final kept)
    got = _table_rows(w.compact())
    assert [(r['trial_id'], r['round'], r['miou']) for r in got] == [
        ('t0', 0, 51.0), ('t0', 1, 55.0), ('t1', 0, 50.0), ('t2', 0, 50.0)]


def test_compaction_of_an_unreadable_results_file_raises_and_keeps_it(tmp_path):
    w = TrialResultWriter(tmp_path / 'sw')
    w.write_trial('t0', [row()])
    w.results_path.write_bytes(b'not parquet' * 20)
    with pytest.raises(ValueError, match='results.parquet: not a readable Parquet file'):
        w.compact()
    assert w.results_path.read_bytes() == b'not parquet' * 20


def test_merged_rows_follow_the_drivers_rules(tmp_path):
    """An error row the driver removed (the trial reported again after it) does not come back
    from an older results.parquet; a row the driver marked 'stopped' (same report time) is not
    turned back into 'ok' by an older trial file."""
    w = TrialResultWriter(tmp_path / 'sw')
    w.write_trial('t0', [row(), row(round=1, at=1),
                         make_row(**{**row(round=2, at=2), 'status': 'error', 'miou': None,
                                     'error': 'boom'})])
    w.write_trial('t1', [row('t1', round=1, at=1)])
    w.compact()
    # t0 retried: its final evaluation (round 2, is_final) replaces the error row in its file
    w.write_trial('t0', [row(), row(round=1, at=1), row(round=2, is_final=True, at=3)])
    got = _table_rows(w.compact())
    assert [(r['trial_id'], r['round'], r['is_final'], r['status']) for r in got] == [
        ('t0', 0, False, 'ok'), ('t0', 1, False, 'ok'), ('t0', 2, True, 'ok'),
        ('t1', 1, False, 'ok')]
    w.write_trial('t1', [make_row(**{**row('t1', round=1, at=1), 'status': 'stopped'})])
    w.compact()
    w.write_trial('t1', [row('t1', round=1, at=1)])  # an older copy of the trial file
    assert [r['status'] for r in _table_rows(read_results(tmp_path / 'sw'))
            if r['trial_id'] == 't1'] == ['stopped']
