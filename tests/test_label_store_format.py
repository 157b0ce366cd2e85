"""The active-label store's on-disk format: its PNGs (read by mmseg's LoadAnnotations, both
decoders), the packed round deltas, the ledger written once per round, the multi-round rollback
and its recovery after a crash at any step, rounds past 999, and stores written by ae49e50
(loaded, rolled back, extended) with the same labels as ae49e50 writes."""
import importlib.util
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mmseg_ext  # noqa: F401  (mmseg's imports need its compat shims)
from mmseg_ext.active import label_store
from mmseg_ext.active.label_store import ActiveLabelStore

REPO = Path(__file__).resolve().parents[1]
SHAPE = (12, 16)


def _items(tmp_path, n=3, shape=SHAPE):
    items = []
    for i in range(n):
        gt = np.random.default_rng(i).integers(0, 19, shape).astype(np.uint8)
        gt[0, :3] = 255
        path = tmp_path / 'gt' / 'city' / f'img{i}_gtFine_labelTrainIds.png'
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gt).save(path)
        items.append((f'city/img{i}_gtFine_labelTrainIds.png', path))
    return items


def _box(r0, r1, c0, c1, shape=SHAPE):
    m = np.zeros(shape, bool)
    m[r0:r1, c0:c1] = True
    return m


def _rounds(store, rels, upto=4):
    """Rounds 0..upto-1: squares bought inside larger blocked squares, a pixel bought that an
    earlier round blocked (outside the newly blocked ones), single pixels, pseudo labels."""
    plans = [
        lambda rel, i: store.delta(rel, _box(1, 4, 1, 4), _box(0, 5, 0, 6), 1),
        lambda rel, i: store.delta(rel, _box(0, 1, 5, 6) | _box(7, 8, 9 + i, 10 + i),
                                   _box(6, 9, 8, 14), 2),
        lambda rel, i: store.delta(rel, _box(10, 11, 0, 16), _box(10, 12, 0, 16), 16),
        lambda rel, i: store.delta(rel, _box(11, 12, 2, 3), _box(11, 12, 2, 3), 1,
                                   pseudo=np.where(_box(3, 12, 12, 16), 7, 255).astype(np.uint8)),
    ]
    for r in range(upto):
        store.commit_round(r, 10 * (r + 1), {rel: plans[r](rel, i) for i, rel in
                                             enumerate(rels[: 3 - (r == 2)])}, strategy='t')


def _snapshot(store):
    return {e['rel']: (store.labels(e['rel']), _png_state(store, e['rel']))
            for e in store.index()}


def _png_state(store, rel):
    """The state bits (blocked, bought, pseudo) of one image, through the store's reads (this
    version keeps them in the label file's records, earlier ones in a state PNG)."""
    blocked, bought = store.state(rel)
    return (blocked.astype(np.uint8) | bought.astype(np.uint8) << 1
            | store.pseudo(rel).astype(np.uint8) << 2)


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(x, y) for k in a
                                        for x, y in zip(a[k], b[k]))


def _ledger_file(store):
    path = store.root / 'ledger.jsonl'
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@pytest.mark.parametrize('shape', [(1, 1), (1, 7), (5, 1), (12, 16), (33, 65)])
def test_pngs_are_read_by_load_annotations_with_either_decoder(tmp_path, shape):
    from mmseg.datasets.transforms import LoadAnnotations
    rng = np.random.default_rng(0)
    records = label_store.codec.records_chunk(  # the round records chunk is skipped
        [(0, label_store._pack_delta(np.array([0]), np.array([0]), np.array([], np.int64),
                                     np.array([], np.uint8)))])
    for array, extra in ((rng.integers(0, 256, shape).astype(np.uint8), b''),
                         (np.full(shape, 255, np.uint8), records), (np.zeros(shape, np.uint8), b'')):
        path = tmp_path / 'x.png'
        path.write_bytes(label_store._encode_png(array, extra))
        assert np.array_equal(np.array(Image.open(path)), array)
        for backend in ('pillow', 'cv2'):
            out = LoadAnnotations(imdecode_backend=backend)(
                dict(seg_map_path=str(path), reduce_zero_label=False, seg_fields=[]))
            assert np.array_equal(out['gt_seg_map'].reshape(shape), array), backend


def test_runs_round_trip():
    rng = np.random.default_rng(1)
    cases = [np.zeros(0, np.int64), np.array([0]), np.array([99]), np.arange(100),
             np.array([0, 1, 2, 50, 51, 99]), np.flatnonzero(rng.random(5000) < 0.01),
             np.flatnonzero(rng.random(5000) < 0.9)]
    for idx in cases:
        got = label_store._unpack_runs(label_store._pack_runs(idx.astype(np.int64)))
        assert got.dtype == np.int64 and np.array_equal(got, idx)
    bought, blocked = np.array([3, 4, 20, 70]), np.array([2, 3, 4, 5, 69, 70])  # 20: not blocked
    pseudo, classes = np.array([30, 31, 40]), np.array([7, 7, 3], np.uint8)
    for args in [(bought, blocked, pseudo, classes), (bought[:0], blocked, pseudo[:0], classes[:0]),
                 (bought, blocked[:0], pseudo[:0], classes[:0])]:
        got = label_store._unpack_delta(label_store._pack_delta(*args))
        assert all(np.array_equal(g, a) for g, a in zip(got, args))


def test_round_trip_and_rollback_of_several_rounds_at_once(tmp_path):
    items = _items(tmp_path)
    rels = [rel for rel, _ in items]
    snaps = []  # the store after 0..4 rounds, each made on its own
    for r in range(5):
        ref = ActiveLabelStore(tmp_path / f'ref{r}')
        ref.initialise(items)
        _rounds(ref, rels, r)
        snaps.append(_snapshot(ref))
    store = ActiveLabelStore(tmp_path / 'active')
    store.initialise(items)
    _rounds(store, rels, 4)
    assert _same(_snapshot(store), snaps[4])
    # the deltas live in the label files' records: no state PNGs, no delta files kept
    assert not (store.root / 'state').exists() and not list(store.root.glob('rounds/*.npz'))
    assert all(r['records'] for r in store.rounds())
    assert _ledger_file(store) == store.ledger() and len(store.ledger()) == 11
    delta = store.round_delta(store.rounds()[1])[rels[0]]
    assert np.array_equal(delta[0], np.flatnonzero(_box(0, 1, 5, 6) | _box(7, 8, 9, 10)))
    assert not np.isin(np.flatnonzero(_box(0, 1, 5, 6)), delta[1]).any()  # blocked in round 0
    assert store.rollback(25) == [3, 2]  # two rounds at once
    assert _same(_snapshot(store), snaps[2])
    assert _ledger_file(store) == store.ledger() and [r['round'] for r in store.rounds()] == [0, 1]
    assert not (store.root / 'rounds' / 'rollback.pending.json').exists()
    _rounds(store, rels, 0)
    assert store.rollback(0) == [1, 0]
    assert _same(_snapshot(store), snaps[0]) and _ledger_file(store) == []


def test_rounds_sort_by_number_past_999(tmp_path):
    store = ActiveLabelStore(tmp_path / 'active')
    store.initialise(_items(tmp_path, 1))
    rel = store.index()[0]['rel']
    for r, box in ((999, _box(0, 1, 0, 1)), (1000, _box(1, 2, 0, 1)), (1001, _box(2, 3, 0, 1))):
        store.commit_round(r, r, {rel: store.delta(rel, box, box, 1)})
    assert (store.root / 'rounds' / 'round_1000.json').is_file()
    assert [r['round'] for r in store.rounds()] == [999, 1000, 1001]
    assert [row['round'] for row in _ledger_file(store)] == [999, 1000, 1001]
    assert store.rollback(999) == [1001, 1000]
    assert store.state(rel)[1].sum() == 1 and _ledger_file(store) == store.ledger()


def _crash_at(n, run, calls=('replace', 'unlink', 'ftruncate', 'pwrite', 'fsync')):
    """Run `run()` in a child that dies (os._exit, no clean-up) at its n-th call of any of the
    os functions `calls` (every step of a commit or rollback); returns whether it got there."""
    pid = os.fork()
    if pid == 0:
        count = [0]
        for name in calls:
            real = getattr(os, name)

            def wrapped(*args, _real=real, **kwargs):
                count[0] += 1
                if count[0] == n:
                    os._exit(3)
                return _real(*args, **kwargs)
            setattr(os, name, wrapped)
        try:
            run()
        finally:
            os._exit(0)
    return os.waitpid(pid, 0)[1] >> 8 == 3


@pytest.mark.parametrize('step', ['commit', 'rollback'])
def test_a_crash_at_any_step_leaves_the_store_before_or_after_it(tmp_path, step):
    """A kill at any rename, unlink, fsync or ledger write of a commit or of a two-round
    rollback: the next start (recover) gives the store before the step or after it, never a
    mix, ledger.jsonl included."""
    items = _items(tmp_path)
    rels = [rel for rel, _ in items]
    ref = ActiveLabelStore(tmp_path / 'ref')
    ref.initialise(items)
    _rounds(ref, rels, 2)
    two = (_snapshot(ref), ref.ledger())
    ref4 = ActiveLabelStore(tmp_path / 'ref4')
    ref4.initialise(items)
    _rounds(ref4, rels, 4)
    four = (_snapshot(ref4), ref4.ledger())
    n, crashed, seen = 0, True, set()
    while crashed:
        n += 1
        root = tmp_path / f'active{n}'
        store = ActiveLabelStore(root)
        store.initialise(items)
        _rounds(store, rels, 3)
        if step == 'rollback':
            store.commit_round(3, 40, {rel: _plan4(store, rel) for rel in rels})
            run = lambda: store.rollback(25)  # noqa: E731  (undoes rounds 3 and 2)
        else:
            run = lambda: store.commit_round(  # noqa: E731
                3, 40, {rel: _plan4(store, rel) for rel in rels})
        crashed = _crash_at(n, run)
        again = ActiveLabelStore(root)
        again.initialise(items)  # recover()s
        got = (_snapshot(again), again.ledger())
        assert _ledger_file(again) == again.ledger(), n
        assert not list((root / 'rounds').glob('*.pending.json')), n
        if step == 'rollback':
            want = four if len(again.rounds()) == 4 else two
            assert len(again.rounds()) in (2, 4), n
        else:
            want = four if len(again.rounds()) == 4 else None
            assert len(again.rounds()) in (3, 4), n
        if want is not None:
            assert _same(got[0], want[0]) and got[1] == want[1], n
        seen.add(len(again.rounds()))
    assert n > 10 and len(seen) == 2


def _plan4(store, rel):
    return store.delta(rel, _box(11, 12, 2, 3), _box(11, 12, 2, 3), 1,
                       pseudo=np.where(_box(3, 12, 12, 16), 7, 255).astype(np.uint8))


def _baseline(commit='ae49e50'):
    """The one-file label store of `commit` (from git), or skip where the history is not
    there. ae49e50: int64 deltas, PIL PNGs; e371b40 (main before the records in the label
    files): state PNGs, packed deltas (format 2) in rounds/round_NNN.npz."""
    try:
        source = subprocess.run(['git', '-C', str(REPO), 'show',
                                 f'{commit}:mmseg_ext/active/label_store.py'],
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f'commit {commit} is not in this checkout')
    # the old file's `..fileio` / `..testing` now live in adasweep_base (issue 22)
    return (source.replace('from ..fileio import', 'from adasweep_base.fileio import')
            .replace('from ..testing import', 'from adasweep_base.testing import'))


def _load_baseline(tmp_path, commit='ae49e50'):
    path = tmp_path / f'label_store_{commit}.py'
    path.write_text(_baseline(commit))
    spec = importlib.util.spec_from_file_location(f'mmseg_ext.active.label_store_{commit}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ActiveLabelStore


def test_same_labels_states_and_ledger_as_ae49e50(tmp_path):
    Old = _load_baseline(tmp_path)
    items = _items(tmp_path)
    rels = [rel for rel, _ in items]
    old, new = Old(tmp_path / 'old'), ActiveLabelStore(tmp_path / 'new')
    for store in (old, new):
        store.initialise(items)
        _rounds(store, rels, 4)
    assert _same(_snapshot(old), _snapshot(new))
    assert old.ledger() == new.ledger() and _ledger_file(old) == _ledger_file(new)
    assert (tmp_path / 'old' / 'ledger.jsonl').read_bytes() == \
        (tmp_path / 'new' / 'ledger.jsonl').read_bytes()
    for store in (old, new):
        assert store.rollback(15) == [3, 2, 1]
    assert _same(_snapshot(old), _snapshot(new))


@pytest.mark.parametrize('commit', ['ae49e50', 'e371b40'])
def test_an_earlier_store_loads_rolls_back_and_goes_on(tmp_path, commit):
    """A store written by ae49e50 (PIL PNGs, int64 deltas, a rewritten ledger, rounds without
    ledger_start) or by e371b40 (state PNGs, packed delta files): read, rolled back, extended
    with new rounds and rolled back through both formats, with the labels it itself gives."""
    Old = _load_baseline(tmp_path, commit)
    items = _items(tmp_path)
    rels = [rel for rel, _ in items]
    ref = Old(tmp_path / 'ref')
    ref.initialise(items)
    empty = _snapshot(ref)
    _rounds(ref, rels, 2)
    two = _snapshot(ref)
    _rounds(ref, rels, 0)
    old = Old(tmp_path / 'old')
    old.initialise(items)
    _rounds(old, rels, 3)
    store = ActiveLabelStore(tmp_path / 'old')
    store.initialise(items)  # resumes it
    assert store.ledger() == old.ledger() and _ledger_file(store) == store.ledger()
    assert np.array_equal(store.round_delta(store.rounds()[0])[rels[0]][0],
                          np.flatnonzero(_box(1, 4, 1, 4)))
    assert store.rollback(25) == [2]  # an ae49e50 round undone
    assert _same(_snapshot(store), two) and _ledger_file(store) == store.ledger()
    store.commit_round(2, 30, {rel: _plan4(store, rel) for rel in rels})  # a new-format round
    assert _ledger_file(store) == store.ledger() and len(store.ledger()) == 9
    assert store.rollback(0) == [2, 1, 0]  # both formats at once
    assert _same(_snapshot(store), empty) and _ledger_file(store) == []


def test_a_torn_ledger_append_is_repaired(tmp_path):
    store = ActiveLabelStore(tmp_path / 'active')
    items = _items(tmp_path)
    store.initialise(items)
    _rounds(store, [rel for rel, _ in items], 2)
    path = store.root / 'ledger.jsonl'
    whole = path.read_bytes()
    for torn in (whole[:-7], whole[:-7] + b'\0' * 7, whole + b'{"x": 1}\n', b''):
        path.write_bytes(torn)
        ActiveLabelStore(store.root).initialise(items)
        assert path.read_bytes() == whole


def test_benchmark_runs_at_a_tiny_size_and_refuses_bad_input(tmp_path, capsys):
    import sys
    sys.path.insert(0, str(REPO / 'benchmarks'))
    try:
        import bench_label_store
    finally:
        sys.path.remove(str(REPO / 'benchmarks'))
    _baseline()  # skips without ae49e50
    args = ['--images', '3', '--size', '16x32', '--rounds', '2', '--scenes', '2',
            '--dir', str(tmp_path)]
    assert bench_label_store.main(args) == 0
    out = capsys.readouterr().out
    for line in ('state read', 'delta + commit', 'rollback 1 round', 'total (file sizes)',
                 'the picks alone, bz2/lzma'):
        assert line in out
    assert 'before' in out and 'after' in out and 'load average' in out
    assert os.listdir(tmp_path) == []  # cleaned up
    for bad in (['--size', '3x4'], ['--images', '0'], ['--rounds', '1'], ['--k', '0'],
                ['--pixel-fraction', '0.5']):
        assert bench_label_store.main(bad + ['--dir', str(tmp_path)]) == 2
        captured = capsys.readouterr()
        assert captured.out == '' and captured.err.count('\n') == 1
        assert captured.err.startswith('error: ') and os.listdir(tmp_path) == []


def test_files_made_at_delta_time_or_at_commit_are_the_same(tmp_path):
    """keep_bytes=0: nothing is made ahead (commit reads the state and ground truth again)."""
    items = _items(tmp_path)
    rels = [rel for rel, _ in items]
    ahead, late = ActiveLabelStore(tmp_path / 'a'), ActiveLabelStore(tmp_path / 'b', keep_bytes=0)
    for store in (ahead, late):
        store.initialise(items)
        _rounds(store, rels, 4)
    assert 'encoded' not in late.delta(rels[0], _box(5, 6, 0, 1), _box(5, 6, 0, 1), 1)
    assert 'encoded' in ahead.delta(rels[0], _box(5, 6, 0, 1), _box(5, 6, 0, 1), 1)
    assert _same(_snapshot(ahead), _snapshot(late)) and ahead.ledger() == late.ledger()


def test_a_commit_of_e371b40_cut_short_is_finished_by_this_version(tmp_path, monkeypatch):
    """e371b40 killed inside a commit (its delta file and pending round written, no label or
    state file yet), then this version starts: the round is completed as e371b40 would have,
    and the store goes on in the new layout."""
    Old = _load_baseline(tmp_path, 'e371b40')
    items = _items(tmp_path)
    rels = [rel for rel, _ in items]
    ref = Old(tmp_path / 'ref')
    ref.initialise(items)
    _rounds(ref, rels, 3)
    old = Old(tmp_path / 'old')
    old.initialise(items)
    _rounds(old, rels, 2)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(old, '_apply', crash)
    with pytest.raises(KeyboardInterrupt):
        _rounds_from(old, rels, 2)
    monkeypatch.undo()
    assert list((tmp_path / 'old' / 'rounds').glob('*.pending.json'))
    store = ActiveLabelStore(tmp_path / 'old')
    store.initialise(items)
    assert _same(_snapshot(store), _snapshot(ref)) and store.ledger() == ref.ledger()
    assert _ledger_file(store) == store.ledger()
    store.commit_round(3, 40, {rel: _plan4(store, rel) for rel in rels})
    assert store.rollback(15) == [3, 2, 1]
    ref.rollback(15)
    assert _same(_snapshot(store), _snapshot(ref)) and _ledger_file(store) == ref.ledger()


def _rounds_from(store, rels, r):
    """Round `r` alone of `_rounds`."""
    saved = store.commit_round
    calls = []
    store.commit_round = lambda *a, **k: calls.append(1) or (
        saved(*a, **k) if len(calls) == r + 1 else None)
    try:
        _rounds(store, rels, r + 1)
    finally:
        store.commit_round = saved


def test_a_round_is_undone_in_the_images_it_touched_only(tmp_path, monkeypatch):
    """Rolling back a round writes the label files of the images it bought in and nothing
    else (the rounds' deltas are in those files: no state file, no delta file is read or
    written); the other rounds' records stay as they were."""
    items = _items(tmp_path, 4)
    rels = [rel for rel, _ in items]
    store = ActiveLabelStore(tmp_path / 'active')
    store.initialise(items)
    _rounds(store, rels[:3], 2)
    before = {rel: (store.labels(rel), _png_state(store, rel)) for rel in rels}
    store.commit_round(2, 30, {rels[1]: store.delta(rels[1], _box(11, 12, 0, 4),
                                                    _box(11, 12, 0, 4), 1)})
    written = []
    real = label_store.files.save_batch
    monkeypatch.setattr(label_store.files, 'save_batch',
                        lambda files: real(written.append(p) or (p, w) for p, w in files))
    assert store.rollback(25) == [2]
    assert [Path(p) for p in written] == [store.label_path(rels[1])]
    assert _same({rel: (store.labels(rel), _png_state(store, rel)) for rel in rels}, before)
