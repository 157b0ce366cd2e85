"""The sections of the sweep report, each HTML from a `Sweep` (sweeps/report_sweep.py):
overview (space, commands, machine, dates, times, warm-ups), the paper tables and the paired
comparison, budget curves, the per-class IoU heat map, the selections of the best and the worst
variant, and the errored trials."""
import json
import os.path as osp
import re
import shlex
from datetime import datetime

import pandas as pd

from . import stats, tables
from .common import mask_secrets
from .plots import plot_budget_curve, plot_heatmap
from .report_html import (duration, esc, facts_table, img_tag, markdown_to_html, note,
                          when)
from .report_sweep import STORE_DIR, read_json
from .results import final_ok
from .table_format import format_table


def section_overview(sw, trials):
    info, hist, df = sw.info, sw.history, sw.results
    space = sw.space
    parts = []
    desc = (space.description if space is not None else '') or ''
    paras = [' '.join(p.split()) for p in desc.strip().split('\n\n') if p.strip()]
    parts.append(''.join(f'<p>{esc(p)}</p>' for p in paras) or
                 '<p class="caption">(no description)</p>')
    if sw.space_note:
        parts.append(note(sw.space_note))
    starts = [h for h in hist if h.get('event') == 'start']
    resumes = [h for h in hist if str(h.get('event', '')).startswith('resume')]
    first = (starts or hist or [None])[0]
    cmd = (f'<pre>python sweeps/run.py {esc(_command(first))}</pre>'
           if first else '<span class="caption">no history.jsonl (an older sweep)</span>')
    revs = list(dict.fromkeys([r for r in [info.get('git_rev'), sw.plan.get('git_rev')]
                               + [h.get('git_rev') for h in hist]
                               + list(df['git_rev'].dropna().unique()) if r]))
    hosts = list(dict.fromkeys([h.get('host') for h in hist if h.get('host')]
                               + list(df['hostname'].dropna().unique())))
    devices = list(dict.fromkeys(df['device'].dropna().unique()))
    reported = pd.to_datetime(df['reported_at'], utc=True)
    ok = trials['status'].eq('ok').sum()
    counts = trials['status'].value_counts()
    state = ', '.join(f'{int(counts[s])} {s}' for s in ('ok', 'stopped', 'error') if s in counts)
    seeds = df.groupby('variant')['seed'].nunique()
    wall = pd.to_numeric(trials['wall'], errors='coerce')
    train = pd.to_numeric(trials['train'], errors='coerce')
    span = None
    if first and reported.notna().any():
        try:
            span = (reported.max() - pd.Timestamp(datetime.strptime(
                first['time'], '%Y-%m-%dT%H:%M:%S%z'))).total_seconds()
        except (KeyError, ValueError, TypeError):
            span = None
    facts = [
        ('space', esc(info.get('space') or (space.name if space else '-'))
         + (f' on <b>{esc(info["benchmark"])}</b>' if info.get('benchmark') else '')
         + (f' · search {esc(info.get("search"))}, scheduler {esc(info.get("scheduler"))}'
            if info.get('search') else '')),
        ('command', cmd),
        ('git revision', ', '.join(f'<code>{esc(r)}</code>' for r in revs) or '-'),
        ('machine', esc(', '.join(hosts) or '-')
         + (f' ({esc(", ".join(devices))})' if devices else '')),
        ('first start', esc(when(first.get('time')) if first else when(reported.min()))),
        ('last resume', esc(when(resumes[-1].get('time')) if resumes else 'never resumed')),
        ('last result', esc(when(reported.max()))),
        ('trials', f'{len(trials)} ({esc(state)}) · {len(seeds)} variants · seeds per variant '
                   f'{esc(_range(seeds))}'),
        ('total time', f'{esc(duration(wall.sum()))} of trial time (sum of the trials\' wall '
                       f'time; {esc(duration(train.sum()))} training)'
         + (f'; {esc(duration(span))} from the first start to the last result' if span else '')),
        ('per trial', f'wall {esc(duration(wall.mean()))} mean, {esc(duration(wall.min()))} - '
                      f'{esc(duration(wall.max()))}; training {esc(duration(train.mean()))} mean'
         if wall.notna().any() else '-'),
    ]
    facts.extend(warmup_facts(sw))
    parts.append(facts_table(facts))
    if len(hist) > 1:
        rows = ''.join(
            f'<tr><td class="key">{esc(h.get("event", "-"))}</td><td class="key">'
            f'{esc(when(h.get("time")))}</td><td class="key">{esc(h.get("host", "-"))}</td>'
            f'<td class="key"><code>{esc(h.get("git_rev", "-"))}</code></td><td class="key">'
            f'<code>{esc(_command(h))}</code></td></tr>'
            for h in hist)
        parts.append('<h3>History (history.jsonl)</h3><table><thead><tr><th>event</th>'
                     '<th>time</th><th>host</th><th>git</th><th>arguments</th></tr></thead>'
                     f'<tbody>{rows}</tbody></table>')
    parts.append(_variants_html(sw))
    parts.append(_trials_html(trials, ok))
    return '\n'.join(parts)


def warmup_facts(sw):
    """('warm-up', which checkpoint was published) per warm-up the trials start from: the
    warm-ups named in configs.json, read from warmup.json in the sweep's storage (data only)."""
    path = osp.join(sw.dir, 'configs.json')
    text = open(path, encoding='utf-8').read() if osp.isfile(path) else ''
    out = []
    # the cache is <storage>/.warmup (older sweeps: <storage>/warmup)
    for cache, folder in sorted(set(re.findall(r'/(\.?warmup)/([^/"]+)/warmup\.pth', text))):
        record = read_json(osp.join(osp.dirname(sw.dir), cache, folder, 'warmup.json'),
                       'warmup.json') or {}
        if record.get('publish') == 'best':
            what = (f'the best validation checkpoint: iteration {record.get("iteration")}, '
                    f'mIoU {record.get("mIoU", float("nan")):.2f}')
        elif record.get('publish'):
            what = f'the last checkpoint: iteration {record.get("iteration")}'
        else:
            what = 'not recorded (no warmup.json)'
        out.append(('warm-up', f'<code>{esc(folder)}</code>: {esc(what)}'))
    return out


def _command(event):
    """The arguments of a history.jsonl event as a shell line, credentials in URIs masked (an
    older sweep's history may hold them)."""
    return shlex.join(map(str, mask_secrets(list(event.get('argv') or []))))


def _range(counts):
    if not len(counts):
        return '-'
    lo, hi = int(counts.min()), int(counts.max())
    return str(lo) if lo == hi else f'{lo}-{hi}'


def _variants_html(sw):
    fp = sw.plan.get('fingerprint') or {}
    variants = fp.get('variants') or {}
    if not variants:
        return ''
    rows = ''.join(
        f'<tr><td class="key">{esc(n)}</td><td class="key">{esc(v.get("configs", "-"))}/'
        f'{esc(v.get("config", "-"))}</td><td class="key"><code>'
        f'{esc(json.dumps(v.get("knobs") or {}, sort_keys=True))}</code></td></tr>'
        for n, v in variants.items())
    axes = fp.get('axes') or {}
    extra = (f'<p class="caption">axes: <code>{esc(json.dumps(axes, sort_keys=True))}</code></p>'
             if axes else '')
    sets = fp.get('sets') or []
    if sets:
        extra += (f'<p class="caption">--set: <code>{esc(json.dumps(mask_secrets(sets)))}'
                  '</code></p>')
    return ('<details><summary>Variants (plan.json)</summary><table><thead><tr><th>variant</th>'
            f'<th>config</th><th>knobs</th></tr></thead><tbody>{rows}</tbody></table>{extra}'
            '</details>')


def _trials_html(trials, ok):
    rows = []
    for t in trials.itertuples():
        rows.append(
            f'<tr><td class="key">{esc(t.trial_id)}</td><td class="key">{esc(t.variant)}</td>'
            f'<td class="num">{esc(t.seed)}</td><td class="key">{esc(t.status)}</td>'
            f'<td class="num">{esc(t.rounds)}</td>'
            f'<td class="num">{"-" if pd.isna(t.miou) else f"{t.miou:.2f}"}</td>'
            f'<td class="num">{"-" if pd.isna(t.labelled_pct) else f"{t.labelled_pct:.2f}"}'
            f'</td><td class="num">{esc(duration(t.wall))}</td>'
            f'<td class="num">{esc(duration(t.train))}</td><td class="key">{esc(t.host)}</td>'
            '</tr>')
    return (f'<details><summary>Trials ({len(trials)}, {ok} finished)</summary><table><thead>'
            '<tr><th>trial</th><th>variant</th><th>seed</th><th>status</th><th>evaluations</th>'
            '<th>final mIoU</th><th>labelled %</th><th>wall</th><th>training</th><th>host</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></details>')


def _default_table(space):
    if space is None:
        return 'ablation', None, None
    return space.table or 'ablation', space.table_param, space.table_rounds


def section_tables(sw, against):
    parts = []
    kind, param, rounds = _default_table(sw.space)
    if kind == 'compare':
        kind = 'ablation'
    cmd = f'python sweeps/tables.py {sw.title} --table {kind}' + (
        f' --param {param}' if param else '') + (
        f' --rounds {" ".join(map(str, rounds))}' if rounds else '')
    parts.append(f'<h3>The space\'s table ({esc(kind)})</h3><p class="caption"><code>'
                 f'{esc(cmd)}</code>: mean ± std over seeds (sample std; none with one seed)'
                 '</p>')
    try:
        text, _ = tables.build_table(sw.path, table=kind, param=param, rounds=rounds)
        parts.append(markdown_to_html(text))
    except (ValueError, KeyError) as e:
        parts.append(note(f'the {kind} table cannot be built: {e}'))
    seeds = int(sw.results.groupby('variant')['seed'].nunique().max())
    ref = f' --against {against}' if against else ''
    parts.append(f'<h3>Paired comparison</h3><p class="caption"><code>python sweeps/tables.py '
                 f'{esc(sw.title)} --table compare{esc(ref)}</code></p>')
    try:
        text, df = tables.build_table(sw.path, table='compare', against=against)
    except ValueError as e:
        parts.append(note(f'No paired comparison: {e}. The table above has the mean ± std '
                          'over seeds, without intervals.'))
        return '\n'.join(parts)
    if seeds < 2:
        parts.append(note(f'The sweep has {seeds} seed per variant: the differences below '
                          'have no confidence intervals (they need 2 or more paired seeds), '
                          'so nothing here says whether a difference is beyond seed noise.'))
    elif df.attrs.get('note'):
        parts.append(note(f'Note: {df.attrs["note"]}.'))
    parts.append(markdown_to_html(text))
    return '\n'.join(parts)


def section_curves(sw, tmp):
    df = sw.results
    ev = df[(df['status'] != 'error') & df['miou'].notna() & df['labelled_fraction'].notna()]
    fractions = ev.groupby('trial_id')['labelled_fraction'].nunique()
    if not len(fractions) or fractions.max() < 2:
        return note('No budget curves: every trial was evaluated at one labelled fraction.')
    final = final_ok(df)
    full = [v for v, g in final.groupby('variant')
            if (g['labelled_fraction'] >= stats.FULL).all()]
    curves = ev[~ev['variant'].isin(full)]
    png = osp.join(tmp, 'budget_curve.png')
    plot_budget_curve(curves, png, 'miou', title=f'{sw.title}: mIoU vs annotation budget',
                             variants=sw.variants)
    seeds = int(curves.groupby('variant')['seed'].nunique().max())
    cap = ('Lines: mean mIoU over seeds at each evaluation (before each selection round, '
           'and at the end); bands: ± one std over seeds'
           + (' (none: one seed per variant).' if seeds < 2 else '.'))
    if full:
        cap += (f' Not drawn (fully supervised, labelled fraction 1.0): {", ".join(full)}; see '
                'the tables.')
    out = [img_tag(png, 'mIoU vs labelled fraction per variant'),
           f'<p class="caption">{esc(cap)}</p>']
    text = format_table(stats.budget_curve(curves, 'miou', sw.variants))
    out.append(f'<details><summary>The numbers (<code>--table budget</code>)</summary>'
               f'{markdown_to_html(text)}</details>')
    return '\n'.join(out)


def section_heatmap(sw, tmp):
    df = sw.results
    cols = ['variant', 'is_final', 'status', 'miou'] + sw.iou_columns
    pc = stats.per_class_table(df[cols], variants=sw.variants)
    if not len(pc) or pc.shape[1] <= 1:
        return note('No per-class IoU: no trial finished with per-class results.')
    png = plot_heatmap(pc, osp.join(tmp, 'per_class.png'),
                       'per-class IoU of the final evaluation, mean over seeds')
    return (img_tag(png, 'per-class IoU heatmap') +
            '<p class="caption">Rows: variants; columns: the classes with any value, then mIoU; '
            'grey: no value (the class is absent from the evaluation images and predictions).</p>')


def _stores(sw, variant):
    """(trial_id, seed, final mIoU) of the variant's trials that have a label store, by seed."""
    final = final_ok(sw.results)
    final = final[final['variant'] == variant].sort_values(['seed', 'trial_id'])
    return [(r.trial_id, r.seed, r.miou) for r in final.itertuples()
            if osp.isfile(osp.join(sw.dir, 'work', r.trial_id, STORE_DIR, 'index.json'))]


def section_selections(sw, tmp, images):
    final = final_ok(sw.results)
    means = final.groupby('variant', sort=False)['miou'].mean().dropna()
    if not len(means):
        return note('No selections: no trial finished.')
    ranked = means.sort_values(ascending=False, kind='stable')
    with_store = [v for v in ranked.index if _stores(sw, v)]
    without = [v for v in ranked.index if v not in with_store]
    out = []
    if without:
        out.append(note(f'No label store (nothing selected: oracle / source-only, or the work '
                        f'folder is gone), skipped: {", ".join(without)}.'))
    if not with_store:
        return '\n'.join(out) or note('No selections.')
    picks = [('best', with_store[0])]
    if len(with_store) > 1:
        picks.append(('worst', with_store[-1]))
    from mmseg_ext.tools.show_selection import ROUND_COLOURS, show_selection
    drawn = []
    for which, variant in picks:
        tid, seed, miou = _stores(sw, variant)[0]
        png = osp.join(tmp, f'selection_{which}.png')
        try:
            _, info = show_selection(osp.join(sw.dir, 'work', tid), png, images=images)
        except (OSError, ValueError, KeyError) as e:
            out.append(note(f'{which} variant {variant}: the selection of trial {tid} cannot be '
                            f'drawn ({e})'))
            continue
        info = json.loads(info)
        shown = [osp.basename(p).split('_gtFine')[0].split('_labelTrainIds')[0]
                 for p in info.get('images', [])]
        drawn.append((int(info.get('rounds', 0)),
                      f'<div><h3>{esc(which.capitalize())}: {esc(variant)} (mean final mIoU '
                      f'{means[variant]:.2f})</h3><p class="caption">trial {esc(tid)}, seed '
                      f'{esc(seed)} (final mIoU {miou:.2f}); {len(shown)} target images, those '
                      f'where it bought the most pixels: {esc(", ".join(shown))}</p>'
                      + img_tag(png, f'selections of {variant}', 'pixels') + '</div>'))
    if drawn:
        n = max(r for r, _ in drawn)
        legend = ''.join(f'<span class="swatch" style="background:rgb{tuple(map(int, c))}">'
                         f'</span>round {i}' for i, c in
                         enumerate(ROUND_COLOURS[:max(1, min(n, len(ROUND_COLOURS)))]))
        out.append('<p class="caption">As <code>python -m mmseg_ext.tools.show_selection '
                   '&lt;sweep&gt;/work/&lt;trial&gt;</code> draws them, per image: left, the image '
                   "with the pixels bought in each round in the round's colour; right, the "
                   f'bought ground truth (Cityscapes palette).{legend}</p>')
        out.append('<div class="pair">' + ''.join(h for _, h in drawn) + '</div>')
    return '\n'.join(out)


def section_errors(sw):
    err = sw.results[sw.results['status'] == 'error']
    if not len(err):
        return '<p>No trial errored.</p>'
    rows = ''.join(
        f'<tr><td class="key">{esc(r.trial_id)}</td><td class="key">{esc(r.variant)}</td>'
        f'<td class="num">{esc(r.seed)}</td><td class="num">{esc(r.round)}</td>'
        f'<td class="key">{esc(when(r.reported_at))}</td>'
        f'<td class="key"><code>{esc(mask_secrets(r.error or "(no message)"))}</code></td></tr>'
        for r in err.itertuples())
    return (f'<p>{len(err)} error row(s) in {err["trial_id"].nunique()} trial(s) (a retried '
            'trial that later succeeded keeps no error row).</p><table><thead><tr><th>trial</th>'
            '<th>variant</th><th>seed</th><th>round</th><th>time</th><th>reason</th></tr>'
            f'</thead><tbody>{rows}</tbody></table>')
