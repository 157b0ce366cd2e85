"""Paper tables from sweep results: ablation, sensitivity, per-class IoU, budget curves, and
paired comparisons against a reference variant.

    python sweeps/tables.py NAME [--storage results] [--format markdown|latex|csv]
        [--table ablation|sensitivity|per_class|budget|rounds|compare] [--param NAME]
        [--rounds 1 3 5] [--against VARIANT] [--metric miou] [--plot budget_curve --out FILE.png]

NAME is a sweep under --storage or a path to a results file or sweep folder. Numbers are mean and
sample std (ddof=1) over seeds; ablation, sensitivity and per-class use the final evaluation
(is_final) of trials with status 'ok'; budget curves use every evaluation of trials not in error.
compare (see `compare_table`): per variant, the paired difference over seeds of the final metric
against --against (default: the random baseline, the first variant named rand*) with its 95%
t interval, wins and n, and for budget curves the same for the normalised area under the budget
curve (AUBC). A missing reference is an error; fewer than 2 paired seeds print the table
without intervals and a 'note:' line on stderr.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sweeps.plots import plot_budget_curve  # noqa: E402
from sweeps.common import mask_secrets  # noqa: E402
from sweeps.results import IOU_COLUMNS, param_column, read_results, result_schema  # noqa: E402
from sweeps.stats import (ablation_table, budget_curve, compare_table,  # noqa: E402
                          per_class_table, rounds_table, sensitivity_table)
from sweeps.storage import Storage, as_storage, is_uri  # noqa: E402
from sweeps.table_format import FORMATS, HEADERS, format_table  # noqa: E402

TABLES = ('ablation', 'sensitivity', 'per_class', 'budget', 'rounds', 'compare')


def check_out(option, out, expected):
    """An output file path must be in a folder that exists and is writable, and not be a
    folder itself; ValueError (one line) otherwise. Returns the absolute path."""
    path = osp.abspath(out)
    parent = osp.dirname(path)
    if not osp.isdir(parent):
        raise ValueError(f'{option} {out}: the folder {parent} does not exist')
    if osp.isdir(path):
        raise ValueError(f'{option} {out}: is a folder (expected {expected})')
    if not os.access(parent, os.W_OK):
        raise ValueError(f'{option} {out}: the folder {parent} is not writable')
    return path


def resolve(name, storage='results'):
    """NAME -> a results path: NAME itself if it looks like a path or a URI (has a separator or
    ends with .parquet), else <storage>/NAME (a sweeps.storage.Storage when --storage is an
    object-store URI such as s3://bucket/prefix?endpoint_override=HOST:PORT)."""
    if is_uri(name):
        return Storage(name)
    if os.sep in name or '/' in name or name.endswith('.parquet'):
        return name
    if is_uri(storage):
        return Storage(storage).child(name)
    return osp.join(storage, name)


def sweep_variants(path):
    """The space's variant order from the sweep's sweep.json (written by run.py), if any."""
    store = as_storage(path)
    folder = store if not store.is_file() else store.parent()
    if folder.is_file('sweep.json'):
        try:
            return json.loads(folder.read_text('sweep.json')).get('variants')
        except (ValueError, AttributeError) as e:
            raise ValueError(f'{folder.shown("sweep.json")}: not a readable sweep.json '
                             f'({e})') from None
    return None


def _needed(kind, metric, param, schema_names):
    if kind == 'per_class':
        return [c for c in ['variant', 'is_final', 'status', *IOU_COLUMNS, 'miou']
                if c in schema_names]
    base = {'ablation': ['variant', 'is_final', 'status', 'labelled_fraction'],
            'sensitivity': ['variant', 'is_final', 'status', param],
            'budget': ['variant', 'round', 'status', 'labelled_fraction'],
            'rounds': ['variant', 'round', 'status', 'labelled_fraction'],
            'compare': ['variant', 'seed', 'trial_id', 'round', 'iteration', 'is_final', 'status',
                        'labelled_fraction',
                        *[c for c in schema_names if c.startswith('param_')]]}[kind]
    return base + [metric]


def build_table(name, table='ablation', fmt='markdown', metric='miou', param=None,
                storage='results', rounds=None, against=None):
    """Read only the needed columns of sweep `name` and return (formatted text, DataFrame).
    `against`: the reference variant of --table compare (its DataFrame's attrs['note'] says
    which rows have no interval). Bad input -> FileNotFoundError / ValueError with a one-line
    message."""
    if table not in TABLES:
        raise ValueError(f'table {table!r}: expected one of {", ".join(TABLES)}')
    if fmt not in FORMATS:
        raise ValueError(f'format {fmt!r}: expected one of {", ".join(FORMATS)}')
    if rounds and table != 'rounds':
        raise ValueError(f'--rounds only applies to --table rounds (got --table {table})')
    if rounds and any(r < 0 for r in rounds):
        raise ValueError(f'--rounds {" ".join(map(str, rounds))}: expected round numbers >= 0 '
                         '(0: before the first selection)')
    if against is not None and table != 'compare':
        raise ValueError(f'--against only applies to --table compare (got --table {table})')
    path = resolve(name, storage)
    names = result_schema(path).names
    numeric = ['miou', 'miou13', *IOU_COLUMNS]
    if metric not in names or (metric not in numeric and not metric.startswith('param_')
                               and metric not in ('labelled_fraction', 'wall_seconds',
                                                  'train_seconds')):
        raise ValueError(f'metric {metric!r}: expected one of miou, miou13, iou_<class>')
    col = None
    if table == 'sensitivity':
        if not param:
            raise ValueError('--table sensitivity needs --param NAME')
        col = param if param.startswith('param_') else param_column(param)
        if col not in names:
            known = ', '.join(n[6:] for n in names if n.startswith('param_')) or 'none'
            raise ValueError(f'parameter {param!r} is not in the results (parameters: {known})')
    elif param:
        raise ValueError(f'--param only applies to --table sensitivity (got --table {table})')
    data = read_results(path, columns=_needed(table, metric, col, names))
    variants = sweep_variants(path)
    if table == 'ablation':
        df = ablation_table(data, metric, variants=variants)
    elif table == 'sensitivity':
        df = sensitivity_table(data, param, metric)
    elif table == 'per_class':
        df = per_class_table(data, variants=variants)
    elif table == 'rounds':
        df = rounds_table(data, metric, variants=variants, rounds=rounds)
    elif table == 'compare':
        df = compare_table(data, against, metric, variants=variants)
    else:
        df = budget_curve(data, metric, variants=variants)
    return format_table(df, fmt), df


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Paper tables (and plots) from sweep results')
    p.add_argument('name', help='sweep name under --storage, or a results file/folder path')
    p.add_argument('--storage', default='results',
                   help='sweep storage: a folder (default: results) or an object-store URI '
                   '(s3://bucket/prefix[?endpoint_override=HOST:PORT&scheme=http])')
    p.add_argument('--format', default='markdown', choices=FORMATS)
    p.add_argument('--table', default='ablation', choices=TABLES)
    p.add_argument('--param', help='parameter of --table sensitivity (e.g. tau)')
    p.add_argument('--rounds', type=int, nargs='+', help='rounds of --table rounds (default: all)')
    p.add_argument('--against', metavar='VARIANT',
                   help="reference variant of --table compare (default: the random baseline, "
                        "the first variant named rand*)")
    p.add_argument('--metric', default='miou', help='miou (default), miou13 or iou_<class>')
    p.add_argument('--plot', choices=['budget_curve'], help='also write a plot to --out')
    p.add_argument('--out', help='PNG path for --plot')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.plot and not args.out:
            raise ValueError('--plot needs --out FILE.png')
        if args.out and not args.plot:
            raise ValueError('--out needs --plot budget_curve')
        if args.out:
            check_out('--out', args.out, 'a .png file to write')
        text, df = build_table(args.name, args.table, args.format, args.metric, args.param,
                               args.storage, args.rounds, args.against)
        if args.plot:
            path = resolve(args.name, args.storage)
            data = read_results(path, columns=_needed('budget', args.metric, None, ()))
            label = HEADERS.get(args.metric, args.metric)
            plot_budget_curve(data, args.out, args.metric, title=f'{args.name}: {label} vs budget',
                              variants=sweep_variants(path))
    except (FileNotFoundError, ValueError, KeyError, OSError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        msg = mask_secrets(str(msg))
        print(f'error: {msg}'.replace('\n', ' '), file=sys.stderr)
        return 2
    if df.attrs.get('note'):
        print(f'note: {df.attrs["note"]}'.replace('\n', ' '), file=sys.stderr)
    sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
