"""Statistics of sweep results, as DataFrames: mean and sample std (ddof=1) over seeds per
variant (ablation), per parameter value (sensitivity), per class, per round and labelled
fraction (budget curves), and paired comparisons against a reference variant with 95% t
intervals and the normalised area under the budget curve (AUBC). sweeps/table_format.py
renders them; sweeps/tables.py is the CLI."""
import numpy as np
import pandas as pd

from .results import CLASS_NAMES_19, IOU_COLUMNS, final_ok, param_column
from .table_format import HEADERS, _key


def _frame(table, columns):
    """The `columns` of a pyarrow Table or DataFrame as a DataFrame (a clear error if missing)."""
    names = table.column_names if hasattr(table, 'column_names') else list(table.columns)
    missing = [c for c in columns if c not in names]
    if missing:
        raise KeyError(f'results have no column(s) {missing}')
    if hasattr(table, 'column_names'):
        return table.select(columns).to_pandas()
    return table[columns].copy()


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
    df = final_ok(_frame(table, ['variant', 'is_final', 'status', 'labelled_fraction', metric]))
    g = df.groupby('variant', sort=False)
    out = _stats(g, metric).assign(labelled_pct=g['labelled_fraction'].mean() * 100)
    return out.reindex(_order(df['variant'], variants)).rename_axis('variant')


def sensitivity_table(table, param, metric='miou'):
    """Rows: values of parameter `param` (e.g. 'tau' or 'param_tau'; per variant when there are
    several), ascending. Columns: <metric>_mean, <metric>_std over seeds (final evaluation), n."""
    col = param if param.startswith('param_') else param_column(param)
    df = final_ok(_frame(table, ['variant', 'is_final', 'status', col, metric]))
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
    df = final_ok(_frame(table, ['variant', 'is_final', 'status'] + ious + ['miou']))
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
    final = final_ok(df)
    final = final[final[metric].notna()]
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


_CLASS_OF = dict(zip(IOU_COLUMNS, CLASS_NAMES_19))
