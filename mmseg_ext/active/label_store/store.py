"""ActiveLabelStore: reads, deltas and commits (rollback and the ledger: `history.py`)."""
import json
import os
import zlib
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from adasweep_base.testing import kill_point
from . import codec, files as F
from .codec import BLOCKED, BOUGHT, IGNORE, NONE, PSEUDO
from .history import HistoryMixin

_CACHE_BYTES = 64 << 20  # per-image views kept (the state a strategy reads, then its delta)
_GT_CACHE_BYTES = 64 << 20  # ground truths kept deflated (Z_RLE) between rounds


def _threads():
    """Worker threads for a batch of images (zlib, OpenCV and numpy release the GIL): the CPUs
    this process may use, at most OMP_NUM_THREADS where set (a trial's CPU share) and 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    omp = os.environ.get('OMP_NUM_THREADS', '')
    if omp.isdigit() and int(omp) > 0:
        cpus = min(cpus, int(omp))
    return max(1, min(8, cpus))


class _View:
    """One image as committed: its records, state (H, W) uint8, the flat indices of what its
    records bought and pseudo-labelled (with the classes), and whether a state PNG of an earlier
    version's store lies under it (`legacy`)."""
    __slots__ = ('sig', 'shape', 'records', 'state', 'bought', 'pseudo', 'pseudo_labels',
                 'legacy', 'nbytes')


class ActiveLabelStore(HistoryMixin):
    """Bought labels, blocked maps and the ledger of one run (see the package docstring)."""

    def __init__(self, root, keep_bytes=256 << 20):
        self.root = Path(root)
        # encoded files kept between delta and commit (beyond this, commit makes them again)
        self.keep_bytes, self._kept_bytes = keep_bytes, 0
        self._workers = None  # a thread pool, made on first use
        self._rounds = {}  # round json path -> ((inode, mtime, size), parsed)
        self._views = OrderedDict()  # rel -> _View, last read
        self._view_bytes = 0
        self._gts = OrderedDict()  # rel -> (file signature, shape, Z_RLE-deflated pixels)
        self._gt_bytes = 0

    # ---------------------------------------------------------------- images

    def initialise(self, items):
        """Register the target images: `items` = [(rel, gt_path)], in dataset order.

        Creates an all-255 label file (no rounds) for every image that has none (so a new run
        trains with no target labels), keeps what exists (a resumed run), and recovers an
        interrupted round. A store of an earlier version (a `state/` folder) keeps its layout.
        Returns the store paths of the label files, in the order given.
        """
        index = [dict(rel=str(rel), gt=str(gt)) for rel, gt in items]
        known = self.index() if (self.root / 'index.json').is_file() else None
        if known is not None and [e['rel'] for e in known] != [e['rel'] for e in index]:
            raise ValueError(f'active-label store {self.root} was made for another image list '
                             f'({len(known)} images); use a fresh work_dir')
        legacy = known is not None and (self.root / 'state').is_dir()
        blank = {}  # (shape, value) -> PNG bytes: one encoding per image size

        def empty(path, shape, value):
            if (shape, value) not in blank:
                blank[shape, value] = codec.encode_png(np.full(shape, value, np.uint8))
            return F.bytes_file(path, blank[shape, value])

        def new_files():  # the missing ones (a crash in a batch can leave a label without state)
            for entry in index:
                label = self.root / 'labels' / entry['rel']
                state = self.root / 'state' / entry['rel']
                if not (label.is_file() and (not legacy or state.is_file())):
                    with Image.open(entry['gt']) as gt:
                        shape = gt.size[::-1]
                    if not label.is_file():
                        yield empty(label, shape, IGNORE)
                    if legacy and not state.is_file():
                        yield empty(state, shape, 0)
        F.save_batch(new_files())
        if known is None:
            F.save_json(self.root / 'index.json', index)
        self.recover()
        return [str(self.root / 'labels' / e['rel']) for e in index]

    def index(self):
        return json.loads((self.root / 'index.json').read_text())

    def label_path(self, rel):
        return self.root / 'labels' / rel

    def gt_path(self, rel):
        if not hasattr(self, '_gt'):
            self._gt = {e['rel']: e['gt'] for e in self.index()}
        return self._gt[rel]

    def _ground_truth(self, rel):
        """The (H, W) ground truth of `rel` (read only). Each round reads it again, so it is
        kept between rounds, deflated with Z_RLE (inflating is about twice as fast as decoding
        the dataset's PNG), up to _GT_CACHE_BYTES, checked against the file before reuse."""
        path = self.gt_path(rel)
        sig = F.file_sig(path)
        hit = self._gts.get(rel)
        if hit is not None and hit[0] == sig:
            self._gts.move_to_end(rel)
            return np.frombuffer(zlib.decompress(hit[2]), np.uint8).reshape(hit[1])
        gt = F.load_png(path)
        packed = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
        packed = packed.compress(np.ascontiguousarray(gt)) + packed.flush()
        if hit is not None:
            self._gt_bytes -= len(self._gts.pop(rel)[2])
        self._gts[rel] = sig, gt.shape, packed
        self._gt_bytes += len(packed)
        while self._gt_bytes > _GT_CACHE_BYTES and len(self._gts) > 1:
            self._gt_bytes -= len(self._gts.popitem(last=False)[1][2])
        return gt

    def _records(self, rel):
        """(signature, shape, records) of one image's label file."""
        path = self.label_path(rel)
        sig = F.file_sig(path)
        with open(path, 'rb') as fh:
            data = fh.read()
        shape, _, body = codec.parse_png(data)
        return sig, shape, codec.parse_records(body)

    def _view(self, rel, keep=True):
        """The image as committed (a _View; not to be changed: it may be cached). The last few
        read are kept (`keep`; worker threads do not), checked against the files (inode, times,
        size) before reuse, and dropped when this store writes them."""
        base = self.root / 'state' / rel
        try:
            base_sig = F.file_sig(base)
        except FileNotFoundError:
            base_sig = None
        hit = self._views.get(rel) if keep else None
        if hit is not None and hit.sig == (F.file_sig(self.label_path(rel)), base_sig):
            self._views.move_to_end(rel)
            return hit
        sig, shape, records = self._records(rel)
        view = _View()
        view.sig, view.shape, view.records = (sig, base_sig), shape, records
        view.legacy = base_sig is not None
        state = F.load_png(base) if view.legacy else np.zeros(shape, np.uint8)
        flat = state.reshape(-1)
        bought, pseudo, classes = [], [], []
        for _, parts in records:
            b, bl, p, pl = codec.unpack_delta(parts)
            flat[bl] |= BLOCKED
            flat[b] |= BOUGHT | BLOCKED
            flat[p] |= PSEUDO
            bought.append(b), pseudo.append(p), classes.append(pl)
        view.state = state
        view.bought = np.concatenate(bought) if bought else NONE
        view.pseudo = np.concatenate(pseudo) if pseudo else NONE
        view.pseudo_labels = np.concatenate(classes) if classes else np.zeros(0, np.uint8)
        view.nbytes = state.nbytes + view.bought.nbytes + view.pseudo.nbytes
        if not keep:
            return view
        self._forget(rel)
        self._views[rel] = view
        self._view_bytes += view.nbytes
        while self._view_bytes > _CACHE_BYTES and len(self._views) > 1:
            self._view_bytes -= self._views.popitem(last=False)[1].nbytes
        return view

    def _forget(self, rel):
        if rel in self._views:
            self._view_bytes -= self._views.pop(rel).nbytes

    def _state(self, rel):
        """The state array of one image (uint8, bits BLOCKED, BOUGHT, PSEUDO; read only)."""
        return self._view(rel).state

    def state(self, rel):
        """(blocked, bought) bool maps of one image."""
        state = self._state(rel)
        return (state & BLOCKED) > 0, (state & BOUGHT) > 0

    def pseudo(self, rel):
        """(H, W) bool map of one image's pseudo-labelled pixels (not bought)."""
        state = self._state(rel)
        return (state & PSEUDO).astype(bool) & ~(state & BOUGHT).astype(bool)

    def labels(self, rel):
        return F.load_png(self.label_path(rel))

    # ---------------------------------------------------------------- rounds

    def delta(self, rel, bought, blocked, units, pseudo=None):
        """What one image buys this round: bool (H, W) maps of the pick -> a compact delta.

        Pixels already bought or blocked are left out; the ledger row counts what is new.
        `pseudo`: (H, W) uint8 pseudo labels (255 = none) given with the round, not bought: the
        row counts them as pseudo_pixels, and a pixel bought now or before keeps its ground truth.
        """
        view = self._view(rel)
        state = view.state
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
        blocked_idx = np.flatnonzero(blocked | bought)  # a pixel bought before is blocked
        blocked_idx = blocked_idx[(flat_state[blocked_idx] & BLOCKED) == 0]
        gt = self._ground_truth(rel)
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
        if self._kept_bytes < self.keep_bytes:  # the round's part of the files made now, in
            # the background, while the caller goes on (commit_round waits): nothing read twice
            flat = (bought_idx, out['blocked'], out.get('pseudo', NONE),
                    out.get('pseudo_labels', NONE))
            out['encoded'] = self._pool().submit(self._encode, rel, flat, view, gt)
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
            self._kept_bytes += future.result()[3]

    def _encode(self, rel, flat, view, gt):
        """(the delta's packed parts, the view it applies to, the new labels' deflated pixel
        data, their bytes)."""
        parts = codec.pack_delta(*flat)
        idat = codec.encode_idat(self._new_labels(rel, view, gt, flat))
        return parts, view, idat, sum(map(len, parts)) + len(idat)

    def _new_labels(self, rel, view, gt, flat=None):
        """The labels of `rel` (H, W) after its delta `flat` (None: as `view` has them)."""
        if view.legacy:  # the labels of the rounds in the state PNG come from the label file
            labels = self.labels(rel)
        else:
            labels = np.full(view.shape, IGNORE, np.uint8)
            labels.flat[view.pseudo] = view.pseudo_labels
            labels.flat[view.bought] = gt.flat[view.bought]
        if flat is not None:
            bought, _, pseudo, pseudo_labels = flat
            labels.flat[pseudo] = pseudo_labels
            labels.flat[bought] = gt.flat[bought]
        return labels

    def _label_file(self, rel, view, round_index, parts, idat=None, flat=None):
        """The label file of `rel` with round `round_index` (its packed `parts`) applied to
        `view`; `idat`: the new labels' pixel data if made already (else made from `flat`).
        Applying a round `view` holds already gives the same file (recovery)."""
        records = [rec for rec in view.records if rec[0] != round_index]
        if idat is None:
            had = len(records) != len(view.records)
            gt = F.load_png(self.gt_path(rel))
            idat = codec.encode_idat(self._new_labels(rel, view, gt, None if had else flat))
        chunk = codec.records_chunk(records + [(round_index, tuple(parts))])
        return F.bytes_file(self.label_path(rel), codec.assemble_png(view.shape, idat, chunk))

    def commit_round(self, round_index, iteration, deltas, strategy='', before_update=False,
                     options=None):
        """Buy the labels of one round: `deltas` = {rel: self.delta(...)}. Returns ledger rows.
        `strategy` and its `options` (JSON values) are recorded with the round.
        `before_update`: bought before the update of iteration `iteration` (after a checkpoint
        of `iteration` completed updates, which `rollback(iteration)` therefore undoes)."""
        rows = [dict(round=round_index, iteration=int(iteration), **d['row'])
                for d in deltas.values()]
        flat = {rel: (d['bought'], d['blocked'], d.get('pseudo', NONE),
                      np.asarray(d.get('pseudo_labels', NONE), np.uint8))
                for rel, d in deltas.items()}
        encoded = {rel: d['encoded'].result() for rel, d in deltas.items() if 'encoded' in d}
        self._kept_bytes = 0
        parts = dict(zip(flat, self._pool().map(
            lambda rel: encoded[rel][0] if rel in encoded else codec.pack_delta(*flat[rel]),
            flat)))
        sizes = np.array([[len(p) for p in image] for image in parts.values()],
                         np.int64).reshape(-1, codec.PARTS)
        blob = np.frombuffer(b''.join(b''.join(image) for image in parts.values()), np.uint8)
        name = self._round_name(round_index)
        # the round's deltas, for recover() to finish an interrupted commit (removed after it)
        F.save_npz(f'{name}.npz', dict(format=np.array(F.DELTA_FORMAT), sizes=sizes, blob=blob),
                   compressed=False)  # the parts are deflated already
        pending = dict(round=round_index, iteration=int(iteration), strategy=strategy,
                       before_update=bool(before_update), images=list(deltas), rows=rows,
                       ledger_start=self._ledger_end(), records=True)
        if options:
            pending['options'] = json.loads(json.dumps(options, default=str))
        F.save_json(f'{name}.pending.json', pending)
        kill_point('commit')
        self._apply(pending, f'{name}.npz', encoded, flat, parts)
        return rows

    def _round_name(self, round_index):
        return self.root / 'rounds' / f'round_{round_index:03d}'

    def _apply(self, pending, npz, encoded=None, flat=None, parts=None):
        """Write the label files of a round (label and state files for a round of an earlier
        version's store); `encoded`: what delta made ahead, {rel: _encode's tuple}; `flat`,
        `parts`: the round's deltas (else read from `npz`). Idempotent."""
        encoded = encoded or {}
        round_index = pending['round']
        if pending.get('records'):
            if parts is None:
                with np.load(npz) as data:
                    parts = F.load_delta_parts(pending, data, npz)

            def files(rel):
                if rel in encoded:
                    _, view, idat, _ = encoded[rel]
                    return [self._label_file(rel, view, round_index, parts[rel], idat)]
                delta = flat[rel] if flat is not None else codec.unpack_delta(parts[rel])
                return [self._label_file(rel, self._view(rel, False), round_index, parts[rel],
                                         flat=delta)]
        else:  # a round of an earlier version, interrupted: completed as it would have been
            flat = F.load_delta_file(pending, npz) if flat is None else flat

            def files(rel):
                return F.legacy_image_files(self.label_path(rel), self.root / 'state' / rel,
                                            flat[rel], F.load_png(self.gt_path(rel)))
        self._write_images(files, pending['images'])
        # every label file is on disk before the round counts as done
        name = Path(npz).with_suffix('')
        self._rounds.pop(Path(f'{name}.json'), None)
        F.save_json(f'{name}.json', pending)
        os.unlink(f'{name}.pending.json')
        self._write_ledger_rows(pending)
        if pending.get('records'):  # its deltas are in the label files now
            os.unlink(npz)

    def _write_images(self, files, rels):
        """One durable batch of the files `files(rel)` gives, made in threads."""
        rels = list(rels)
        for rel in rels:
            self._forget(rel)
        F.save_batch(f for image in self._pool().map(files, rels) for f in image)
        for rel in rels:
            self._forget(rel)

    def round_delta(self, rnd):
        """{rel: (bought, blocked, pseudo, pseudo_labels)} of a committed round (from rounds()):
        flat indices of what each image newly bought, blocked and got pseudo labels for, and
        the pseudo classes."""
        if not rnd.get('records'):
            return F.load_delta_file(rnd, f'{self._round_name(rnd["round"])}.npz')
        out = {}
        for rel in rnd['images']:
            found = [parts for r, parts in self._records(rel)[2] if r == rnd['round']]
            out[rel] = codec.unpack_delta(found[0]) if found else \
                (NONE, NONE, NONE, np.zeros(0, np.uint8))
        return out
