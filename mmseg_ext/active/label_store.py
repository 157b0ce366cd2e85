"""The active-label store: what has been bought, on disk, under a run's work_dir.

Layout of `root` (one entry per target image, named by the image's label path relative to the
dataset's label folder, `rel`):

    labels/<rel>          uint8 PNG: the bought ground truth and the pseudo labels, 255 = neither
                          (the training pipeline reads these, so data-loader workers see new
                          labels)
    state/<rel>           uint8 PNG: bit 0 = blocked (cannot be picked again), bit 1 = bought
                          (oracle label), bit 2 = pseudo label (the model's, not bought)
    rounds/round_NNN.npz  per round: what each image newly bought / newly blocked (and newly
                          pseudo-labelled, with the pseudo classes); see "Delta files" below
    rounds/round_NNN.json per round: iteration, strategy, ledger rows, ledger_start (the byte
                          offset of its rows in ledger.jsonl)
    rounds/rollback.pending.json  while rounds are being undone: which (see `rollback`)
    ledger.jsonl          one row per (round, image): round, iteration, image, units, pixels,
                          void_pixels, classes {train id: pixels}, and pseudo_pixels for a round
                          that gave pseudo labels (POINT-ENT); the rows of the rounds in order
    index.json            the image list (rel, ground-truth path)

Rounds are committed in four steps (delta file, label/state files, round json, ledger rows),
every file is written atomically and durably (`mmseg_ext.fileio`; the label/state files of a
round as one batch: all written, made durable at once, renamed, their folders fsynced, before the
round json), so a crash at any point, the machine's death included, leaves a store that
`recover()` completes. ledger.jsonl is created by an atomic write and then appended to in place
(each round's rows written once, at the offset its round json records, and fsynced); `recover()`
checks the last round's rows and rewrites them if a crash cut them short. Rounds can be undone
exactly (`rollback`), which is how a resumed run gets back the labels it had at its checkpoint.

PNG files are written grayscale, 8 bit, every row with the PNG "Up" filter and deflated with
zlib's run-length strategy (`_encode_png`): any PNG reader decodes them to the same pixels as the
PIL-written files of earlier versions, in a fraction of the time and bytes (labels are mostly 255,
states mostly 0, and both repeat row to row).

Delta files. A round's `round_NNN.npz` holds `format` (2), `sizes` (images x 5 byte counts) and
`blob`, the concatenation per image of: the newly blocked pixels as runs (`_pack_runs`: run gaps
and lengths as uint32 byte planes, deflated); one bit per newly blocked pixel, set where it was
also bought (packed, deflated); bought pixels outside the newly blocked ones as runs (pixels
blocked in an earlier round); pseudo-labelled pixels as runs; their pseudo classes (deflated).
Stores written before (ae49e50) hold `<i>_bought`, `<i>_blocked`, ... int64 flat indices per
image instead; both are read (`round_delta`), new rounds are written in the new form.
"""
import json
import os
import re
import struct
import zlib
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ..fileio import atomic_write, atomic_write_many, fsync_dir
from ..testing import kill_point

IGNORE = 255
BLOCKED, BOUGHT, PSEUDO = 1, 2, 4
_NONE = np.zeros(0, np.int64)
DELTA_FORMAT = 2
_PARTS = 5  # blocked runs, bought bits, other bought runs, pseudo runs, pseudo classes
_ROUND = re.compile(r'round_(\d+)\.json$')
_ROLLBACK = 'rollback.pending.json'


_atomic_write = atomic_write  # the commit steps must reach the disk in order (see above)
_atomic_write_many = atomic_write_many


def _threads():
    """Worker threads for a batch of images (zlib, PIL and numpy release the GIL): the CPUs this
    process may use, at most OMP_NUM_THREADS where set (a trial's CPU share) and 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    omp = os.environ.get('OMP_NUM_THREADS', '')
    if omp.isdigit() and int(omp) > 0:
        cpus = min(cpus, int(omp))
    return max(1, min(8, cpus))


def _chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def _encode_png(array):
    """The bytes of a grayscale 8-bit PNG of the (H, W) uint8 `array`: each row "Up"-filtered
    (the difference to the row above, PNG spec section 9.2), deflated with Z_RLE."""
    array = np.ascontiguousarray(array, np.uint8)
    h, w = array.shape
    raw = np.empty((h, w + 1), np.uint8)
    raw[:, 0] = 2  # filter type Up
    if h:
        raw[0, 1:] = array[0]
        np.subtract(array[1:], array[:-1], out=raw[1:, 1:])
    deflate = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    data = deflate.compress(raw) + deflate.flush()
    return b''.join((b'\x89PNG\r\n\x1a\n',
                     _chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)),
                     _chunk(b'IDAT', data), _chunk(b'IEND', b'')))


def _bytes_file(path, data):
    """One file of a batch for _save_pngs: `data` (bytes) written to it."""
    def write(tmp):
        with open(tmp, 'wb') as fh:
            fh.write(data)
    write.size = len(data)
    return path, write


def _png(path, array):
    """One file of a batch for _save_pngs."""
    return _bytes_file(path, _encode_png(array))


def _save_pngs(files):
    """Write `files` = (path, write) pairs from _png (a generator: made one at a time), all of
    them on disk (data and folders) when this returns."""
    _atomic_write_many(files)


def _save_json(path, obj, lines=False):
    text = '\n'.join(json.dumps(o) for o in obj) + '\n' if lines else json.dumps(obj, indent=1)
    _atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _save_npz(path, arrays, compressed=True):
    def write(tmp):
        with open(tmp, 'wb') as fh:  # a path would get '.npz' appended
            (np.savez_compressed if compressed else np.savez)(fh, **arrays)
    _atomic_write(path, write)


def _load_png(path):
    return np.array(Image.open(path))


def _decode_state(state):
    """(blocked, bought) bool maps of a state array."""
    return (state & BLOCKED) > 0, (state & BOUGHT) > 0


def _rows_text(rows):
    """A round's rows as ledger.jsonl holds them (bytes)."""
    return ''.join(json.dumps(row) + '\n' for row in rows).encode()


# ---------------------------------------------------------------- delta files


def _pack_runs(idx):
    """Sorted unique flat indices -> bytes: the runs of consecutive indices as (gap since the
    previous run's end, length) uint32 pairs, stored as 4 byte planes and deflated."""
    if not idx.size:
        return b''
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = idx[np.r_[0, breaks]]
    ends = idx[np.r_[breaks - 1, idx.size - 1]] + 1
    gaps = starts - np.r_[0, ends[:-1]]
    if ends[-1] >= 1 << 32:
        raise ValueError('images of 2**32 pixels or more are not supported')
    values = np.concatenate([gaps, ends - starts]).astype('<u4')
    return zlib.compress(values.view(np.uint8).reshape(-1, 4).T.tobytes(), 6)


def _unpack_runs(data):
    if not data:
        return _NONE
    planes = np.frombuffer(zlib.decompress(data), np.uint8).reshape(4, -1)
    values = np.ascontiguousarray(planes.T).view('<u4').ravel().astype(np.int64)
    gaps, lengths = np.split(values, 2)
    ends = np.cumsum(gaps + lengths)
    before = np.cumsum(lengths) - lengths  # indices in earlier runs
    return np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(ends - lengths - before,
                                                                      lengths)


def _pack_delta(bought, blocked, pseudo, pseudo_labels):
    """One image's delta (flat indices) -> _PARTS byte strings (see the module docstring)."""
    at = np.minimum(np.searchsorted(blocked, bought), max(blocked.size - 1, 0))
    inside = blocked[at] == bought if blocked.size else np.zeros(bought.size, bool)
    bits = np.zeros(blocked.size, bool)
    bits[at[inside]] = True
    return (_pack_runs(blocked),
            zlib.compress(np.packbits(bits).tobytes(), 6) if bought.size else b'',
            _pack_runs(bought[~inside]), _pack_runs(pseudo),
            zlib.compress(np.asarray(pseudo_labels, np.uint8).tobytes(), 6) if pseudo.size
            else b'')


def _unpack_delta(parts):
    blocked = _unpack_runs(parts[0])
    bought = _NONE
    if parts[1]:
        bits = np.unpackbits(np.frombuffer(zlib.decompress(parts[1]), np.uint8),
                             count=blocked.size).astype(bool)
        bought = blocked[bits]
    other = _unpack_runs(parts[2])
    if other.size:
        bought = np.sort(np.concatenate([bought, other]))
    pseudo = _unpack_runs(parts[3])
    labels = np.frombuffer(zlib.decompress(parts[4]), np.uint8) if parts[4] else \
        np.zeros(0, np.uint8)
    return bought, blocked, pseudo, labels


class ActiveLabelStore:
    """Bought labels, blocked maps and the ledger of one run (see the module docstring)."""

    def __init__(self, root, keep_bytes=256 << 20):
        self.root = Path(root)
        # encoded files kept between delta and commit (beyond this, commit makes them again)
        self.keep_bytes, self._kept_bytes = keep_bytes, 0
        self._workers = None  # a thread pool, made on first use
        self._rounds = {}  # round json path -> ((inode, mtime, size), parsed)
        self._states = OrderedDict()  # rel -> ((inode, mtime, size), state array), last read
        self._state_bytes = 0

    # ---------------------------------------------------------------- images

    def initialise(self, items):
        """Register the target images: `items` = [(rel, gt_path)], in dataset order.

        Creates an all-255 label and an empty state for every image that has none (so a new run
        trains with no target labels), keeps what exists (a resumed run), and recovers an
        interrupted round. Returns the store paths of the label files, in the order given.
        """
        index = [dict(rel=str(rel), gt=str(gt)) for rel, gt in items]
        known = self.index() if (self.root / 'index.json').is_file() else None
        if known is not None and [e['rel'] for e in known] != [e['rel'] for e in index]:
            raise ValueError(f'active-label store {self.root} was made for another image list '
                             f'({len(known)} images); use a fresh work_dir')
        blank = {}  # (shape, value) -> PNG bytes: one encoding per image size

        def empty(path, shape, value):
            if (shape, value) not in blank:
                blank[shape, value] = _encode_png(np.full(shape, value, np.uint8))
            return _bytes_file(path, blank[shape, value])

        def new_files():  # the missing ones (a crash in a batch can leave a label without state)
            for entry in index:
                label, state = (self.root / sub / entry['rel'] for sub in ('labels', 'state'))
                if not (label.is_file() and state.is_file()):
                    with Image.open(entry['gt']) as gt:
                        shape = gt.size[::-1]
                    if not label.is_file():
                        yield empty(label, shape, IGNORE)
                    if not state.is_file():
                        yield empty(state, shape, 0)
        _save_pngs(new_files())
        if known is None:
            _save_json(self.root / 'index.json', index)
        self.recover()
        return [str(self.root / 'labels' / e['rel']) for e in index]

    def index(self):
        return json.loads((self.root / 'index.json').read_text())

    def label_path(self, rel):
        return self.root / 'labels' / rel

    def _state(self, rel):
        """The state array of one image (uint8; not to be changed: it may be cached). The last
        few read are kept, checked against the file (inode, times, size) before reuse, and
        dropped when this store writes the file."""
        path = self.root / 'state' / rel
        st = os.stat(path)
        sig = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
        hit = self._states.get(rel)
        if hit is not None and hit[0] == sig:
            self._states.move_to_end(rel)
            return hit[1]
        state = _load_png(path)
        if hit is not None:
            self._state_bytes -= hit[1].nbytes
        self._states[rel] = sig, state
        self._state_bytes += state.nbytes
        while self._state_bytes > (64 << 20) and len(self._states) > 1:
            self._state_bytes -= self._states.popitem(last=False)[1][1].nbytes
        return state

    def state(self, rel):
        """(blocked, bought) bool maps of one image."""
        return _decode_state(self._state(rel))

    def pseudo(self, rel):
        """(H, W) bool map of one image's pseudo-labelled pixels (not bought)."""
        state = self._state(rel)
        return (state & PSEUDO).astype(bool) & ~(state & BOUGHT).astype(bool)

    def labels(self, rel):
        return _load_png(self.label_path(rel))

    # ---------------------------------------------------------------- rounds

    def _round_files(self):
        """[(round number, path)] of the committed round jsons, in numeric order."""
        found = []
        for path in (self.root / 'rounds').glob('round_*.json'):
            m = _ROUND.fullmatch(path.name)
            if m:  # not a .pending.json
                found.append((int(m.group(1)), path))
        return sorted(found)

    def rounds(self):
        """Committed rounds, in order: [{round, iteration, strategy, rows}]."""
        out, seen = [], set()
        for _, path in self._round_files():
            st = os.stat(path)
            sig = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
            hit = self._rounds.get(path)
            if hit is None or hit[0] != sig:
                hit = self._rounds[path] = sig, json.loads(path.read_text())
            seen.add(path)
            out.append(dict(hit[1]))  # a copy of the top level (rows are shared: read only)
        for path in set(self._rounds) - seen:
            del self._rounds[path]
        return out

    def _round_name(self, round_index):
        return self.root / 'rounds' / f'round_{round_index:03d}'

    def delta(self, rel, bought, blocked, units, pseudo=None):
        """What one image buys this round: bool (H, W) maps of the pick -> a compact delta.

        Pixels already bought or blocked are left out; the ledger row counts what is new.
        `pseudo`: (H, W) uint8 pseudo labels (255 = none) given with the round, not bought: the
        row counts them as pseudo_pixels, and a pixel bought now or before keeps its ground truth.
        """
        state = self._state(rel)
        bought, blocked = np.asarray(bought, bool), np.asarray(blocked, bool)
        if bought.shape != state.shape or blocked.shape != state.shape:
            raise ValueError(f'{rel}: picks {bought.shape} / {blocked.shape}, its labels '
                             f'{state.shape}')
        flat_state = state.ravel()
        # picks are sparse: work on their flat indices, not on whole maps
        bought_idx = np.flatnonzero(bought)
        bought_idx = bought_idx[(flat_state[bought_idx] & BOUGHT) == 0]
        if (flat_state[bought_idx] & PSEUDO).any():
            raise ValueError(f'{rel}: buying a pseudo-labelled pixel is not supported (a round '
                             'that gives pseudo labels is the last one to touch them)')
        blocked_idx = np.union1d(np.flatnonzero(blocked), bought_idx)
        blocked_idx = blocked_idx[(flat_state[blocked_idx] & BLOCKED) == 0]
        gt = _load_png(self.gt_path(rel))
        got = gt.ravel()[bought_idx]
        classes = np.bincount(got[got != IGNORE])
        row = dict(image=rel, units=int(units), pixels=int(bought_idx.size),
                   void_pixels=int((got == IGNORE).sum()),
                   classes={str(c): int(n) for c, n in enumerate(classes) if n})
        out = dict(row=row, bought=bought_idx, blocked=blocked_idx)
        if pseudo is not None:
            pseudo = np.asarray(pseudo, np.uint8)
            if pseudo.shape != gt.shape:
                raise ValueError(f'pseudo labels of {rel} are {pseudo.shape}, its labels '
                                 f'{gt.shape}')
            given = np.flatnonzero(pseudo != IGNORE)
            given = given[(flat_state[given] & (PSEUDO | BOUGHT)) == 0]
            given = given[~np.isin(given, bought_idx, assume_unique=True)]
            out['pseudo'] = given
            out['pseudo_labels'] = pseudo.ravel()[given]
            row['pseudo_pixels'] = int(given.size)
        if self._kept_bytes < self.keep_bytes:  # the files made now, in the background,
            # while the caller goes on (commit_round waits for them): nothing is read twice
            flat = (bought_idx, out['blocked'], out.get('pseudo', _NONE),
                    out.get('pseudo_labels', _NONE))
            out['encoded'] = self._pool().submit(self._encode, rel, flat, state, gt)
            out['encoded'].add_done_callback(self._count_kept)
        return out

    def _pool(self):
        """This process's worker threads (a forked child makes its own: it has none)."""
        if self._workers is None or self._workers[0] != os.getpid():
            self._workers = os.getpid(), ThreadPoolExecutor(_threads(),
                                                            thread_name_prefix='label_store')
        return self._workers[1]

    def _count_kept(self, future):
        if future.exception() is None:
            self._kept_bytes += future.result()[2]

    def _encode(self, rel, flat, state=None, gt=None):
        """(the delta's packed parts, its label and state files, their bytes)."""
        parts, files = _pack_delta(*flat), self._image_files(rel, flat, state, gt)
        return parts, files, sum(map(len, parts)) + sum(write.size for _, write in files)

    def _image_files(self, rel, flat, state=None, gt=None):
        """The label and state files of `rel` after its delta `flat` (see _load_delta), from its
        state and ground truth before (`state`, `gt`: as read by delta, else read here)."""
        bought, blocked, pseudo, pseudo_labels = flat
        state = _load_png(self.root / 'state' / rel) if state is None else state.copy()
        gt = _load_png(self.gt_path(rel)) if gt is None else gt
        old = self.labels(rel) if (state & PSEUDO).any() else None  # earlier pseudo labels
        state.flat[blocked] |= BLOCKED
        state.flat[bought] |= BOUGHT | BLOCKED
        state.flat[pseudo] |= PSEUDO
        labels = np.where(state & BOUGHT, gt, np.uint8(IGNORE))  # bought = ground truth
        if old is not None or pseudo.size:
            kept = (state & PSEUDO).astype(bool) & ~(state & BOUGHT).astype(bool)
            if old is not None:
                labels[kept] = old[kept]
            new = np.zeros(labels.size, bool)
            new[pseudo] = True
            new &= kept.ravel()
            labels.flat[np.flatnonzero(new)] = pseudo_labels[new[pseudo]]
        return [_png(self.label_path(rel), labels), _png(self.root / 'state' / rel, state)]

    def commit_round(self, round_index, iteration, deltas, strategy='', before_update=False,
                     options=None):
        """Buy the labels of one round: `deltas` = {rel: self.delta(...)}. Returns ledger rows.
        `strategy` and its `options` (JSON values) are recorded with the round.
        `before_update`: bought before the update of iteration `iteration` (after a checkpoint
        of `iteration` completed updates, which `rollback(iteration)` therefore undoes)."""
        rows = [dict(round=round_index, iteration=int(iteration), **d['row'])
                for d in deltas.values()]
        flat = {rel: (d['bought'], d['blocked'], d.get('pseudo', _NONE),
                      np.asarray(d.get('pseudo_labels', _NONE), np.uint8))
                for rel, d in deltas.items()}
        encoded = {rel: d['encoded'].result() for rel, d in deltas.items() if 'encoded' in d}
        self._kept_bytes = 0
        parts = list(self._pool().map(
            lambda rel: encoded[rel][0] if rel in encoded else _pack_delta(*flat[rel]), flat))
        sizes = np.array([[len(p) for p in image] for image in parts], np.int64).reshape(-1, _PARTS)
        blob = np.frombuffer(b''.join(b''.join(image) for image in parts), np.uint8)
        name = self._round_name(round_index)
        _save_npz(f'{name}.npz', dict(format=np.array(DELTA_FORMAT), sizes=sizes, blob=blob),
                  compressed=False)  # the parts are deflated already
        pending = dict(round=round_index, iteration=int(iteration), strategy=strategy,
                       before_update=bool(before_update),
                       images=list(deltas), rows=rows, ledger_start=self._ledger_end())
        if options:
            pending['options'] = json.loads(json.dumps(options, default=str))
        _save_json(f'{name}.pending.json', pending)
        kill_point('commit')
        self._apply(pending, f'{name}.npz', {rel: e[1] for rel, e in encoded.items()}, flat)
        return rows

    def gt_path(self, rel):
        if not hasattr(self, '_gt'):
            self._gt = {e['rel']: e['gt'] for e in self.index()}
        return self._gt[rel]

    def round_delta(self, rnd):
        """{rel: (bought, blocked, pseudo, pseudo_labels)} of a committed round (from rounds()):
        flat indices of what each image newly bought, blocked and got pseudo labels for, and
        the pseudo classes."""
        return self._load_delta(rnd, f'{self._round_name(rnd["round"])}.npz')

    def _load_delta(self, pending, npz):
        """{rel: (bought, blocked, pseudo, pseudo_labels)} flat indices (and pseudo classes),
        from a delta file of either format (module docstring)."""
        with np.load(npz) as data:
            if 'format' in data.files:
                if int(data['format']) != DELTA_FORMAT:
                    raise ValueError(f'{npz}: delta format {int(data["format"])}, this version '
                                     f'reads {DELTA_FORMAT} and the ae49e50 one')
                blob, sizes = data['blob'].tobytes(), data['sizes']
                ends = np.cumsum(sizes.ravel()).tolist()
                cuts = [blob[a:b] for a, b in zip([0] + ends[:-1], ends)]
                return {rel: _unpack_delta(cuts[_PARTS * i:_PARTS * (i + 1)])
                        for i, rel in enumerate(pending['images'])}

            def get(key):
                return data[key] if key in data.files else _NONE
            return {rel: (data[f'{i}_bought'], data[f'{i}_blocked'], get(f'{i}_pseudo'),
                          get(f'{i}_pseudo_labels').astype(np.uint8))
                    for i, rel in enumerate(pending['images'])}

    def _apply(self, pending, npz, files=None, delta=None):
        """Write the label and state files of a round; `files`: {rel: its files} as
        `_image_files` made them at `delta` time (the others are made from disk); `delta`: the
        round's flat indices as _load_delta gives them (else read from `npz`). Idempotent."""
        files = files or {}
        delta = self._load_delta(pending, npz) if delta is None else delta
        self._write_images(lambda rel: files[rel] if rel in files else
                           self._image_files(rel, delta[rel]), delta)
        # every label and state file is on disk before the round counts as done
        name = Path(npz).with_suffix('')
        self._rounds.pop(Path(f'{name}.json'), None)
        _save_json(f'{name}.json', pending)
        os.unlink(f'{name}.pending.json')
        self._write_ledger_rows(pending)

    def _write_images(self, files, rels):
        """One durable batch of the label/state files `files(rel)` gives, made in threads."""
        rels = list(rels)
        for rel in rels:
            if rel in self._states:
                self._state_bytes -= self._states.pop(rel)[1].nbytes
        _save_pngs(f for image in self._pool().map(files, rels) for f in image)

    def recover(self):
        """Finish a round whose commit or rollback was interrupted (applying or undoing a delta
        is idempotent), and the last round's ledger rows."""
        marker = self.root / 'rounds' / _ROLLBACK
        if marker.is_file():
            self._undo(json.loads(marker.read_text())['rounds'])
        for pending in sorted((self.root / 'rounds').glob('round_*.pending.json')):
            npz = str(pending).replace('.pending.json', '.npz')
            if os.path.exists(npz):
                self._apply(json.loads(pending.read_text()), npz)
            else:
                os.unlink(pending)
        if (self.root / 'rounds').is_dir():
            self._check_ledger()

    def rollback(self, iteration):
        """Undo every round committed after a checkpoint of `iteration` completed updates (rounds
        of later iterations, and those of `iteration` bought before its update), newest first.

        The rounds' deltas are undone together, each touched image read and written once (the
        time grows with the images those rounds touched, not with the store): the list of
        rounds is made durable first (rollback.pending.json, which `recover()` completes), then
        the label/state files as one batch, then the round files removed, then the ledger cut."""
        undone = []
        for rnd in reversed(self.rounds()):
            if rnd['iteration'] < iteration or (rnd['iteration'] == iteration
                                                 and not rnd.get('before_update')):
                break
            undone.append(rnd['round'])
        if undone:
            _save_json(self.root / 'rounds' / _ROLLBACK, dict(rounds=undone))
            self._undo(undone)
        return undone

    def _undo(self, numbers):
        """Undo the rounds `numbers` (newest first) whose files remain, then drop the marker."""
        rounds = {r['round']: r for r in self.rounds()}
        todo = [rounds[n] for n in numbers if n in rounds]
        union = {}
        for rnd in todo:
            for rel, (bought, blocked, pseudo, _) in self.round_delta(rnd).items():
                union.setdefault(rel, []).append((bought, blocked, pseudo))

        def files(rel):
            labels, state = self.labels(rel), _load_png(self.root / 'state' / rel)
            for bought, blocked, pseudo in union[rel]:
                labels.flat[bought] = IGNORE
                labels.flat[pseudo] = IGNORE
                state.flat[bought] &= ~np.uint8(BOUGHT)
                state.flat[blocked] &= ~np.uint8(BLOCKED)
                state.flat[pseudo] &= ~np.uint8(PSEUDO)
            return [_png(self.label_path(rel), labels), _png(self.root / 'state' / rel, state)]
        if union:  # the labels are undone on disk before the rounds are forgotten
            self._write_images(files, union)
        for rnd in todo:
            name = self._round_name(rnd['round'])
            self._rounds.pop(Path(f'{name}.json'), None)
            os.unlink(f'{name}.json')
            os.unlink(f'{name}.npz')
        fsync_dir(self.root / 'rounds')
        self._cut_ledger(min((r.get('ledger_start') for r in todo), default=None,
                             key=lambda s: -1 if s is None else s))
        os.unlink(self.root / 'rounds' / _ROLLBACK)
        fsync_dir(self.root / 'rounds')

    # ---------------------------------------------------------------- accounting

    @property
    def _ledger_path(self):
        return self.root / 'ledger.jsonl'

    def _ledger_end(self):
        """Bytes of ledger.jsonl holding the committed rounds' rows."""
        rounds = self.rounds()
        if rounds and rounds[-1].get('ledger_start') is not None:
            return rounds[-1]['ledger_start'] + len(_rows_text(rounds[-1]['rows']))
        return sum(len(_rows_text(r['rows'])) for r in rounds)  # rounds of an older store

    def _write_ledger(self):
        """ledger.jsonl rewritten whole (atomically) from the round files."""
        text = b''.join(_rows_text(r['rows']) for r in self.rounds())
        _atomic_write(self._ledger_path, lambda tmp: Path(tmp).write_bytes(text))

    def _write_ledger_rows(self, rnd):
        """Write the rows of the committed round `rnd` at its ledger_start (once), durably."""
        path, start, text = self._ledger_path, rnd.get('ledger_start'), _rows_text(rnd['rows'])
        if not start or not path.is_file() or path.stat().st_size < start:
            return self._write_ledger()  # a new ledger (atomic), or an older store's
        fd = os.open(path, os.O_RDWR)
        try:
            os.pwrite(fd, text, start)
            os.ftruncate(fd, start + len(text))
            os.fsync(fd)
        finally:
            os.close(fd)

    def _cut_ledger(self, start):
        """Keep the ledger's first `start` bytes (the rows of the rounds before), durably."""
        path = self._ledger_path
        if not start or not path.is_file() or path.stat().st_size < start:
            return self._write_ledger()
        fd = os.open(path, os.O_RDWR)
        try:
            os.ftruncate(fd, start)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _check_ledger(self):
        """Rewrite the last round's ledger rows if a crash cut them short (or the whole ledger
        if it does not match an older store's rounds)."""
        rounds = self.rounds()
        path = self._ledger_path
        if not rounds:
            if path.is_file() and path.stat().st_size:
                self._write_ledger()
            return
        last = rounds[-1]
        start = last.get('ledger_start')
        if start is None:
            start, text = 0, b''.join(_rows_text(r['rows']) for r in rounds)
        else:
            text = _rows_text(last['rows'])
        try:
            with open(path, 'rb') as fh:
                fh.seek(start)
                ok = fh.read() == text and fh.tell() == start + len(text)
        except FileNotFoundError:
            ok = False
        if not ok:
            self._write_ledger_rows(last) if last.get('ledger_start') is not None \
                else self._write_ledger()

    def ledger(self):
        return [row for rnd in self.rounds() for row in rnd['rows']]
