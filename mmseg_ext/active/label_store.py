"""The active-label store: what has been bought, on disk, under a run's work_dir.

Layout of `root` (one entry per target image, named by the image's label path relative to the
dataset's label folder, `rel`):

    labels/<rel>          uint8 PNG: the bought ground truth and the pseudo labels, 255 = neither
                          (the training pipeline reads these, so data-loader workers see new
                          labels)
    state/<rel>           uint8 PNG: bit 0 = blocked (cannot be picked again), bit 1 = bought
                          (oracle label), bit 2 = pseudo label (the model's, not bought)
    rounds/round_NNN.npz  per round: the flat indices each image newly bought / newly blocked
                          (and newly pseudo-labelled, with the pseudo classes)
    rounds/round_NNN.json per round: iteration, strategy, ledger rows
    ledger.jsonl          one row per (round, image): round, iteration, image, units, pixels,
                          void_pixels, classes {train id: pixels}, and pseudo_pixels for a round
                          that gave pseudo labels (POINT-ENT)
    index.json            the image list (rel, ground-truth path)

Rounds are committed in three steps (delta file, label/state files, round json), every file is
written atomically and durably (`mmseg_ext.fileio`; the label/state files of a round as one batch:
all written, made durable at once, renamed, their folders fsynced, before the round json), so a
crash at any point, the machine's death included, leaves a store that `recover()` completes. Rounds
can be undone exactly (`rollback`), which is how a resumed run gets back the labels it had at
its checkpoint.
"""
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..fileio import atomic_write, atomic_write_many, fsync_dir
from ..testing import kill_point

IGNORE = 255
BLOCKED, BOUGHT, PSEUDO = 1, 2, 4
_NONE = np.zeros(0, np.int64)


_atomic_write = atomic_write  # the commit steps must reach the disk in order (see above)
_atomic_write_many = atomic_write_many


def _png(path, array):
    """One file of a batch for _save_pngs."""
    return path, lambda tmp: Image.fromarray(array).save(tmp, format='PNG')


def _save_pngs(files):
    """Write `files` = (path, write) pairs from _png (a generator: made one at a time), all of
    them on disk (data and folders) when this returns."""
    _atomic_write_many(files)


def _round_number(path):
    """The round of a file `round_NNN[.pending].json`: names are zero-padded to 3 digits only
    (round_1000 sorts before round_101 as text), so rounds are ordered by this number."""
    return int(path.name.split('.')[0][len('round_'):])


def _save_json(path, obj, lines=False):
    text = '\n'.join(json.dumps(o) for o in obj) + '\n' if lines else json.dumps(obj, indent=1)
    _atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _save_npz(path, arrays):
    def write(tmp):
        with open(tmp, 'wb') as fh:  # a path would get '.npz' appended
            np.savez_compressed(fh, **arrays)
    _atomic_write(path, write)


def _load_png(path):
    return np.array(Image.open(path))


def _decode_state(state):
    """(blocked, bought) bool maps of a state array."""
    return (state & BLOCKED) > 0, (state & BOUGHT) > 0


class ActiveLabelStore:
    """Bought labels, blocked maps and the ledger of one run (see the module docstring)."""

    def __init__(self, root, keep_bytes=256 << 20):
        self.root = Path(root)
        self.keep_bytes, self._kept_bytes = keep_bytes, 0  # arrays kept between delta and commit

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

        def new_files():  # the missing ones (a crash in a batch can leave a label without state)
            for entry in index:
                label, state = (self.root / sub / entry['rel'] for sub in ('labels', 'state'))
                if not (label.is_file() and state.is_file()):
                    with Image.open(entry['gt']) as gt:
                        shape = gt.size[::-1]
                    if not label.is_file():
                        yield _png(label, np.full(shape, IGNORE, np.uint8))
                    if not state.is_file():
                        yield _png(state, np.zeros(shape, np.uint8))
        _save_pngs(new_files())
        if known is None:
            _save_json(self.root / 'index.json', index)
        self.recover()
        return [str(self.root / 'labels' / e['rel']) for e in index]

    def index(self):
        return json.loads((self.root / 'index.json').read_text())

    def label_path(self, rel):
        return self.root / 'labels' / rel

    def state(self, rel):
        """(blocked, bought) bool maps of one image."""
        return _decode_state(_load_png(self.root / 'state' / rel))

    def pseudo(self, rel):
        """(H, W) bool map of one image's pseudo-labelled pixels (not bought)."""
        state = _load_png(self.root / 'state' / rel)
        return (state & PSEUDO).astype(bool) & ~(state & BOUGHT).astype(bool)

    def labels(self, rel):
        return _load_png(self.label_path(rel))

    # ---------------------------------------------------------------- rounds

    def rounds(self):
        """Committed rounds, in order: [{round, iteration, strategy, rows}]."""
        out = []
        for path in sorted((self.root / 'rounds').glob('round_*.json'), key=_round_number):
            if not path.name.endswith('.pending.json'):
                out.append(json.loads(path.read_text()))
        return out

    def delta(self, rel, bought, blocked, units, pseudo=None):
        """What one image buys this round: bool (H, W) maps of the pick -> a compact delta.

        Pixels already bought or blocked are left out; the ledger row counts what is new.
        `pseudo`: (H, W) uint8 pseudo labels (255 = none) given with the round, not bought: the
        row counts them as pseudo_pixels, and a pixel bought now or before keeps its ground truth.
        """
        state = _load_png(self.root / 'state' / rel)
        old_blocked, old_bought = _decode_state(state)
        new_bought = np.asarray(bought, bool) & ~old_bought
        if (state & PSEUDO).any() and (new_bought & (state & PSEUDO).astype(bool)).any():
            raise ValueError(f'{rel}: buying a pseudo-labelled pixel is not supported (a round '
                             'that gives pseudo labels is the last one to touch them)')
        new_blocked = (np.asarray(blocked, bool) | new_bought) & ~old_blocked
        gt = _load_png(self.gt_path(rel))
        got = gt[new_bought]
        classes = np.bincount(got[got != IGNORE])
        row = dict(image=rel, units=int(units), pixels=int(new_bought.sum()),
                   void_pixels=int((got == IGNORE).sum()),
                   classes={str(c): int(n) for c, n in enumerate(classes) if n})
        out = dict(row=row, bought=np.flatnonzero(new_bought), blocked=np.flatnonzero(new_blocked))
        if pseudo is not None:
            pseudo = np.asarray(pseudo, np.uint8)
            if pseudo.shape != gt.shape:
                raise ValueError(f'pseudo labels of {rel} are {pseudo.shape}, its labels '
                                 f'{gt.shape}')
            given = (pseudo != IGNORE) & ~(state & PSEUDO).astype(bool) & ~old_bought & ~new_bought
            out['pseudo'] = np.flatnonzero(given)
            out['pseudo_labels'] = pseudo.flat[out['pseudo']]
            row['pseudo_pixels'] = int(given.sum())
        if self._kept_bytes + state.nbytes + gt.nbytes <= self.keep_bytes:
            self._kept_bytes += state.nbytes + gt.nbytes
            out['arrays'] = (state, gt)  # saves commit_round reading them again
        return out

    def commit_round(self, round_index, iteration, deltas, strategy='', before_update=False,
                     options=None):
        """Buy the labels of one round: `deltas` = {rel: self.delta(...)}. Returns ledger rows.
        `strategy` and its `options` (JSON values) are recorded with the round.
        `before_update`: bought before the update of iteration `iteration` (after a checkpoint
        of `iteration` completed updates, which `rollback(iteration)` therefore undoes)."""
        rows = [dict(round=round_index, iteration=int(iteration), **d['row'])
                for d in deltas.values()]
        arrays = {}
        for i, d in enumerate(deltas.values()):
            arrays[f'{i}_bought'], arrays[f'{i}_blocked'] = d['bought'], d['blocked']
            if 'pseudo' in d:
                arrays[f'{i}_pseudo'] = d['pseudo']
                arrays[f'{i}_pseudo_labels'] = d['pseudo_labels']
        name = self.root / 'rounds' / f'round_{round_index:03d}'
        _save_npz(f'{name}.npz', arrays)
        pending = dict(round=round_index, iteration=int(iteration), strategy=strategy,
                       before_update=bool(before_update),
                       images=list(deltas), rows=rows)
        if options:
            pending['options'] = json.loads(json.dumps(options, default=str))
        _save_json(f'{name}.pending.json', pending)
        kill_point('commit')
        self._apply(pending, f'{name}.npz', {rel: d['arrays'] for rel, d in deltas.items()
                                             if 'arrays' in d})
        self._kept_bytes = 0
        return rows

    def gt_path(self, rel):
        if not hasattr(self, '_gt'):
            self._gt = {e['rel']: e['gt'] for e in self.index()}
        return self._gt[rel]

    def _load_delta(self, pending, npz):
        """{rel: (bought, blocked, pseudo, pseudo_labels)} flat indices (and pseudo classes)."""
        with np.load(npz) as data:
            def get(key):
                return data[key] if key in data.files else _NONE
            return {rel: (data[f'{i}_bought'], data[f'{i}_blocked'], get(f'{i}_pseudo'),
                          get(f'{i}_pseudo_labels').astype(np.uint8))
                    for i, rel in enumerate(pending['images'])}

    def _apply(self, pending, npz, arrays=None):
        """Write the label and state files of a round; `arrays`: {rel: (state, gt)} as read by
        `delta` (the state before this round), else read from disk. Idempotent."""
        arrays = arrays or {}

        def files():
            for rel, (bought, blocked, pseudo, pseudo_labels) in \
                    self._load_delta(pending, npz).items():
                if rel in arrays:
                    state, gt = arrays[rel][0].copy(), arrays[rel][1]
                else:
                    state, gt = _load_png(self.root / 'state' / rel), _load_png(self.gt_path(rel))
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
                yield _png(self.label_path(rel), labels)
                yield _png(self.root / 'state' / rel, state)
        _save_pngs(files())  # every label and state file on disk before the round counts as done
        name = Path(npz).with_suffix('')
        _save_json(f'{name}.json', pending)
        os.unlink(f'{name}.pending.json')
        self._write_ledger()

    def recover(self):
        """Finish a round whose commit was interrupted (applying a delta is idempotent)."""
        for pending in sorted((self.root / 'rounds').glob('round_*.pending.json'),
                              key=_round_number):
            npz = str(pending).replace('.pending.json', '.npz')
            if os.path.exists(npz):
                self._apply(json.loads(pending.read_text()), npz)
            else:
                os.unlink(pending)

    def rollback(self, iteration):
        """Undo every round committed after a checkpoint of `iteration` completed updates (rounds
        of later iterations, and those of `iteration` bought before its update), newest first."""
        undone = []

        def files(delta):
            for rel, (bought, blocked, pseudo, _) in delta.items():
                labels, state = self.labels(rel), _load_png(self.root / 'state' / rel)
                labels.flat[bought] = IGNORE
                labels.flat[pseudo] = IGNORE
                state.flat[bought] &= ~np.uint8(BOUGHT)
                state.flat[blocked] &= ~np.uint8(BLOCKED)
                state.flat[pseudo] &= ~np.uint8(PSEUDO)
                yield _png(self.label_path(rel), labels)
                yield _png(self.root / 'state' / rel, state)
        for rnd in reversed(self.rounds()):
            if rnd['iteration'] < iteration or (rnd['iteration'] == iteration
                                                 and not rnd.get('before_update')):
                break
            name = self.root / 'rounds' / f'round_{rnd["round"]:03d}'
            # the labels are undone on disk before the round is forgotten
            _save_pngs(files(self._load_delta(rnd, f'{name}.npz')))
            os.unlink(f'{name}.json')
            os.unlink(f'{name}.npz')
            undone.append(rnd['round'])
        if undone:
            fsync_dir(self.root / 'rounds')
            self._write_ledger()
        return undone

    # ---------------------------------------------------------------- accounting

    def _write_ledger(self):
        rows = [row for rnd in self.rounds() for row in rnd['rows']]
        _save_json(self.root / 'ledger.jsonl', rows, lines=True)

    def ledger(self):
        return [row for rnd in self.rounds() for row in rnd['rows']]
