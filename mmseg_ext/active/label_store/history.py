"""The active-label store's history: rounds, recovery, rollback and the ledger (a mixin of
ActiveLabelStore; see the package docstring for the layout and the crash protocol)."""
import json
import os
import re
from pathlib import Path

import numpy as np

from adasweep_base.fileio import atomic_write, fsync_dir
from . import codec, files as F
from .codec import BLOCKED, BOUGHT, IGNORE, PSEUDO

_ROUND = re.compile(r'round_(\d+)\.json$')
_ROLLBACK = 'rollback.pending.json'


def _rows_text(rows):
    """A round's rows as ledger.jsonl holds them (bytes)."""
    return ''.join(json.dumps(row) + '\n' for row in rows).encode()


class HistoryMixin:

    def _round_files(self):
        """[(round number, path)] of the committed round jsons, in numeric order."""
        found = []
        for path in (self.root / 'rounds').glob('round_*.json'):
            m = _ROUND.fullmatch(path.name)
            if m:  # not a .pending.json
                found.append((int(m.group(1)), path))
        return sorted(found)

    def rounds(self):
        """Committed rounds, in order: [{round, iteration, strategy, rows, ...}]."""
        out, seen = [], set()
        for _, path in self._round_files():
            sig = F.file_sig(path)
            hit = self._rounds.get(path)
            if hit is None or hit[0] != sig:
                hit = self._rounds[path] = sig, json.loads(path.read_text())
            seen.add(path)
            out.append(dict(hit[1]))  # a copy of the top level (rows are shared: read only)
        for path in set(self._rounds) - seen:
            del self._rounds[path]
        return out

    def recover(self):
        """Finish a round whose commit or rollback was interrupted (applying or undoing a delta
        is idempotent), and the last round's ledger rows."""
        rounds_dir = self.root / 'rounds'
        marker = rounds_dir / _ROLLBACK
        if marker.is_file():
            self._undo(json.loads(marker.read_text())['rounds'])
        for pending in sorted(rounds_dir.glob('round_*.pending.json')):
            npz = str(pending).replace('.pending.json', '.npz')
            if os.path.exists(npz):
                self._apply(json.loads(pending.read_text()), npz)
            else:
                os.unlink(pending)
        if rounds_dir.is_dir():
            for rnd in self.rounds():  # a crash after a commit, before its delta file went
                npz = f'{self._round_name(rnd["round"])}.npz'
                if rnd.get('records') and os.path.exists(npz):
                    os.unlink(npz)
            self._check_ledger()

    def rollback(self, iteration):
        """Undo every round committed after a checkpoint of `iteration` completed updates (rounds
        of later iterations, and those of `iteration` bought before its update), newest first.

        The rounds are undone together, each touched image read and written once (the time
        grows with the images those rounds touched, not with the store): the list of rounds is
        made durable first (rollback.pending.json, which `recover()` completes), then the label
        (and an earlier version's state) files as one batch, then the round files removed, then
        the ledger cut."""
        undone = []
        for rnd in reversed(self.rounds()):
            if rnd['iteration'] < iteration or (rnd['iteration'] == iteration
                                                 and not rnd.get('before_update')):
                break
            undone.append(rnd['round'])
        if undone:
            F.save_json(self.root / 'rounds' / _ROLLBACK, dict(rounds=undone))
            self._undo(undone)
        return undone

    def _undo(self, numbers):
        """Undo the rounds `numbers` (newest first) whose files remain, then drop the marker."""
        rounds = {r['round']: r for r in self.rounds()}
        todo = [rounds[n] for n in numbers if n in rounds]
        new = {r['round'] for r in todo if r.get('records')}
        old = {}  # rel -> [(bought, blocked, pseudo)] of rounds of earlier versions (delta files)
        touched = {rel: None for r in todo if r.get('records') for rel in r['images']}
        for rnd in todo:
            if not rnd.get('records'):
                for rel, (bought, blocked, pseudo, _) in self.round_delta(rnd).items():
                    old.setdefault(rel, []).append((bought, blocked, pseudo))
                    touched[rel] = None

        def files(rel):
            _, shape, records = self._records(rel)
            gone = [codec.unpack_delta(parts) for r, parts in records if r in new]
            if not gone and rel not in old:
                return []  # undone already (a rollback finished by recover)
            labels, out = self.labels(rel), []
            for bought, _, pseudo, _ in gone:
                labels.flat[bought] = IGNORE
                labels.flat[pseudo] = IGNORE
            if rel in old:
                state_path = self.root / 'state' / rel
                state = F.load_png(state_path)
                for bought, blocked, pseudo in old[rel]:
                    labels.flat[bought] = IGNORE
                    labels.flat[pseudo] = IGNORE
                    state.flat[bought] &= ~np.uint8(BOUGHT)
                    state.flat[blocked] &= ~np.uint8(BLOCKED)
                    state.flat[pseudo] &= ~np.uint8(PSEUDO)
                out.append(F.bytes_file(state_path, codec.encode_png(state)))
            kept = [(r, parts) for r, parts in records if r not in new]
            out.append(F.bytes_file(self.label_path(rel), codec.encode_png(
                labels, codec.records_chunk(kept) if kept else b'')))
            return out
        if touched:  # the labels are undone on disk before the rounds are forgotten
            self._write_images(files, touched)
        for rnd in todo:
            name = self._round_name(rnd['round'])
            self._rounds.pop(Path(f'{name}.json'), None)
            os.unlink(f'{name}.json')
            if os.path.exists(f'{name}.npz'):
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
        atomic_write(self._ledger_path, lambda tmp: Path(tmp).write_bytes(text))

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
