"""Sweep results as Parquet: one row per (trial, evaluation), an explicit schema, atomic writes.

Layout under `<storage>/<sweep>/`: `trials/<trial_id>.parquet` (every row so far of one trial,
rewritten atomically after each report) and `results.parquet` (all trials, written by
`TrialResultWriter.compact`, which merges the trial files into it and never drops a row it had).
Readers unify schemas over all files (never the first file's) and deduplicate on (trial_id,
round, is_final), keeping the latest `reported_at`: what is newest is decided by the rows, never
by file times. No Ray code here.
"""
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from adasweep_base.fileio import atomic_write
from adasweep_base.testing import kill_point

from .common import mask_secrets
# the schema and rows of sweeps/results_schema.py, re-exported: the results API of tests and tools
from .storage import as_storage
from .results_schema import (CLASS_NAMES_19, IOU_COLUMNS, RESULT_SCHEMA,  # noqa: F401
                             conform, iou_column, make_row, metrics_to_columns, param_column,
                             rows_to_table, unified_schema)

DEDUP_KEYS = ('trial_id', 'round', 'is_final')
SORT_KEYS = ('variant', 'seed', 'trial_id', 'round', 'is_final')



def dedup_sort(table):
    """Keep one row per (trial_id, round, is_final): the latest reported_at among its non-error
    rows (an error row never replaces a result), else the latest error row (ties: a 'stopped'
    row, which the driver rewrites from an 'ok' one keeping its time, then the later row); then
    sort by (variant, seed, trial_id, round, is_final)."""
    if table.num_rows == 0:
        return table
    n = table.num_rows
    ok = pc.not_equal(table['status'], 'error').cast(pa.int8())
    stopped = pc.equal(table['status'], 'stopped').cast(pa.int8())
    order = pa.table({'ok': ok, 'r': table['reported_at'], 's': stopped,
                      'i': np.arange(n)}).sort_by(
        [('ok', 'ascending'), ('r', 'ascending'), ('s', 'ascending'), ('i', 'ascending')])['i']
    keys = table.select(list(DEDUP_KEYS)).take(order).append_column('_pos', pa.array(np.arange(n)))
    last = keys.group_by(list(DEDUP_KEYS), use_threads=False).aggregate([('_pos', 'max')])
    table = table.take(pc.take(order, last['_pos_max']))
    return table.sort_by([(k, 'ascending') for k in SORT_KEYS])


def drop_superseded_errors(table):
    """Without the error rows reported before a result of the same trial: the driver removes a
    trial's error rows when it reports again (sweeps/parquet_callback.py), so an older copy of
    the rows (results.parquet) must not bring them back."""
    err = pc.equal(table['status'], 'error')
    if table.num_rows == 0 or not pc.any(err).as_py():
        return table
    newest = table.filter(pc.invert(err)).group_by('trial_id', use_threads=False).aggregate(
        [('reported_at', 'max')])
    at = newest['reported_at_max'].take(pc.index_in(table['trial_id'],
                                                     value_set=newest['trial_id']))
    superseded = pc.and_(err, pc.less(table['reported_at'], at)).fill_null(False)
    return table.filter(pc.invert(superseded))


# ---- files ------------------------------------------------------------------------------------

def atomic_write_table(table, path):
    """Write `table` to `path` via a dot-prefixed temp file in the same folder and os.replace, so a
    reader sees the old file or the new one, never a partial one; the file and the folder are
    fsynced (the new file survives a power loss)."""
    def write(tmp):
        pq.write_table(table, tmp)
        if os.environ.get('ADASWEEP_TEST_KILL_AT'):  # test-only fault injection
            kill_point(
                'compact' if Path(path).name == 'results.parquet' else 'parquet')
    return atomic_write(path, write)


def write_table(store, rel, table):
    """`table` as Parquet at `rel` of `store` (sweeps/storage.py): atomic_write_table in a
    folder; one whole-object PUT on an object store."""
    if store.local:
        return atomic_write_table(table, store.path(rel))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    if os.environ.get('ADASWEEP_TEST_KILL_AT'):  # test-only fault injection
        kill_point('compact' if rel.endswith('results.parquet') else 'parquet')
    return store.write_bytes(rel, sink.getvalue().to_pybytes())


def _name(rel):
    """'trials/<id>.parquet' -> '<id>.parquet' (how results.parquet's footer names it)."""
    return rel.rsplit('/', 1)[-1]


def _trial_files(store):
    """The trial files of the sweep at `store`, as paths relative to it."""
    return [f'trials/{n}' for n in store.list('trials')
            if n.endswith('.parquet') and not n.startswith(('.', '_'))]


def _read_file(src, columns=None, schema_only=False):
    """One Parquet file (`src`: a path, or (storage, relative path)) through ONE open handle:
    pq.read_table(path) opens the path twice (footer, then data), so a concurrent os.replace can
    pair an old footer with new pages. Its schema only (the footer) if `schema_only`. An
    unreadable file -> ValueError naming it."""
    store, rel = src if isinstance(src, tuple) else (as_storage(src), '')
    try:
        with store.open_input(rel) as fh:
            pf = pq.ParquetFile(fh)
            if schema_only:
                return pf.schema_arrow
            names = pf.schema_arrow.names
            cols = None if columns is None else [c for c in columns if c in names]
            return pf.read(columns=cols)
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError) as e:  # not Parquet, truncated, corrupt pages
        raise ValueError(f'{store.shown(rel)}: not a readable Parquet file ({e})') from None


def _read_unified(srcs, columns=None, dedup=True):
    """Read `srcs` (only `columns` if given, plus the dedup keys), cast each to the unified
    schema, concatenate and (if `dedup`) deduplicate and sort."""
    want = None
    if columns is not None:
        want = list(dict.fromkeys(list(columns) + (list(DEDUP_KEYS) + ['reported_at', 'status']
                                                  + list(SORT_KEYS) if dedup else [])))
    tables = [_read_file(p, want) for p in srcs]
    schema = unified_schema([t.schema for t in tables], want)
    parts = []
    for (store, rel), t in zip(srcs, tables):
        try:
            parts.append(conform(t, schema))
        except (pa.ArrowInvalid, ValueError) as e:
            raise ValueError(f'{store.shown(rel)}: {e}') from None
    table = pa.concat_tables(parts) if parts else schema.empty_table()
    if dedup:
        table = dedup_sort(drop_superseded_errors(table))
    return table.select(list(columns)) if columns is not None else table


STAMP_KEY = 'adasweep.rows_stamp'     # a trial file's footer: the stamp of its rows
MERGED_KEY = 'adasweep.merged_stamps'  # results.parquet's footer: {trial file: stamp} merged


def _stamp(table):
    """What identifies the rows of a trial file: their (round, is_final, status, reported_at),
    hashed. The driver gives every new report a new reported_at, and changes a row's status
    only, so other rows have another stamp."""
    keys = zip(*(table[c].to_pylist() for c in ('round', 'is_final', 'status', 'reported_at')))
    return hashlib.sha1(repr(sorted(keys)).encode()).hexdigest()[:20]


def _with_metadata(table, extra):
    return table.replace_schema_metadata({**(table.schema.metadata or {}),
                                          **{k.encode(): v.encode() for k, v in extra.items()}})


def _file_stamp(src):
    """The stamp in a trial file's footer (None: a file of an older writer, or unreadable)."""
    try:
        meta = _read_file(src, schema_only=True).metadata or {}
    except (ValueError, OSError):
        return None
    stamp = meta.get(STAMP_KEY.encode())
    return stamp.decode() if stamp else None


class TrialResultWriter:
    """Per-trial Parquet files of one sweep, rewritten atomically, and their compaction.

    root: `<storage>/<sweep name>`: a folder, a URI or a sweeps.storage.Storage.
    """

    def __init__(self, root):
        self.store = as_storage(root)
        here = Path(self.store.path()) if self.store.local else None  # local paths, as before
        self.root = here or self.store.uri()
        self.trials_dir = here / 'trials' if here else self.store.path('trials')
        self.results_path = here / 'results.parquet' if here else self.store.path(RESULTS)

    def _trial_rel(self, trial_id):
        tid = str(trial_id)
        if not tid or tid.startswith(('.', '_')) or os.sep in tid or '/' in tid:
            raise ValueError(f'trial_id {tid!r} is not usable as a file name')
        return f'trials/{tid}.parquet'

    def trial_path(self, trial_id):
        rel = self._trial_rel(trial_id)
        return Path(self.store.path(rel)) if self.store.local else self.store.path(rel)

    def has_trial(self, trial_id):
        return self.store.is_file(self._trial_rel(trial_id))

    def read_trial(self, trial_id):
        """Every row of trial `trial_id`'s file (read as read_results does), [] without one."""
        rel = self._trial_rel(trial_id)
        if not self.store.is_file(rel):
            return []
        return _read_unified([(self.store, rel)]).to_pylist()

    def write_trial(self, trial_id, rows):
        """Write ALL rows so far of `trial_id` (dicts for make_row) to trials/<trial_id>.parquet,
        replacing the previous file atomically. Returns the path."""
        rel = self._trial_rel(trial_id)
        rows = list(rows)
        if not rows:
            raise ValueError(f'write_trial({trial_id!r}): no rows')
        bad = {r.get('trial_id') for r in rows} - {str(trial_id)}
        if bad:
            raise ValueError(f'write_trial({trial_id!r}): rows of other trials {sorted(bad)}')
        table = rows_to_table(rows)
        return write_table(self.store, rel, _with_metadata(table, {STAMP_KEY: _stamp(table)}))

    def compact(self):
        """results.parquet merged with the trial files (unified, deduplicated as read_results
        does, sorted) -> results.parquet; returns the table. Never drops a row it had: a
        results.parquet it cannot read raises ValueError (naming it) and stays as it is. Its
        footer lists the stamp of every trial file merged (taken before they are read), so
        readers skip the files whose rows it holds."""
        files = _trial_files(self.store)
        stamps = {_name(rel): _file_stamp((self.store, rel)) for rel in files}
        if not (self.store.is_file(RESULTS) or files):
            table = RESULT_SCHEMA.empty_table()
        else:
            table = read_results(self.store)
        merged = json.dumps({n: s for n, s in stamps.items() if s}, sort_keys=True)
        write_table(self.store, RESULTS, _with_metadata(table, {MERGED_KEY: merged}))
        return table


RESULTS = 'results.parquet'


def known_sweeps(storage):
    """Names of the sweep folders (with results.parquet or trials/) directly under `storage`."""
    store = as_storage(storage)
    if not store.is_dir():
        return []
    return sorted(n for n in store.list() if not n.startswith('.') and store.is_dir(n) and (
        store.is_file(f'{n}/{RESULTS}') or store.is_dir(f'{n}/trials')))


def _missing(store, why):
    parent = str(Path(store.arg).parent) if store.local else store.parent().uri()
    names = known_sweeps(parent)
    shown = mask_secrets(parent)
    listing = f'known sweeps under {shown!r}: {", ".join(names)}' if names else (
        f'no sweeps under {shown!r}')
    return FileNotFoundError(f'{why} {str(store)!r} ({listing})')


def _sources(path):
    """((storage, relative path) to read, whether they need deduplication) for a results file
    or a sweep folder: a path, a URI or a sweeps.storage.Storage."""
    store = as_storage(path)
    if store.is_file():
        return [(store, '')], Path(store.path()).name != RESULTS
    if not store.is_dir():
        raise _missing(store, 'no sweep results at')
    trials = _trial_files(store)
    if store.is_file(RESULTS):  # first: a trial file's row wins a tie (see dedup_sort)
        merged = json.loads(((_read_file((store, RESULTS), schema_only=True).metadata or {}).get(
            MERGED_KEY.encode()) or b'{}').decode())
        fresh = [(store, rel) for rel in trials  # rows results.parquet may not hold
                 if merged.get(_name(rel)) is None
                 or merged[_name(rel)] != _file_stamp((store, rel))]
        return [(store, RESULTS)] + fresh, bool(fresh)
    if not trials:
        raise _missing(store, 'no results.parquet or trials/*.parquet in')
    return [(store, rel) for rel in trials], True


def result_schema(path):
    """The unified schema of a results file or sweep folder (reads only the Parquet footers)."""
    return unified_schema([_read_file(p, schema_only=True) for p in _sources(path)[0]])


def read_results(path, columns=None):
    """A results.parquet file, or a sweep folder (its results.parquet and the trial files whose
    rows it does not hold by their stamps, unified and deduplicated by the rows' own report
    times: never by file times), as one Table in the unified schema: a path, a URI (s3://...)
    or a sweeps.storage.Storage. `columns`: read only these. Missing -> FileNotFoundError."""
    paths, dedup = _sources(path)
    return _read_unified(paths, columns, dedup)


def final_ok(df):
    """The final evaluation (is_final) of every trial with status 'ok' (a DataFrame of results
    rows, in its order and with its index): what the tables, the report and the console count
    as a trial's result."""
    return df[df['is_final'].astype(bool) & (df['status'] == 'ok')]
