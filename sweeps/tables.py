"""Paper tables from sweep results: ablation, sensitivity, per-class IoU, budget curves.

    python sweeps/tables.py NAME [--storage results] [--format markdown|latex|csv]
        [--table ablation|sensitivity|per_class|budget] [--param NAME] [--metric miou]
        [--plot budget_curve --out FILE.png]

NAME is a sweep under --storage or a path to a results file or sweep folder. Numbers are mean and
sample std (ddof=1) over seeds; ablation, sensitivity and per-class use the final evaluation
(is_final) of trials with status 'ok'; budget curves use every evaluation of trials not in error.
"""
import argparse
import json
import os
import os.path as osp
import sys
import uuid

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sweeps.results import (CLASS_NAMES_19, IOU_COLUMNS, param_column,  # noqa: E402
                            read_results, result_schema)

TABLES = ('ablation', 'sensitivity', 'per_class', 'budget', 'rounds')
FORMATS = ('markdown', 'latex', 'csv')
PM = {'markdown': '±', 'latex': r'$\pm$'}
HEADERS = {'miou': 'mIoU', 'miou13': 'mIoU13', 'labelled_pct': 'labelled %'}
_CLASS_OF = dict(zip(IOU_COLUMNS, CLASS_NAMES_19))


def _frame(table, columns):
    """The `columns` of a pyarrow Table or DataFrame as a DataFrame (a clear error if missing)."""
    names = table.column_names if hasattr(table, 'column_names') else list(table.columns)
    missing = [c for c in columns if c not in names]
    if missing:
        raise KeyError(f'results have no column(s) {missing}')
    if hasattr(table, 'column_names'):
        return table.select(columns).to_pandas()
    return table[columns].copy()


def _final_ok(df):
    return df[df['is_final'].astype(bool) & (df['status'] == 'ok')]


def _order(values, order=None):
    """First-appearance order of `values` (or `order` for the ones it names, first)."""
    seen = list(dict.fromkeys(values))
    if order:
        seen = [v for v in order if v in seen] + [v for v in seen if v not in order]
    return seen


def _stats(g, metric):
    return pd.DataFrame({f'{metric}_mean': g[metric].mean(), f'{metric}_std': g[metric].std(ddof=1),
                         'n': g[metric].count()})


def ablation_table(table, metric='miou', variants=None):
    """Rows: variants (first appearance, or `variants` order). Columns: <metric>_mean,
    <metric>_std over seeds of the final evaluation, n (final evaluations), labelled_pct."""
    df = _final_ok(_frame(table, ['variant', 'is_final', 'status', 'labelled_fraction', metric]))
    g = df.groupby('variant', sort=False)
    out = _stats(g, metric).assign(labelled_pct=g['labelled_fraction'].mean() * 100)
    return out.reindex(_order(df['variant'], variants)).rename_axis('variant')


def sensitivity_table(table, param, metric='miou'):
    """Rows: values of parameter `param` (e.g. 'tau' or 'param_tau'; per variant when there are
    several), ascending. Columns: <metric>_mean, <metric>_std over seeds (final evaluation), n."""
    col = param if param.startswith('param_') else param_column(param)
    df = _final_ok(_frame(table, ['variant', 'is_final', 'status', col, metric]))
    df = df[df[col].notna()]
    out = _stats(df.groupby(['variant', col], sort=False), metric).reset_index()
    rank = {v: i for i, v in enumerate(_order(df['variant']))}
    out = out.assign(_r=out['variant'].map(rank)).sort_values(['_r', col], kind='stable')
    out = out.drop(columns='_r').rename(columns={col: param})
    keys = [param] if out['variant'].nunique() <= 1 else ['variant', param]
    return out.drop(columns=[] if len(keys) == 2 else ['variant']).set_index(keys)


def per_class_table(table, variants=None):
    """Rows: variants. Columns: the class IoUs (named by class, only classes with any value) and
    miou, each the mean over seeds of the final evaluation."""
    names = table.column_names if hasattr(table, 'column_names') else list(table.columns)
    ious = [c for c in IOU_COLUMNS if c in names]
    df = _final_ok(_frame(table, ['variant', 'is_final', 'status'] + ious + ['miou']))
    out = df.groupby('variant', sort=False)[ious + ['miou']].mean()
    out = out.dropna(axis=1, how='all').rename(columns=_CLASS_OF)
    return out.reindex(_order(df['variant'], variants)).rename_axis('variant')


def budget_curve(table, metric='miou', variants=None):
    """Per variant and round (all rounds, status != 'error'): labelled_pct (mean labelled fraction
    in %), <metric>_mean, <metric>_std over seeds, n. Index (variant, round)."""
    df = _frame(table, ['variant', 'round', 'status', 'labelled_fraction', metric])
    df = df[(df['status'] != 'error') & df[metric].notna()]
    g = df.groupby(['variant', 'round'], sort=False)
    out = _stats(g, metric).assign(labelled_pct=g['labelled_fraction'].mean() * 100).reset_index()
    rank = {v: i for i, v in enumerate(_order(df['variant'], variants))}
    out = out.assign(_r=out['variant'].map(rank)).sort_values(['_r', 'round'], kind='stable')
    cols = ['variant', 'round', 'labelled_pct', f'{metric}_mean', f'{metric}_std', 'n']
    return out[cols].set_index(['variant', 'round'])


def rounds_table(table, metric='miou', variants=None, rounds=None):
    """Rows: variants. Per round (all, or those in `rounds`) a column '<labelled %>%' (the
    median over variants of the round's mean labelled fraction over seeds, one decimal: one
    variant with another cost per round, e.g. ADA-MCU buying during training, does not move
    the label) with the
    mean and std over seeds of <metric> at that round's evaluation (the layout of ADeADA's
    Tables 2 and 4-7: mIoU at 1%, 3%, 5%), plus n (the smallest seed count of the row)."""
    curve = budget_curve(table, metric, variants).reset_index()
    if rounds:
        curve = curve[curve['round'].isin(list(rounds))]
    out = pd.DataFrame(index=pd.Index(_order(curve['variant']), name='variant'))
    for r in sorted(curve['round'].unique()):
        c = curve[curve['round'] == r].set_index('variant')
        label = f'{c["labelled_pct"].median():.1f}%'
        out[f'{label}_mean'] = c[f'{metric}_mean']
        out[f'{label}_std'] = c[f'{metric}_std']
    out['n'] = curve.groupby('variant')['n'].min()
    return out


# ---- formatting -------------------------------------------------------------------------------

def _key(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return '-'
    return f'{v:g}' if isinstance(v, (float, np.floating)) else str(v)


def _num(v, digits):
    if v is None or pd.isna(v):
        return '-'
    return str(int(v)) if isinstance(v, (int, np.integer)) else f'{v:.{digits}f}'


_LATEX = {c: '\\' + c for c in '&%$#_{}'}
_LATEX['\\'] = r'\textbackslash{}'


def _latex_escape(s):
    return ''.join(_LATEX.get(ch, ch) for ch in s)


def format_table(df, fmt='markdown', digits=2):
    """A table DataFrame as 'markdown' | 'latex' | 'csv'. In markdown and latex a pair
    X_mean/X_std becomes one column X with cells like '45.12 ± 1.03' (latex: '$\\pm$'); csv keeps
    the separate columns. Index columns come first."""
    if fmt not in FORMATS:
        raise ValueError(f'format {fmt!r}: expected one of {", ".join(FORMATS)}')
    keys = [n for n in df.index.names if n is not None]
    flat = df.reset_index() if keys else df.reset_index(drop=True)
    if fmt == 'csv':
        return flat.to_csv(index=False, float_format='%.6g', lineterminator='\n')
    cols, cells = [], []
    for c in flat.columns:
        if c in keys:
            vals = [_key(v) for v in flat[c].tolist()]
            if fmt == 'latex':
                vals = [_latex_escape(v) for v in vals]
            cols.append((str(c), True, vals))
        elif str(c).endswith('_std') and f'{str(c)[:-4]}_mean' in flat.columns:
            continue
        elif str(c).endswith('_mean') and f'{str(c)[:-5]}_std' in flat.columns:
            base = str(c)[:-5]
            vals = [_num(m, digits) if pd.isna(s) or pd.isna(m) else
                    f'{_num(m, digits)} {PM[fmt]} {_num(s, digits)}'
                    for m, s in zip(flat[c].tolist(), flat[f'{base}_std'].tolist())]
            cols.append((base, False, vals))
        else:
            cols.append((str(c), False, [_num(v, digits) for v in flat[c].tolist()]))
    heads = [HEADERS.get(name, name) for name, _, _ in cols]
    rows = list(zip(*[vals for _, _, vals in cols])) if cols else []
    if fmt == 'markdown':
        esc = lambda s: s.replace('|', r'\|')  # noqa: E731
        lines = ['| ' + ' | '.join(esc(h) for h in heads) + ' |',
                 '|' + '|'.join(':---' if key else '---:' for _, key, _ in cols) + '|']
        lines += ['| ' + ' | '.join(esc(v) for v in r) + ' |' for r in rows]
        return '\n'.join(lines) + '\n'
    lines = [r'\begin{tabular}{' + ''.join('l' if key else 'r' for _, key, _ in cols) + '}',
             r'\toprule', ' & '.join(_latex_escape(h) for h in heads) + r' \\', r'\midrule']
    lines += [' & '.join(r) + r' \\' for r in rows]
    return '\n'.join(lines + [r'\bottomrule', r'\end{tabular}']) + '\n'


def plot_budget_curve(table, out_png, metric='miou', title=None, variants=None):
    """PNG of <metric> vs labelled % per variant (mean line, shaded +- std band). Returns path."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    curve = budget_curve(table, metric, variants)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for variant in _order(curve.index.get_level_values('variant')):
        c = curve.loc[variant].dropna(subset=['labelled_pct']).sort_values('labelled_pct')
        x, m, s = (c[k].to_numpy(float) for k in ('labelled_pct', f'{metric}_mean',
                                                    f'{metric}_std'))
        line, = ax.plot(x, m, marker='o', ms=3, label=str(variant))
        s = np.nan_to_num(s)
        ax.fill_between(x, m - s, m + s, color=line.get_color(), alpha=0.2, lw=0)
    label = HEADERS.get(metric, metric)
    ax.set(xlabel='labelled fraction (%)', ylabel=f'{label} (%)',
           title=title or f'{label} vs annotation budget (mean ± std over seeds)')
    ax.grid(alpha=0.3)
    if len(curve):
        ax.legend(fontsize=8)
    fig.tight_layout()
    out_png = os.fspath(out_png)
    parent = osp.dirname(osp.abspath(out_png))
    os.makedirs(parent, exist_ok=True)
    tmp = osp.join(parent, f'.{osp.basename(out_png)}.{uuid.uuid4().hex}.tmp')
    try:
        fig.savefig(tmp, format='png')
        os.replace(tmp, out_png)
    finally:
        plt.close(fig)
        if osp.exists(tmp):
            os.remove(tmp)
    return out_png


# ---- loading and the CLI ----------------------------------------------------------------------

def resolve(name, storage='results'):
    """NAME -> a results path: NAME itself if it looks like a path (has a separator or ends
    with .parquet), else <storage>/NAME."""
    if os.sep in name or '/' in name or name.endswith('.parquet'):
        return name
    return osp.join(storage, name)


def sweep_variants(path):
    """The space's variant order from the sweep's sweep.json (written by run.py), if any."""
    info = osp.join(path if osp.isdir(path) else osp.dirname(path), 'sweep.json')
    if osp.isfile(info):
        try:
            with open(info) as f:
                return json.load(f).get('variants')
        except (ValueError, AttributeError) as e:
            raise ValueError(f'{info}: not a readable sweep.json ({e})') from None
    return None


def _needed(kind, metric, param, schema_names):
    if kind == 'per_class':
        return [c for c in ['variant', 'is_final', 'status', *IOU_COLUMNS, 'miou']
                if c in schema_names]
    base = {'ablation': ['variant', 'is_final', 'status', 'labelled_fraction'],
            'sensitivity': ['variant', 'is_final', 'status', param],
            'budget': ['variant', 'round', 'status', 'labelled_fraction'],
            'rounds': ['variant', 'round', 'status', 'labelled_fraction']}[kind]
    return base + [metric]


def build_table(name, table='ablation', fmt='markdown', metric='miou', param=None,
                storage='results', rounds=None):
    """Read only the needed columns of sweep `name` and return (formatted text, DataFrame).
    Bad input -> FileNotFoundError / ValueError with a one-line message."""
    if table not in TABLES:
        raise ValueError(f'table {table!r}: expected one of {", ".join(TABLES)}')
    if fmt not in FORMATS:
        raise ValueError(f'format {fmt!r}: expected one of {", ".join(FORMATS)}')
    if rounds and table != 'rounds':
        raise ValueError(f'--rounds only applies to --table rounds (got --table {table})')
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
    else:
        df = budget_curve(data, metric, variants=variants)
    return format_table(df, fmt), df


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Paper tables (and plots) from sweep results')
    p.add_argument('name', help='sweep name under --storage, or a results file/folder path')
    p.add_argument('--storage', default='results', help='sweep storage folder (default: results)')
    p.add_argument('--format', default='markdown', choices=FORMATS)
    p.add_argument('--table', default='ablation', choices=TABLES)
    p.add_argument('--param', help='parameter of --table sensitivity (e.g. tau)')
    p.add_argument('--rounds', type=int, nargs='+', help='rounds of --table rounds (default: all)')
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
        text, _ = build_table(args.name, args.table, args.format, args.metric, args.param,
                              args.storage, args.rounds)
        if args.plot:
            path = resolve(args.name, args.storage)
            data = read_results(path, columns=_needed('budget', args.metric, None, ()))
            label = HEADERS.get(args.metric, args.metric)
            plot_budget_curve(data, args.out, args.metric, title=f'{args.name}: {label} vs budget',
                              variants=sweep_variants(path))
    except (FileNotFoundError, ValueError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f'error: {msg}'.replace('\n', ' '), file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
