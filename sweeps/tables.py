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
import uuid

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sweeps.results import (CLASS_NAMES_19, IOU_COLUMNS, param_column,  # noqa: E402
                            read_results, result_schema)

TABLES = ('ablation', 'sensitivity', 'per_class', 'budget', 'rounds', 'compare')
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
        have = sorted(int(r) for r in curve['round'].unique())
        missing = [r for r in rounds if r not in have]
        if missing:
            raise ValueError(f'--rounds {" ".join(map(str, missing))}: no such round in the '
                             f'results (rounds: {", ".join(map(str, have)) or "none"})')
        curve = curve[curve['round'].isin(list(rounds))]
    out = pd.DataFrame(index=pd.Index(_order(curve['variant']), name='variant'))
    for r in sorted(curve['round'].unique()):
        c = curve[curve['round'] == r].set_index('variant')
        label = f'{c["labelled_pct"].median():.1f}%'
        out[f'{label}_mean'] = c[f'{metric}_mean']
        out[f'{label}_std'] = c[f'{metric}_std']
    out['n'] = curve.groupby('variant')['n'].min()
    return out


# ---- paired comparison against a reference variant --------------------------------------------

FULL = 1.0 - 1e-9  # labelled_fraction at or above this: a fully supervised row


def random_baseline(variants):
    """The first of `variants` whose name starts with 'rand' (any case), or None."""
    return next((v for v in variants if str(v).lower().startswith('rand')), None)


def _paired(mean, sd, n, wins):
    """Columns of paired-difference statistics from per-row mean, sd (ddof=1), count and wins
    of the differences (variant - reference, one per seed): diff, the 95% interval mean -+
    t.ppf(0.975, n-1) * sd / sqrt(n) (NaN when n < 2), wins, n, and ns: whether the interval
    contains 0 (NA without an interval)."""
    from scipy import stats
    n = np.asarray(n, float)
    two = n >= 2
    with np.errstate(invalid='ignore', divide='ignore'):
        half = np.where(two, stats.t.ppf(0.975, np.where(two, n - 1, 1)) * np.asarray(sd, float)
                        / np.sqrt(np.where(two, n, 1)), np.nan)
    mean = np.where(n > 0, np.asarray(mean, float), np.nan)
    low, high = mean - half, mean + half
    ns = pd.array(np.where(two, (low <= 0) & (high >= 0), False), dtype='boolean')
    ns[~two] = pd.NA
    return dict(diff=mean, low=low, high=high,
                wins=pd.array(np.where(n > 0, wins, 0), dtype='Int64'), n=n, ns=ns)


def _curve_points(df, metric):
    """Per trial, its evaluations as (labelled_fraction, metric) points, ascending by fraction;
    of several evaluations at one fraction the last (largest iteration) counts."""
    ev = df[(df['status'] != 'error') & df[metric].notna() & df['labelled_fraction'].notna()]
    ev = ev.sort_values(['trial_id', 'labelled_fraction', 'iteration', 'is_final'], kind='stable')
    return ev.drop_duplicates(['trial_id', 'labelled_fraction'], keep='last')


def _aubc(points, metric):
    """Per trial_id (a DataFrame): raw AUBC, the trapezoid of `metric` over labelled fraction
    divided by the fraction range (the mean metric over the trial's budget range; NaN with
    fewer than two distinct fractions), and its first point's metric and fraction. `points`:
    from _curve_points (sorted by trial, then fraction)."""
    tid = points['trial_id'].to_numpy()
    f = points['labelled_fraction'].to_numpy(float)
    m = points[metric].to_numpy(float)
    same = tid[1:] == tid[:-1]
    seg = np.where(same, (f[1:] - f[:-1]) * (m[1:] + m[:-1]) / 2, 0.0)
    g = points.groupby('trial_id', sort=False)
    out = pd.DataFrame({'first': g[metric].first(),
                        'first_fraction': g['labelled_fraction'].first(),
                        'last_fraction': g['labelled_fraction'].last()})
    area = pd.Series(seg).groupby(tid[1:]).sum() if len(seg) else pd.Series(dtype=float)
    span = out['last_fraction'] - out['first_fraction']
    out['raw'] = (area.reindex(out.index).fillna(0.0) / span).where(span > 0)
    return out


def compare_table(table, against=None, metric='miou', variants=None):
    """Every variant against a reference variant, paired by seed.

    Trials: those with a final evaluation (is_final) of status 'ok'. A row per variant (and per
    value of each parameter axis, i.e. a param_* column with several values; the reference is
    then paired at the same values of the axes it varies on). `against`: the reference variant
    (default: the first variant in `variants` order, then first appearance, whose name starts
    with 'rand'). Columns:
      <metric>_mean, <metric>_std: the final metric over the variant's seeds (ddof=1);
      <metric>_diff: mean over seeds both have of (variant - reference) final metric;
      <metric>_diff_low/_high: its 95% CI, mean -+ t.ppf(0.975, n-1) * sd / sqrt(n) over the
        paired differences (sd ddof=1; none for n < 2);
      <metric>_wins: seeds where the variant is strictly higher; <metric>_ns: True when the
        interval contains 0 (not significant); n: paired seeds (the reference row: its seeds);
      for budget curves (some trial evaluated at two or more labelled fractions), the same for
      aubc_* (with aubc_n), the normalised area under the budget curve:
        raw(trial) = trapezoid of <metric> over the trial's evaluated labelled fractions (the
          last evaluation at each fraction) / (largest - smallest fraction),
        S = mean over the non-fully-supervised trials of their first evaluation (the
          labelled-fraction-0 one where evaluated: source-only / UDA start),
        F = mean final <metric> over seeds of the first fully supervised variant (all its final
          rows at labelled_fraction 1.0),
        AUBC = (raw - S) / (F - S), so the start is 0 and full supervision 1; without a fully
          supervised variant (or F <= S), AUBC = raw, the mean <metric> over the budget range,
          not normalised (aubc_scale says which);
      against: the reference; aubc_scale: what AUBC is scaled to.
    Several trials of one row and seed are averaged first. df.attrs: 'table' ('compare'),
    'against', 'metric', 'aubc' (None, or dict(normalised, text, scale)), 'note' (rows without an
    interval, or None). A missing reference -> ValueError."""
    names = table.column_names if hasattr(table, 'column_names') else list(table.columns)
    params = [c for c in names if c.startswith('param_')]
    df = _frame(table, ['variant', 'seed', 'trial_id', 'round', 'iteration', 'is_final',
                        'status', 'labelled_fraction', metric] + params)
    known = list(dict.fromkeys(list(variants or []) + list(df['variant'])))
    listing = ', '.join(map(str, known)) or 'none'
    if against is None:
        against = random_baseline(known)
        if against is None:
            raise ValueError(f'no random baseline to compare against (no variant named rand*; '
                             f'variants: {listing}): name the reference with --against NAME')
    elif against not in known:
        raise ValueError(f'--against {against!r}: the sweep has no such variant '
                         f'(variants: {listing})')
    final = df[df['is_final'].astype(bool) & (df['status'] == 'ok') & df[metric].notna()]
    final = final.sort_values('iteration', kind='stable').drop_duplicates('trial_id', keep='last')
    if against not in set(final['variant']):
        raise ValueError(f'reference variant {against!r} has no finished trial (a final '
                         f"evaluation with status 'ok') to compare against")
    axes = [c for c in params if final[c].nunique(dropna=True) > 1]
    done = set(final['variant'])
    order = _order([v for v in df['variant'] if v in done], variants)
    full = [v for v in order
            if (final.loc[final['variant'] == v, 'labelled_fraction'] >= FULL).all()]

    trials = final[['trial_id', 'variant', 'seed', *axes, metric]].copy()
    aubc = _aubc(_curve_points(df[df['trial_id'].isin(set(trials['trial_id']))], metric), metric)
    trials['aubc'] = trials['trial_id'].map(aubc['raw'])
    curves = trials[~trials['variant'].isin(full) & trials['aubc'].notna()]
    info = None
    if len(curves):
        starts = aubc.loc[curves['trial_id']]
        s = float(starts['first'].mean())
        at0 = bool((starts['first_fraction'] == 0).all())
        label = HEADERS.get(metric, metric)
        where = 'labelled fraction 0' if at0 else 'first evaluations, no labelled-fraction-0 row'
        f = None
        if full:
            fs = final[final['variant'] == full[0]].groupby('seed')[metric].mean()
            f = float(fs.mean())
        if f is not None and f > s:
            trials['aubc'] = (trials['aubc'] - s) / (f - s)
            text = (f'AUBC: area under {label} vs labelled fraction / fraction range, '
                    f'normalised: 0 = start ({label} {s:.2f}, {where}), 1 = {full[0]} '
                    f'({label} {f:.2f})')
            info = dict(normalised=True, text=text, scale=f'0 = start, 1 = {full[0]}')
        else:
            why = (f'{full[0]} {label} {f:.2f} is not above the start {s:.2f}' if f is not None
                   else 'no fully supervised row')
            text = (f'AUBC: mean {label} over the budget range (trapezoid / fraction range), '
                    f'not normalised ({why})')
            info = dict(normalised=False, text=text,
                        scale=f'mean {label} over the budget range (not normalised)')

    keys = ['variant', *axes]
    per = trials.groupby([*keys, 'seed'], sort=False, dropna=False)[[metric, 'aubc']].mean()
    per = per.reset_index()
    ref = per[per['variant'] == against]
    on = ['seed', *[a for a in axes if ref[a].nunique(dropna=False) > 1]]
    ref = ref[on + [metric, 'aubc']].rename(columns={metric: '_ref_m', 'aubc': '_ref_a'})
    rank = {v: i for i, v in enumerate(order)}
    per = per.assign(_r=per['variant'].map(rank)).sort_values(['_r', *axes], kind='stable',
                                                              na_position='last')
    pairs = per.merge(ref, on=on, how='left')  # ref is unique per `on`: one row per per-row
    is_ref = (pairs['variant'] == against).to_numpy()
    pairs['_dm'] = (pairs[metric] - pairs['_ref_m']).where(~is_ref)
    pairs['_da'] = (pairs['aubc'] - pairs['_ref_a']).where(~is_ref)
    pairs['_wm'], pairs['_wa'] = pairs['_dm'] > 0, pairs['_da'] > 0
    g = pairs.groupby(keys, sort=False, dropna=False)
    agg = g.agg(m_mean=(metric, 'mean'), m_std=(metric, 'std'), m_n=(metric, 'count'),
                a_mean=('aubc', 'mean'), a_std=('aubc', 'std'), a_n=('aubc', 'count'),
                dm_mean=('_dm', 'mean'), dm_std=('_dm', 'std'), dm_n=('_dm', 'count'),
                dm_wins=('_wm', 'sum'), da_mean=('_da', 'mean'), da_std=('_da', 'std'),
                da_n=('_da', 'count'), da_wins=('_wa', 'sum'))
    ref_rows = (agg.index.get_level_values('variant') == against) if axes else (
        agg.index == against)
    pm = _paired(agg['dm_mean'], agg['dm_std'], agg['dm_n'], agg['dm_wins'])
    pa_ = _paired(agg['da_mean'], agg['da_std'], agg['da_n'], agg['da_wins'])
    cols = {f'{metric}_mean': agg['m_mean'].to_numpy(), f'{metric}_std': agg['m_std'].to_numpy(),
            f'{metric}_diff': pm['diff'], f'{metric}_diff_low': pm['low'],
            f'{metric}_diff_high': pm['high'], f'{metric}_wins': pm['wins'],
            f'{metric}_ns': pm['ns'],
            'n': pd.array(np.where(ref_rows, agg['m_n'], pm['n']).astype(int), dtype='Int64')}
    if info is not None:
        cols.update({'aubc_mean': agg['a_mean'].to_numpy(), 'aubc_std': agg['a_std'].to_numpy(),
                     'aubc_diff': pa_['diff'], 'aubc_diff_low': pa_['low'],
                     'aubc_diff_high': pa_['high'], 'aubc_wins': pa_['wins'],
                     'aubc_ns': pa_['ns'],
                     'aubc_n': pd.array(np.where(ref_rows, agg['a_n'], pa_['n']).astype(int),
                                        dtype='Int64')})
    res = pd.DataFrame(cols, index=agg.index)
    for c in (f'{metric}_wins', 'aubc_wins'):
        if c in res:
            res.loc[ref_rows | (res['n' if c == f'{metric}_wins' else 'aubc_n'] == 0), c] = pd.NA
    res['against'] = against
    if info is not None:
        res['aubc_scale'] = info['scale']
    res.index = res.index.set_names(['variant', *[a[len('param_'):] for a in axes]])
    thin = ['/'.join(_key(v) for v in (k if isinstance(k, tuple) else (k,)))
            for k, n in zip(res.index[~ref_rows], res['n'][~ref_rows]) if n < 2]
    note = None
    others = int((res.index.get_level_values('variant') != against).sum())
    if thin and len(thin) == others:
        note = (f'fewer than 2 seeds paired with {against!r} for every variant: '
                f'the table has no confidence intervals')
    elif thin:
        note = (f'fewer than 2 seeds paired with {against!r} for {", ".join(thin)}: '
                f'no confidence interval for them')
    res.attrs.update(table='compare', against=against, metric=metric, aubc=info, note=note)
    return res


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
    if df.attrs.get('table') == 'compare':
        return format_compare(df, fmt, digits)
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
    if fmt == 'latex':
        heads = [_latex_escape(h) for h in heads]
    return _render([(h, key, vals) for h, (_, key, vals) in zip(heads, cols)], fmt)


def _render(cols, fmt):
    """[(header, is_key, cells)] (headers and cells final: latex ones already escaped) as a
    markdown or latex (booktabs) table."""
    heads = [h for h, _, _ in cols]
    rows = list(zip(*[vals for _, _, vals in cols])) if cols else []
    if fmt == 'markdown':
        esc = lambda s: s.replace('|', r'\|')  # noqa: E731
        lines = ['| ' + ' | '.join(esc(h) for h in heads) + ' |',
                 '|' + '|'.join(':---' if key else '---:' for _, key, _ in cols) + '|']
        lines += ['| ' + ' | '.join(esc(v) for v in r) + ' |' for r in rows]
        return '\n'.join(lines) + '\n'
    lines = [r'\begin{tabular}{' + ''.join('l' if key else 'r' for _, key, _ in cols) + '}',
             r'\toprule', ' & '.join(heads) + r' \\', r'\midrule']
    lines += [' & '.join(r) + r' \\' for r in rows]
    return '\n'.join(lines + [r'\bottomrule', r'\end{tabular}']) + '\n'


def _signed(v, digits):
    return '-' if v is None or pd.isna(v) else f'{v:+.{digits}f}'


def format_compare(df, fmt='markdown', digits=2):
    """A compare_table DataFrame as 'markdown' | 'latex' | 'csv'. Markdown: a caption paragraph
    (reference, the interval, what AUBC is scaled to) then the table; latex: the caption as
    '%' comment lines above the tabular; csv: the columns as they are (with 'against' and
    'aubc_scale' saying what the caption says). Cells: 'mean ± std', 'Δ' signed with ' n.s.'
    when the 95% interval contains 0 ('reference' on the reference's row), '[low, high]',
    wins as 'k/n'."""
    if fmt not in FORMATS:
        raise ValueError(f'format {fmt!r}: expected one of {", ".join(FORMATS)}')
    if fmt == 'csv':
        flat = df.reset_index()
        return flat.to_csv(index=False, float_format='%.6g', lineterminator='\n')
    a = df.attrs
    ref, metric, info = a.get('against'), a.get('metric', 'miou'), a.get('aubc')
    label = HEADERS.get(metric, metric)
    tex = fmt == 'latex'
    pm, delta = (r'$\pm$', r'$\Delta$') if tex else ('±', 'Δ')
    keys = [n for n in df.index.names if n is not None]
    flat = df.reset_index()
    is_ref = (flat['variant'] == ref).tolist()

    def block(prefix, d):
        mean = [_num(m, d) if pd.isna(s) or pd.isna(m) else f'{_num(m, d)} {pm} {_num(s, d)}'
                for m, s in zip(flat[f'{prefix}_mean'], flat[f'{prefix}_std'])]
        diff, ci, wins = [], [], []
        ns_col = flat[f'{prefix}_ns'].tolist()
        rows = zip(is_ref, flat[f'{prefix}_diff'].tolist(), flat[f'{prefix}_diff_low'].tolist(),
                   flat[f'{prefix}_diff_high'].tolist(), flat[f'{prefix}_wins'].tolist(),
                   flat['n' if prefix == metric else 'aubc_n'].tolist(), ns_col)
        for ref_row, dv, lo, hi, w, n, ns in rows:
            if ref_row:
                diff.append('reference')
                ci.append('-')
                wins.append('-')
                continue
            diff.append(_signed(dv, d) + (' n.s.' if not pd.isna(ns) and bool(ns) else ''))
            ci.append('-' if pd.isna(lo) else f'[{lo:.{d}f}, {hi:.{d}f}]')
            wins.append('-' if pd.isna(n) or n == 0 else f'{int(w)}/{int(n)}')
        return mean, diff, ci, wins

    cols = [(k, True, [_key(v) for v in flat[k].tolist()]) for k in keys]
    if tex:
        cols = [(_latex_escape(h), True, [_latex_escape(v) for v in vals])
                for h, _, vals in cols]
    lab = _latex_escape(label) if tex else label
    mean, diff, ci, wins = block(metric, digits)
    cols += [(lab, False, mean), (f'{delta} {lab}', False, diff),
             ('95\\% CI' if tex else '95% CI', False, ci), ('wins', False, wins)]
    if info is not None:
        d = 3 if info['normalised'] else digits
        head = 'AUBC' if info['normalised'] else f'AUBC ({label}, not normalised)'
        head = _latex_escape(head) if tex else head
        mean, diff, ci, wins = block('aubc', d)
        cols += [(head, False, mean), (f'{delta} AUBC', False, diff),
                 ('AUBC 95\\% CI' if tex else 'AUBC 95% CI', False, ci),
                 ('AUBC wins', False, wins)]
    cols.append(('n', False, [_num(v, 0) for v in flat['n'].tolist()]))
    caption = (f'Paired by seed against {ref} ({label} of the final evaluation'
               f'{", and AUBC" if info else ""}): Δ = mean of (variant - {ref}) over the seeds '
               f'both have, 95% CI = Δ -+ t(0.975, n-1) * sd / sqrt(n) of the differences, '
               f'wins = seeds where the variant is strictly higher, n.s. = the interval '
               f'contains 0.')
    lines = [caption] + ([info['text'] + '.'] if info else [])
    if tex:
        lines = ['% ' + line.replace('Δ', 'Delta') for line in lines]
        return '\n'.join(lines) + '\n' + _render(cols, 'latex')
    return ' '.join(lines) + '\n\n' + _render(cols, 'markdown')


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
    p.add_argument('--storage', default='results', help='sweep storage folder (default: results)')
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
    except (FileNotFoundError, ValueError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f'error: {msg}'.replace('\n', ' '), file=sys.stderr)
        return 2
    if df.attrs.get('note'):
        print(f'note: {df.attrs["note"]}'.replace('\n', ' '), file=sys.stderr)
    sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
