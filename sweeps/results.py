"""Sweep results as Parquet: one row per (trial, evaluation), an explicit schema, atomic writes.

Layout under `<storage>/<sweep>/`: `trials/<trial_id>.parquet` (every row so far of one trial,
rewritten atomically after each report) and `results.parquet` (all trials, written by
`TrialResultWriter.compact`, which merges the trial files into it and never drops a row it had).
Readers unify schemas over all files (never the first file's) and deduplicate on (trial_id,
round, is_final), keeping the latest `reported_at`: what is newest is decided by the rows, never
by file times. No Ray code here.
"""
import hashlib
import importlib.util
import json
import math
import numbers
import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def _ext_module(name):
    """Module `mmseg_ext.<name>` (a dependency-free file of the package), without importing the
    whole package (which pulls in torch and mmseg: seconds for a table CLI that needs none of
    it)."""
    mod = sys.modules.get(f'mmseg_ext.{name}')
    if mod is None:
        pkg = importlib.util.find_spec('mmseg_ext')
        path = os.path.join(os.path.dirname(pkg.origin), *name.split('.')) + '.py'
        spec = importlib.util.spec_from_file_location(f'_adasweep_{name.replace(".", "_")}', path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    return mod


def _cityscapes_classes():
    """CITYSCAPES_CLASSES of mmseg_ext.datasets.classes (see _ext_module)."""
    return tuple(_ext_module('datasets.classes').CITYSCAPES_CLASSES)


_fileio = _ext_module('fileio')  # durable writes (fsync of the file and of its folder)


CLASS_NAMES_19 = _cityscapes_classes()
STATUSES = ('ok', 'stopped', 'error')
REQUIRED = ('sweep', 'space', 'benchmark', 'variant', 'trial_id', 'seed', 'round', 'iteration',
            'status')
DEDUP_KEYS = ('trial_id', 'round', 'is_final')
SORT_KEYS = ('variant', 'seed', 'trial_id', 'round', 'is_final')
SCHEMA_VERSION = '1'


def iou_column(name):
    """'traffic light' -> 'iou_traffic_light'."""
    return 'iou_' + name.lower().replace(' ', '_')


def param_column(name):
    """'model.decode_head.tau' -> 'param_model_decode_head_tau' (any non [A-Za-z0-9_] -> '_')."""
    return 'param_' + re.sub(r'[^0-9A-Za-z_]', '_', str(name))


IOU_COLUMNS = tuple(iou_column(c) for c in CLASS_NAMES_19)


def _f(name, typ, nullable=True):
    return pa.field(name, typ, nullable=nullable)


RESULT_SCHEMA = pa.schema(
    [_f('sweep', pa.string(), False), _f('space', pa.string(), False),
     _f('benchmark', pa.string(), False), _f('variant', pa.string(), False),
     _f('trial_id', pa.string(), False), _f('seed', pa.int64(), False),
     _f('round', pa.int64(), False), _f('iteration', pa.int64(), False),
     _f('labelled_fraction', pa.float64()), _f('pixels_bought', pa.int64()),
     _f('units_bought', pa.int64()), _f('miou', pa.float64()), _f('miou13', pa.float64())]
    + [_f(c, pa.float64()) for c in IOU_COLUMNS]
    + [_f('is_final', pa.bool_(), False), _f('status', pa.string(), False),
       _f('error', pa.string()), _f('params_json', pa.string()), _f('config_json', pa.string()),
       _f('wall_seconds', pa.float64()), _f('train_seconds', pa.float64()),
       _f('git_rev', pa.string()), _f('node_id', pa.string()), _f('hostname', pa.string()),
       _f('device', pa.string()), _f('trial_name', pa.string()), _f('pseudo_pixels', pa.int64()),
       _f('reported_at', pa.timestamp('us', tz='UTC'), False)],
    metadata={'adasweep.results.schema_version': SCHEMA_VERSION})
FIXED_NAMES = tuple(RESULT_SCHEMA.names)
_STR = ('sweep', 'space', 'benchmark', 'variant', 'trial_id', 'trial_name', 'status', 'error',
        'params_json', 'config_json', 'git_rev', 'node_id', 'hostname', 'device')
_INT = ('seed', 'round', 'iteration', 'pixels_bought', 'units_bought', 'pseudo_pixels')
_FLOAT = ('labelled_fraction', 'miou', 'miou13', 'wall_seconds', 'train_seconds') + IOU_COLUMNS


def _num(value):
    """A float, or None for None/NaN (mmseg reports NaN for a class absent from pred and gt)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def metrics_to_columns(metrics):
    """mmseg metrics {'mIoU', 'mIoU13', 'IoU.<class>', ...} (percent; keys may carry a 'val/'
    prefix) -> {'miou', 'miou13', 'iou_<class>'}; other keys (aAcc, mAcc, ...) are ignored."""
    out = {}
    for key, value in metrics.items():
        key = str(key).rsplit('/', 1)[-1]
        if key == 'mIoU':
            out['miou'] = _num(value)
        elif key == 'mIoU13':
            out['miou13'] = _num(value)
        elif key.startswith('IoU.'):
            name = key[4:]
            if name not in CLASS_NAMES_19:
                raise ValueError(f'metrics: unknown class {name!r} in {key!r} '
                                 f'(expected one of the 19 Cityscapes classes)')
            out[iou_column(name)] = _num(value)
    return out


def _flatten(params, prefix=''):
    out = {}
    for k, v in params.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


def _param_value(v):
    """bool/int/float/str as is (numpy scalars unwrapped); anything else as a JSON string."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return json.dumps(v, sort_keys=True, default=str)


def _as_dict(config):
    return config.to_dict() if hasattr(config, 'to_dict') else config


def make_row(**fields):
    """One result row (dict in schema order, then param_* sorted), validated.

    Besides the schema columns it takes `metrics` (mmseg form, see `metrics_to_columns`),
    `params` (sampled parameters, nested dicts flattened with dots: param_* columns and
    params_json) and `config` (dict or mmengine Config: config_json). Explicit columns win over
    the ones derived from them. Missing optional columns are None; is_final defaults to False and
    reported_at to now (UTC). Idempotent: make_row(**make_row(...)) gives the same row.
    """
    metrics, params, config = (fields.pop(k, None) for k in ('metrics', 'params', 'config'))
    unknown = [k for k in fields if k not in FIXED_NAMES and not k.startswith('param_')]
    if unknown:
        raise ValueError(f'make_row: unknown field(s) {unknown} (expected schema columns, '
                         f'param_*, metrics, params or config)')
    missing = [k for k in REQUIRED if fields.get(k) is None]
    if missing:
        raise ValueError(f'make_row: missing required field(s) {missing}')
    row = dict.fromkeys(FIXED_NAMES)
    row['is_final'] = False
    if metrics:
        row.update(metrics_to_columns(metrics))
    extra = {}
    if params is not None:
        params = _flatten(dict(params))
        row['params_json'] = json.dumps(params, sort_keys=True, default=str)
        extra = {param_column(k): _param_value(v) for k, v in params.items()}
    if config is not None:
        row['config_json'] = json.dumps(_as_dict(config), sort_keys=True, default=str)
    for k, v in fields.items():
        (extra if k.startswith('param_') else row)[k] = (
            _param_value(v) if k.startswith('param_') else v)
    _validate(row)
    row.update(sorted(extra.items()))
    return row


def _validate(row):
    for k in _STR:
        if row[k] is not None and not isinstance(row[k], str):
            raise ValueError(f'make_row: {k}={row[k]!r} must be a string')
    for k in _INT:
        v = row[k]
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise ValueError(f'make_row: {k}={v!r} must be an integer')
            row[k] = int(v)
    for k in ('round', 'iteration', 'pixels_bought', 'units_bought', 'pseudo_pixels'):
        if row[k] is not None and row[k] < 0:
            raise ValueError(f'make_row: {k}={row[k]} must be >= 0')
    for k in _FLOAT:
        row[k] = _num(row[k])
    lf = row['labelled_fraction']
    if lf is not None and not 0.0 <= lf <= 1.0:
        raise ValueError(f'make_row: labelled_fraction={lf} must be a fraction in [0, 1]')
    if row['status'] not in STATUSES:
        raise ValueError(f'make_row: status={row["status"]!r} must be one of {STATUSES}')
    if row['error'] is not None and row['status'] != 'error':
        raise ValueError(f"make_row: error given with status={row['status']!r} (needs 'error')")
    if not isinstance(row['is_final'], (bool, np.bool_)):
        raise ValueError(f'make_row: is_final={row["is_final"]!r} must be a bool')
    row['is_final'] = bool(row['is_final'])
    ts = row['reported_at'] or datetime.now(timezone.utc)
    if not isinstance(ts, datetime):
        raise ValueError(f'make_row: reported_at={ts!r} must be a datetime')
    row['reported_at'] = ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


# ---- types and schema unification -------------------------------------------------------------

def _value_type(v):
    if v is None:
        return pa.null()
    if isinstance(v, bool):
        return pa.bool_()
    if isinstance(v, int):
        return pa.int64()
    if isinstance(v, float):
        return pa.float64()
    return pa.string()


def _merge_type(a, b):
    """Common type of two column types: null -> other, ints -> int64, int/float -> float64,
    anything else that differs -> string."""
    if a == b:
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    if pa.types.is_integer(a) and pa.types.is_integer(b):
        return pa.int64()
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in (a, b)):
        return pa.float64()
    return pa.string()


def unified_schema(schemas, columns=None):
    """The schema all files are cast to: the fixed RESULT_SCHEMA columns (their types), then other
    columns (nullable, merged types) sorted by name with param_* last; `columns` selects."""
    extra = {}
    for schema in schemas:
        for f in schema:
            if f.name not in RESULT_SCHEMA.names:
                extra[f.name] = _merge_type(extra.get(f.name, pa.null()), f.type)
    names = sorted(extra, key=lambda n: (n.startswith('param_'), n))
    fields = list(RESULT_SCHEMA) + [
        pa.field(n, pa.string() if pa.types.is_null(extra[n]) else extra[n]) for n in names]
    if columns is not None:
        byname = {f.name: f for f in fields}
        bad = [c for c in columns if c not in byname]
        if bad:
            raise KeyError(f'unknown column(s) {bad}; known: {", ".join(byname)}')
        fields = [byname[c] for c in columns]
    return pa.schema(fields, metadata=RESULT_SCHEMA.metadata)


def conform(table, schema):
    """`table` cast to `schema`: missing columns as nulls, types promoted, column order fixed."""
    cols = []
    for f in schema:
        if f.name in table.column_names:
            col = table[f.name]
            cols.append(col if col.type == f.type else pc.cast(col, f.type))
        else:
            if not f.nullable:
                raise ValueError(f'results: required column {f.name!r} is missing')
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


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


def rows_to_table(rows):
    """make_row-normalised rows -> a Table with RESULT_SCHEMA + the param_* columns they carry."""
    rows = [make_row(**r) for r in rows]
    types = {}
    for r in rows:
        for k, v in r.items():
            if k.startswith('param_'):
                types[k] = _merge_type(types.get(k, pa.null()), _value_type(v))
    for k, t in types.items():
        if pa.types.is_string(t):
            for r in rows:
                v = r.get(k)
                r[k] = v if v is None or isinstance(v, str) else json.dumps(v)
    extra = [pa.field(k, pa.string() if pa.types.is_null(t) else t)
             for k, t in sorted(types.items())]
    schema = pa.schema(list(RESULT_SCHEMA) + extra, metadata=RESULT_SCHEMA.metadata)
    return pa.Table.from_pylist(rows, schema=schema)


# ---- files ------------------------------------------------------------------------------------

def atomic_write_table(table, path):
    """Write `table` to `path` via a dot-prefixed temp file in the same folder and os.replace, so a
    reader sees the old file or the new one, never a partial one; the file and the folder are
    fsynced (the new file survives a power loss)."""
    def write(tmp):
        pq.write_table(table, tmp)
        if os.environ.get('ADASWEEP_TEST_KILL_AT'):  # test-only fault injection
            _ext_module('testing').kill_point(
                'compact' if Path(path).name == 'results.parquet' else 'parquet')
    return _fileio.atomic_write(path, write)


def _trial_files(root):
    d = Path(root) / 'trials'
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir()
                  if p.suffix == '.parquet' and not p.name.startswith(('.', '_')))


def _read_file(path, columns=None, schema_only=False):
    """One Parquet file through ONE open handle: pq.read_table(path) opens the path twice (footer,
    then data), so a concurrent os.replace can pair an old footer with new pages. Its schema only
    (the footer) if `schema_only`. An unreadable file -> ValueError naming it."""
    try:
        with pa.OSFile(os.fspath(path)) as fh:
            pf = pq.ParquetFile(fh)
            if schema_only:
                return pf.schema_arrow
            names = pf.schema_arrow.names
            cols = None if columns is None else [c for c in columns if c in names]
            return pf.read(columns=cols)
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError) as e:  # not Parquet, truncated, corrupt pages
        raise ValueError(f'{path}: not a readable Parquet file ({e})') from None


def _read_unified(paths, columns=None, dedup=True):
    """Read `paths` (only `columns` if given, plus the dedup keys), cast each to the unified
    schema, concatenate and (if `dedup`) deduplicate and sort."""
    want = None
    if columns is not None:
        want = list(dict.fromkeys(list(columns) + (list(DEDUP_KEYS) + ['reported_at', 'status']
                                                  + list(SORT_KEYS) if dedup else [])))
    tables = [_read_file(p, want) for p in paths]
    schema = unified_schema([t.schema for t in tables], want)
    parts = []
    for p, t in zip(paths, tables):
        try:
            parts.append(conform(t, schema))
        except (pa.ArrowInvalid, ValueError) as e:
            raise ValueError(f'{p}: {e}') from None
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


def _file_stamp(path):
    """The stamp in a trial file's footer (None: a file of an older writer, or unreadable)."""
    try:
        meta = _read_file(path, schema_only=True).metadata or {}
    except (ValueError, OSError):
        return None
    stamp = meta.get(STAMP_KEY.encode())
    return stamp.decode() if stamp else None


class TrialResultWriter:
    """Per-trial Parquet files of one sweep, rewritten atomically, and their compaction.

    root: `<storage>/<sweep name>`.
    """

    def __init__(self, root):
        self.root = Path(root)
        self.trials_dir = self.root / 'trials'
        self.results_path = self.root / 'results.parquet'

    def trial_path(self, trial_id):
        tid = str(trial_id)
        if not tid or tid.startswith(('.', '_')) or os.sep in tid or '/' in tid:
            raise ValueError(f'trial_id {tid!r} is not usable as a file name')
        return self.trials_dir / f'{tid}.parquet'

    def write_trial(self, trial_id, rows):
        """Write ALL rows so far of `trial_id` (dicts for make_row) to trials/<trial_id>.parquet,
        replacing the previous file atomically. Returns the path."""
        path = self.trial_path(trial_id)
        rows = list(rows)
        if not rows:
            raise ValueError(f'write_trial({trial_id!r}): no rows')
        bad = {r.get('trial_id') for r in rows} - {str(trial_id)}
        if bad:
            raise ValueError(f'write_trial({trial_id!r}): rows of other trials {sorted(bad)}')
        table = rows_to_table(rows)
        return atomic_write_table(_with_metadata(table, {STAMP_KEY: _stamp(table)}), path)

    def compact(self):
        """results.parquet merged with the trial files (unified, deduplicated as read_results
        does, sorted) -> results.parquet; returns the table. Never drops a row it had: a
        results.parquet it cannot read raises ValueError (naming it) and stays as it is. Its
        footer lists the stamp of every trial file merged (taken before they are read), so
        readers skip the files whose rows it holds."""
        files = _trial_files(self.root)
        stamps = {p.name: _file_stamp(p) for p in files}
        if not (self.results_path.is_file() or files):
            table = RESULT_SCHEMA.empty_table()
        else:
            table = read_results(self.root)
        merged = json.dumps({n: s for n, s in stamps.items() if s}, sort_keys=True)
        atomic_write_table(_with_metadata(table, {MERGED_KEY: merged}), self.results_path)
        return table


def known_sweeps(storage):
    """Names of the sweep folders (with results.parquet or trials/) directly under `storage`."""
    storage = Path(storage)
    if not storage.is_dir():
        return []
    return sorted(d.name for d in storage.iterdir() if d.is_dir() and (
        (d / 'results.parquet').is_file() or (d / 'trials').is_dir()))


def _missing(path, why):
    path = Path(path)
    parent = path.parent
    names = known_sweeps(parent)
    listing = f'known sweeps under {str(parent)!r}: {", ".join(names)}' if names else (
        f'no sweeps under {str(parent)!r}')
    return FileNotFoundError(f'{why} {str(path)!r} ({listing})')


def _sources(path):
    """(files to read, whether they need deduplication) for a results file or a sweep folder."""
    path = Path(path)
    if path.is_file():
        return [path], path.name != 'results.parquet'
    if not path.is_dir():
        raise _missing(path, 'no sweep results at')
    results = path / 'results.parquet'
    trials = _trial_files(path)
    if results.is_file():  # first: a trial file's row wins a tie (see dedup_sort)
        merged = json.loads(((_read_file(results, schema_only=True).metadata or {}).get(
            MERGED_KEY.encode()) or b'{}').decode())
        fresh = [p for p in trials if merged.get(p.name) is None or
                 merged[p.name] != _file_stamp(p)]  # rows results.parquet may not hold
        return [results] + fresh, bool(fresh)
    if not trials:
        raise _missing(path, 'no results.parquet or trials/*.parquet in')
    return trials, True


def result_schema(path):
    """The unified schema of a results file or sweep folder (reads only the Parquet footers)."""
    return unified_schema([_read_file(p, schema_only=True) for p in _sources(path)[0]])


def read_results(path, columns=None):
    """A results.parquet file, or a sweep folder (its results.parquet and the trial files whose
    rows it does not hold by their stamps, unified and deduplicated by the rows' own report
    times: never by file times), as one Table in the unified schema. `columns`: read only
    these. Missing -> FileNotFoundError."""
    paths, dedup = _sources(path)
    return _read_unified(paths, columns, dedup)
