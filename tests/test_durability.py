"""Results you can trust: durable writes (file and folder fsynced; batches made durable at once,
before any rename), SynthShift completeness on load, corrupt label PNGs refused before conversion,
corrupt Parquet named in the table CLI."""
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from fixtures_official import (write_cityscapes_release, write_gta5_release,
                               write_synthia_release)
from adasweep_base import fileio
from mmseg_ext.active.label_store import ActiveLabelStore
from mmseg_ext.datasets import ensure_synthshift
from mmseg_ext.datasets.checked_seg_dataset import DatasetError
from mmseg_ext.datasets.synthshift_generator import generate_synthshift
from mmseg_ext.tools.convert_datasets import main as convert_main
from sweeps.results import TrialResultWriter, atomic_write_table, make_row

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(num_source=4, num_target_train=3, num_target_val=2, progress=False)
STORE_FOLDERS = ('labels',)  # the label store's per-image files (the state is in their records)


# ----------------------------------------------------------------------------- durability


@pytest.fixture
def disk(monkeypatch):
    """Records, in order, every os.fsync (the real path of the synced fd), os.replace and
    os.unlink."""
    events = []
    real_fsync, real_replace, real_unlink = os.fsync, os.replace, os.unlink

    def fsync(fd):
        events.append(('fsync', os.path.realpath(os.readlink(f'/proc/self/fd/{fd}'))))
        real_fsync(fd)

    def replace(src, dst, *args, **kwargs):
        real_replace(src, dst, *args, **kwargs)
        events.append(('replace', os.path.realpath(src), os.path.realpath(dst)))
    def unlink(path, *args, **kwargs):
        events.append(('unlink', os.path.realpath(path)))
        real_unlink(path, *args, **kwargs)
    monkeypatch.setattr(os, 'fsync', fsync)
    monkeypatch.setattr(os, 'replace', replace)
    monkeypatch.setattr(os, 'unlink', unlink)
    return events


@pytest.fixture
def syncfs(monkeypatch, disk, tmp_path):
    """Batches of any size take the syncfs path; each syncfs is recorded in `disk` as
    ('syncfs', folder, temp files under tmp_path then); single files are still fsynced.
    `syncfs.available = False`: as where there is none (the per-file fsync fallback)."""
    real = fileio._syncfs

    def fake(path):
        if not fake.available:
            return False
        temps = {str(p.resolve()) for p in tmp_path.rglob('.*.tmp')}
        disk.append(('syncfs', os.path.realpath(path), temps))
        return real(path) or os.sync() or True  # durable either way (where syncfs is not safe)
    fake.available = True
    monkeypatch.setattr(fileio, 'SYNCFS_MIN_FILES', 2)
    monkeypatch.setattr(fileio, '_syncfs', fake)
    return fake


def _renamed(events, dst):
    """Index and source of the last rename onto `dst`."""
    dst = os.path.realpath(dst)
    hits = [(i, e[1]) for i, e in enumerate(events) if e[0] == 'replace' and e[2] == dst]
    assert hits, f'{dst} was not renamed into place'
    return hits[-1]


def assert_durable(events, dst):
    """`dst` was renamed into place after its temp file was fsynced; its folder fsynced after."""
    i, src = _renamed(events, dst)
    assert ('fsync', src) in events[:i], f'{src} not fsynced before the rename onto {dst}'
    folder = os.path.dirname(os.path.realpath(dst))
    assert ('fsync', folder) in events[i + 1:], f'{folder} not fsynced after the rename of {dst}'
    return i


def _gt_items(tmp_path, n=2):
    items = []
    for i in range(n):
        path = tmp_path / 'gt' / 'city' / f'img{i}_gtFine_labelTrainIds.png'
        path.parent.mkdir(parents=True, exist_ok=True)
        gt = np.random.default_rng(i).integers(0, 19, (6, 8)).astype(np.uint8)
        Image.fromarray(gt).save(path)
        items.append((f'city/img{i}_gtFine_labelTrainIds.png', path))
    return items


def test_label_store_writes_are_durable_and_in_commit_order(tmp_path, disk):
    store = ActiveLabelStore(tmp_path / 'active')
    store.initialise(_gt_items(tmp_path))
    root = store.root.resolve()
    for sub in STORE_FOLDERS:
        assert_durable(disk, root / sub / 'city' / 'img0_gtFine_labelTrainIds.png')
        assert ('fsync', str(root / sub)) in disk  # the new folder city/ is in its parent
    assert_durable(disk, root / 'index.json')
    disk.clear()
    rel = store.index()[0]['rel']
    bought = np.zeros((6, 8), bool)
    bought[:2, :2] = True
    store.commit_round(0, 10, {rel: store.delta(rel, bought, bought, units=1)})
    delta = assert_durable(disk, root / 'rounds' / 'round_000.npz')
    pending = assert_durable(disk, root / 'rounds' / 'round_000.pending.json')
    label = assert_durable(disk, root / 'labels' / rel)  # with the round's records
    done = assert_durable(disk, root / 'rounds' / 'round_000.json')
    assert_durable(disk, root / 'ledger.jsonl')
    # the delta is on disk (file and folder) before any label changes, labels before the round
    # counts as done, and the delta file goes after that
    synced = [i for i, e in enumerate(disk) if e == ('fsync', str(root / 'rounds'))]
    assert delta < pending < min(i for i in synced if i > pending) < label < done
    assert ('fsync', str(root / 'labels' / 'city')) in disk[label:done]  # ... and its folder
    assert done < disk.index(('unlink', str(root / 'rounds' / 'round_000.npz')))


def assert_batch(events, files, after=-1):
    """`files` were renamed into place from temp files that all existed at one syncfs, after
    event `after` and before any of the renames; none was fsynced alone; then each of their
    folders was fsynced once. Returns (index of the syncfs, of the last folder fsync)."""
    renames = [_renamed(events, f) for f in files]
    sync = next(i for i, e in enumerate(events) if e[0] == 'syncfs' and i > after)
    assert sync < min(i for i, _ in renames), 'renamed before the batch was synced'
    assert {src for _, src in renames} <= events[sync][2]
    temps = {src for _, src in renames}
    assert not [e for e in events if e[0] == 'fsync' and e[1] in temps], 'fsynced one by one'
    last = max(i for i, _ in renames)
    folders = {os.path.dirname(os.path.realpath(f)) for f in files}
    synced = [i for i, e in enumerate(events) if i > last and e[0] == 'fsync' and e[1] in folders]
    assert sorted(events[i][1] for i in synced) == sorted(folders), 'each folder fsynced once'
    return sync, max(synced)


def _store_files(store):
    root = store.root.resolve()
    return [root / sub / e['rel'] for e in store.index() for sub in STORE_FOLDERS]


def _buy_everywhere(store, iteration=10, round_index=0):
    box = np.zeros((6, 8), bool)
    box[2 * round_index:2 * round_index + 2, :2] = True
    deltas = {e['rel']: store.delta(e['rel'], box, box, units=1) for e in store.index()}
    return store.commit_round(round_index, iteration, deltas)


def test_label_store_batches_are_synced_once_before_the_round_json(tmp_path, disk, syncfs):
    store = ActiveLabelStore(tmp_path / 'active')
    store.initialise(_gt_items(tmp_path, 3))
    root = store.root.resolve()
    _, folders = assert_batch(disk, _store_files(store))
    assert folders < assert_durable(disk, root / 'index.json')
    disk.clear()
    _buy_everywhere(store)
    rounds = root / 'rounds'
    pending = assert_durable(disk, rounds / 'round_000.pending.json')
    sync, folders = assert_batch(disk, _store_files(store), after=pending)
    done = assert_durable(disk, rounds / 'round_000.json')
    assert folders < done < disk.index(('unlink', str(rounds / 'round_000.pending.json')))
    assert len([e for e in disk if e[0] == 'syncfs']) == 1
    disk.clear()
    assert store.rollback(5) == [0]
    _, folders = assert_batch(disk, _store_files(store))
    assert folders < disk.index(('unlink', str(rounds / 'round_000.json')))
    assert all(np.all(store.labels(e['rel']) == 255) for e in store.index())


def test_label_store_without_syncfs_fsyncs_each_file_and_each_folder_once(tmp_path, disk,
                                                                           syncfs):
    syncfs.available = False
    store = ActiveLabelStore(tmp_path / 'active')
    store.initialise(_gt_items(tmp_path, 3))
    disk.clear()
    _buy_everywhere(store)
    root = store.root.resolve()
    renamed = [assert_durable(disk, f) for f in _store_files(store)]
    done = assert_durable(disk, root / 'rounds' / 'round_000.json')
    assert max(renamed) < done
    for sub in STORE_FOLDERS:
        folder = ('fsync', str(root / sub / 'city'))
        assert disk.count(folder) == 1 and max(renamed) < disk.index(folder) < done
    assert not [e for e in disk if e[0] == 'syncfs']


def test_sync_files_picks_syncfs_for_a_batch(tmp_path, disk, monkeypatch):
    paths = []
    for i in range(fileio.SYNCFS_MIN_FILES):
        paths.append(tmp_path / f'f{i}')
        paths[-1].write_bytes(b'x')
    calls = []
    monkeypatch.setattr(fileio, '_syncfs', lambda path: calls.append(path) or True)
    fileio.sync_files(paths)
    assert calls == [str(tmp_path)] and disk == []
    fileio.sync_files(paths[:-1])  # too few: fsynced one by one, the rest of the disk left alone
    assert calls == [str(tmp_path)] and disk == [('fsync', str(p.resolve())) for p in paths[:-1]]
    disk.clear()
    monkeypatch.setattr(fileio, '_syncfs', lambda path: False)  # not safe / not there
    fileio.sync_files(paths)
    assert disk == [('fsync', str(p.resolve())) for p in paths]


def test_syncfs_only_on_linux(tmp_path, monkeypatch):
    if sys.platform.startswith('linux'):
        assert isinstance(fileio._syncfs(str(tmp_path)), bool)  # the real call, no error
    monkeypatch.setattr(fileio, '_libc', False)
    monkeypatch.setattr(sys, 'platform', 'darwin')
    assert fileio._syncfs(str(tmp_path)) is False


def _snapshot(store):
    return {e['rel']: (store.labels(e['rel']).tolist(), store.state(e['rel'])[1].tolist())
            for e in store.index()}


def _crash_at(n, run):
    """Run `run()` in a child process that dies (os._exit, no clean-up) at its n-th os.replace;
    returns whether it got that far."""
    pid = os.fork()
    if pid == 0:  # the child
        calls = [0]
        real = os.replace

        def replace(*args, **kwargs):
            calls[0] += 1
            if calls[0] == n:
                os._exit(3)
            return real(*args, **kwargs)
        try:
            os.replace = replace
            run()
        finally:
            os._exit(0)
    return os.waitpid(pid, 0)[1] >> 8 == 3


@pytest.mark.parametrize('step', ['initialise', 'commit', 'rollback'])
def test_label_store_crash_at_any_rename_is_recovered(tmp_path, step):
    """A crash (kill) at every rename of a step leaves a store that the next start completes (or
    a step not begun), never a mix; stray temp files do no harm."""
    items = _gt_items(tmp_path, 3)
    ref = ActiveLabelStore(tmp_path / 'ref')
    before = _snapshot(ref) if ref.initialise(items) else None
    _buy_everywhere(ref)
    bought = _snapshot(ref)
    n, crashed = 0, True
    while crashed:
        n += 1
        root = tmp_path / f'active{n}'
        store = ActiveLabelStore(root)
        if step != 'initialise':
            store.initialise(items)
            if step == 'rollback':
                _buy_everywhere(store)
        run = dict(initialise=lambda: store.initialise(items),
                   commit=lambda: _buy_everywhere(store),
                   rollback=lambda: store.rollback(5))[step]
        crashed = _crash_at(n, run)
        again = ActiveLabelStore(root)
        again.initialise(items)  # recover()s
        if step == 'rollback':
            again.rollback(5)  # what a resumed run does
        got = _snapshot(again)
        if step == 'commit' and again.rounds():
            assert got == bought and len(again.ledger()) == 3, n
        else:
            assert got == before and again.rounds() == [] and again.ledger() == [], n
    # the step's renames were all crashed at (one label file per image: 3 of them)
    assert n > dict(initialise=4, commit=6, rollback=4)[step]


def test_parquet_writes_are_durable(tmp_path, disk):
    atomic_write_table(pa.table({'a': [1, 2]}), tmp_path / 'x.parquet')
    assert_durable(disk, tmp_path / 'x.parquet')
    disk.clear()
    w = TrialResultWriter(tmp_path / 'sweep')
    w.write_trial('t0', [make_row(sweep='s', space='sp', benchmark='synthshift', variant='v',
                                  trial_id='t0', seed=0, round=0, iteration=1, status='ok',
                                  metrics={'mIoU': 1.0})])
    w.compact()
    assert_durable(disk, w.trial_path('t0'))
    assert_durable(disk, w.results_path)


def test_synthshift_generation_is_durable(tmp_path, disk):
    root = generate_synthshift(tmp_path / 'ss', workers=0, **SMALL).resolve()
    i, tmp = _renamed(disk, root)
    synced = {e[1] for e in disk[:i] if e[0] == 'fsync'}
    files = [p for p in root.rglob('*')] + [root]
    assert len([p for p in files if p.suffix == '.png']) == 2 * 9
    for p in files:  # every file and folder, under its temp name, before the rename
        assert str(Path(tmp) / p.relative_to(root)) in synced, p
    assert ('fsync', str(root.parent)) in disk[i + 1:]


def test_sweeps_results_does_not_import_torch():
    code = 'import sys, sweeps.results; assert "torch" not in sys.modules, "torch imported"'
    run = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_results_and_mmseg_ext_share_one_fileio_and_testing_module():
    """sweeps.results imports the torch-free modules normally (no file executed by path): the
    functions it uses are the very objects mmseg_ext uses, with one module state."""
    import sweeps.results
    from mmseg_ext.active.label_store import files, store
    assert sweeps.results.atomic_write is files.atomic_write is fileio.atomic_write
    assert sweeps.results.kill_point is store.kill_point


# ----------------------------------------------------------------------------- SynthShift load


@pytest.fixture(scope='module')
def small_synthshift(tmp_path_factory):
    return generate_synthshift(tmp_path_factory.mktemp('ss') / 'root', workers=0, **SMALL)


@pytest.fixture
def synthshift(small_synthshift, tmp_path):
    """A private copy of a tiny SynthShift (the tests damage it)."""
    return Path(shutil.copytree(small_synthshift, tmp_path / 'synthshift'))


def _one_line(err):
    msg = str(err.value)
    assert '\n' not in msg and 'delete the folder to regenerate it' in msg
    return msg


def test_complete_synthshift_loads(synthshift):
    meta = json.loads((synthshift / 'meta.json').read_text())
    assert meta['files']['source/labels']['files'] == 4
    assert meta['files']['target/gtFine/val']['files'] == 2
    assert ensure_synthshift(synthshift) == str(synthshift.resolve())
    assert ensure_synthshift(synthshift, **{k: v for k, v in SMALL.items() if k != 'progress'})


def test_truncated_png_is_refused(synthshift):
    png = sorted((synthshift / 'target' / 'gtFine' / 'train').rglob('*.png'))[1]
    png.write_bytes(png.read_bytes()[:60])  # what a power loss leaves (header, part of the data)
    with pytest.raises(DatasetError) as err:
        ensure_synthshift(synthshift)
    msg = _one_line(err)
    assert str(synthshift.resolve()) in msg and 'target/gtFine/train' in msg and 'bytes' in msg


def test_missing_png_is_refused(synthshift):
    (synthshift / 'source' / 'images' / '00003.png').unlink()
    with pytest.raises(DatasetError) as err:
        ensure_synthshift(synthshift)
    msg = _one_line(err)
    assert 'source/images has 3 PNG files' in msg and 'records 4' in msg


def test_old_meta_without_record_loads_and_counts(synthshift):
    meta_path = synthshift / 'meta.json'
    meta = json.loads(meta_path.read_text())
    meta.pop('files', None)  # as written before the record existed
    meta_path.write_text(json.dumps(meta))
    assert ensure_synthshift(synthshift) == str(synthshift.resolve())  # existing data still works
    next((synthshift / 'target' / 'leftImg8bit' / 'val').rglob('*.png')).unlink()
    with pytest.raises(DatasetError) as err:
        ensure_synthshift(synthshift)
    assert 'target/leftImg8bit/val has 1 PNG files' in _one_line(err)


def test_unreadable_meta_is_refused(synthshift):
    (synthshift / 'meta.json').write_text('{"params": {"vers')
    with pytest.raises(DatasetError) as err:
        ensure_synthshift(synthshift)
    assert 'meta.json is unreadable' in _one_line(err)


# ----------------------------------------------------------------------------- convert_datasets


def _garble_idat(path):
    """Keep the PNG's header chunks (it opens, mode and size are right), garble its pixel data."""
    data = bytearray(Path(path).read_bytes())
    pos = data.index(b'IDAT')
    length = struct.unpack('>I', data[pos - 4:pos])[0]
    data[pos + 4:pos + 4 + length] = bytes((37 * k + 11) % 256 for k in range(length))
    Path(path).write_bytes(bytes(data))


def _truncate_idat(path):
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:data.index(b'IDAT') + 12])


def _assert_opens(path):
    with Image.open(path) as im:  # what the old, header-only check looked at
        assert im.size == (10, 8)
    with pytest.raises(Exception):
        np.array(Image.open(path))


def _converter_outputs(root):
    return sorted(str(p) for p in Path(root).rglob('*')
                  if 'TrainIds' in p.name or p.name.startswith('.') or p.suffix == '.json')


def test_corrupt_label_is_one_error_line_and_nothing_written_cli(tmp_path):
    root = write_gta5_release(tmp_path / 'gta5', n=4, size=(8, 10))
    bad = os.path.join(root, 'labels', '00003.png')
    _garble_idat(bad)
    _assert_opens(bad)
    run = subprocess.run([sys.executable, '-m', 'mmseg_ext.tools.convert_datasets', 'gta5', root,
                          '--nproc', '1'], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith('error: '), run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert bad in run.stderr and run.stdout == ''
    assert _converter_outputs(root) == []


@pytest.mark.parametrize('dataset,writer,pick,damage', [
    ('synthia', write_synthia_release, 'GT/LABELS/0000002.png', _garble_idat),
    ('cityscapes', write_cityscapes_release,
     'gtFine/val/frankfurt/frankfurt_000000_000001_gtFine_labelIds.png', _truncate_idat),
])
def test_corrupt_label_is_refused_before_writing(tmp_path, capsys, dataset, writer, pick, damage):
    root = writer(tmp_path / dataset, size=(8, 10))
    bad = os.path.join(root, pick)
    damage(bad)
    _assert_opens(bad)
    with pytest.raises(SystemExit) as exit_:
        convert_main([dataset, root, '--nproc', '2'])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and len(err.strip().splitlines()) == 1 and bad in err
    assert _converter_outputs(root) == []


# ----------------------------------------------------------------------------- tables CLI


def _tables(*args, cwd):
    return subprocess.run([sys.executable, str(REPO / 'sweeps' / 'tables.py'), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=60)


@pytest.mark.parametrize('content', [b'not parquet at all' * 50, b'PAR1' + b'\0' * 40 + b'PAR1'])
def test_corrupt_results_parquet_is_named(tmp_path, content):
    path = tmp_path / 'results' / 'abl' / 'results.parquet'
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    r = _tables('abl', '--storage', str(tmp_path / 'results'), cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ''
    assert r.stderr.startswith('error: ') and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert str(path) in r.stderr


def test_corrupt_sweep_json_is_named(tmp_path):
    w = TrialResultWriter(tmp_path / 'results' / 'abl')
    w.write_trial('t0', [make_row(sweep='abl', space='sp', benchmark='synthshift', variant='v',
                                  trial_id='t0', seed=0, round=0, iteration=1, status='ok',
                                  is_final=True, metrics={'mIoU': 1.0})])
    w.compact()
    (w.root / 'sweep.json').write_text('{"variants": [')
    r = _tables('abl', '--storage', str(tmp_path / 'results'), cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == '' and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith('error: ') and str(w.root / 'sweep.json') in r.stderr, r.stderr
