"""What the driver prints from results: the trials table (one row per trial: status, round,
labelled %, mIoU, time), the failed trials' reasons, the space's own table, the Pareto front of a
multi-objective space and the best variant in words."""
import math

from .naming import _short_value, one_line
from .results import final_ok


def report(plan, table):
    """The final table: every trial (status, round, labelled %, mIoU, time) and the reasons of
    the failed ones, the space's own table, and the best variant in words."""
    from . import tables
    rows, errors = final_rows(table, list(plan.space.variants))
    print(f'\n{len(rows)} trials, {table.num_rows} result rows in '
          f'{plan.sweep.shown("results.parquet")}; TensorBoard: tensorboard --logdir '
          f'{plan.sweep}')
    print(format_trials(rows))
    for name, reason in errors:
        print(f'error in {name}: {reason}')
    print()
    try:
        text, _ = tables.build_table(plan.sweep_dir, table=plan.space.table,
                                     param=plan.space.table_param, rounds=plan.space.table_rounds)
    except ValueError as err:  # e.g. trials that errored before the space's table rounds
        text = f'(no {plan.space.table} table: {err})'
    print(text)
    if plan.space.objectives:
        print('\nPareto front (final evaluations):')
        print(tables.format_table(pareto_front(table, plan.space.objectives), 'markdown'))
    metric, mode = (plan.space.objectives[0] if plan.space.objectives else
                    (plan.space.metric, plan.space.mode))
    summary = best_summary(table, metric, mode)
    if summary:
        print(f'\n{summary}')


def pareto_front(table, objectives):
    df = table.to_pandas()
    df = final_ok(df)
    keep = []
    for i, row in df.iterrows():
        dominated = False
        for j, other in df.iterrows():
            better_or_equal = all((other[m] >= row[m]) if mode == 'max' else (other[m] <= row[m])
                                  for m, mode in objectives)
            strictly = any((other[m] > row[m]) if mode == 'max' else (other[m] < row[m])
                           for m, mode in objectives)
            if i != j and better_or_equal and strictly:
                dominated = True
                break
        if not dominated:
            keep.append(i)
    cols = ['variant', 'trial_id'] + [m for m, _ in objectives] + \
        [c for c in df.columns if c.startswith('param_')]
    return df.loc[keep, cols].sort_values(objectives[0][0], ascending=False).set_index('trial_id')


def _fmt_elapsed(seconds):
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return '-'
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f'{h}:{m:02d}:{s:02d}' if h else f'{m}:{s:02d}'


def _fmt_num(value, digits=2, suffix=''):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    return f'{value:.{digits}f}{suffix}'


COLUMNS = ('trial', 'variant', 'seed', 'status', 'round', 'labelled', 'mIoU', 'elapsed')


def format_trials(rows):
    """Rows {trial, variant, seed, status, round, labelled_fraction, miou, elapsed} as a plain
    aligned text table."""
    cells = [[str(r['trial']), str(r['variant']), str(r['seed']), str(r['status']),
              '-' if r.get('round') is None else str(r['round']),
              _fmt_num(None if r.get('labelled_fraction') is None
                       else 100 * r['labelled_fraction'], 2, '%'),
              _fmt_num(r.get('miou')), _fmt_elapsed(r.get('elapsed'))] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(COLUMNS)]
    right = {2, 4, 5, 6, 7}

    def line(values):
        return '  '.join(v.rjust(w) if i in right else v.ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths))).rstrip()
    return '\n'.join([line(COLUMNS), line(['-' * w for w in widths])] + [line(c) for c in cells])


def final_rows(table, variants=None):
    """One row per trial of a results table (pyarrow, as read_results gives it): its last
    evaluation (the final one where there is one), its status and its error; in the order of
    `variants` (the space's), then by name. Also [(trial name, one-line error)]."""
    df = table.to_pandas()
    out, errors = [], []
    if df.empty:
        return out, errors
    if 'trial_name' not in df.columns:
        df['trial_name'] = None
    for trial_id, rows in df.groupby('trial_id', sort=False):
        ok = rows[rows.status != 'error']
        last = (ok if len(ok) else rows).sort_values(['is_final', 'round']).iloc[-1]
        status = 'error' if (rows.status == 'error').any() and not ok.is_final.any() else \
            ('done' if last.status == 'ok' and last.is_final else str(last.status))
        name = last.trial_name if isinstance(last.trial_name, str) else \
            f'{last.variant}-s{last.seed}'
        out.append(dict(trial=name, variant=last.variant, seed=int(last.seed), status=status,
                        round=None if not len(ok) else int(last['round']),
                        labelled_fraction=None if not len(ok) else last.labelled_fraction,
                        miou=None if not len(ok) else last.miou,
                        elapsed=None if not len(ok) else last.wall_seconds))
        if status == 'error':
            err = rows[rows.status == 'error'].iloc[-1].error
            errors.append((name, one_line(err)))
    order = {}
    for n in list(variants or []) + list(df.variant.unique()):
        order.setdefault(n, len(order))
    out.sort(key=lambda r: (order.get(r['variant'], 0), r['trial']))
    return out, errors


def best_summary(table, metric='miou', mode='max', param_columns=None):
    """'best: <variant> [k=v] (mean mIoU 33.95 over 3 seeds)' from the final `ok` rows: the best
    mean over seeds of each variant (and parameter values), among the variants that do not train
    on every target label (an oracle / fully supervised row is an upper bound, named apart)."""
    df = table.to_pandas()
    if df.empty or metric not in df.columns:
        return None
    df = final_ok(df)
    df = df[df[metric].notna()]
    if df.empty:
        return 'best: none (no trial finished)'
    # parameters sampled within a variant (a variant's fixed knobs are in its name already)
    params = [c for c in (param_columns if param_columns is not None else df.columns)
              if c.startswith('param_') and c in df.columns
              and df.groupby('variant')[c].nunique(dropna=True).max() > 1]
    keys = ['variant'] + params
    groups = []
    for key, rows in df.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        label = ' '.join([str(key[0])] + [f'{p[len("param_"):]}={_short_value(v)}'
                                          for p, v in zip(params, key[1:])])
        full = bool((rows.labelled_fraction >= 1.0).all())
        groups.append((label, float(rows[metric].mean()), int(rows.seed.nunique()), full))
    candidates = [g for g in groups if not g[3]] or groups
    pick = max if mode == 'max' else min
    label, value, seeds, _ = pick(candidates, key=lambda g: g[1])
    name = {'miou': 'mIoU', 'miou13': 'mIoU-13'}.get(metric, metric)
    text = (f'best: {label} (mean {name} {value:.2f} over {seeds} seed'
            f'{"s" if seeds != 1 else ""})')
    bounds = [g for g in groups if g[3] and g not in candidates]
    if bounds:
        text += '; upper bound ' + ', '.join(f'{g[0]} {g[1]:.2f}' for g in bounds) + \
            ' (trained on every target label)'
    return text
