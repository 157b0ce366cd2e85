"""The results schema: one row per (trial, evaluation), its columns and types (`RESULT_SCHEMA`,
nullable extra columns only), one validated row (`make_row`), rows to a table, and the unified
schema readers cast every file to (never the first file's). No files, no Ray here."""
import json
import math
import numbers
import re
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adasweep_base.classes import CITYSCAPES_CLASSES

CLASS_NAMES_19 = tuple(CITYSCAPES_CLASSES)
STATUSES = ('ok', 'stopped', 'error')
REQUIRED = ('sweep', 'space', 'benchmark', 'variant', 'trial_id', 'seed', 'round', 'iteration',
            'status')
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
