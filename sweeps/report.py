"""A sweep's report: one self-contained HTML page (CSS inline, images as PNG data URIs, no
JavaScript, nothing fetched), readable offline.

    python sweeps/report.py NAME [--storage results] --out report.html [--against VARIANT]
        [--images 4]

NAME is a sweep under --storage or a path to a sweep folder (as for tables.py). The page shows:
the space's description, the command(s) that ran it (history.jsonl), git revision, machine,
dates, total and per-trial time; the space's paper table (sweeps.tables.build_table with the
space's default table) and the paired comparison against the random baseline (--table compare);
the budget curves with their seed spread; a per-class IoU heatmap; the selections of the best
and the worst variant over a few target images (mmseg_ext.tools.show_selection); the errored
trials with their reasons. Bad input (no such sweep, unreadable results, --out in a folder that
does not exist, an --against the sweep lacks) is one `error:` line, exit 2, and nothing written.
"""
import argparse
import base64
import html
import json
import os
import os.path as osp
import re
import shlex
import sys
import tempfile
from datetime import datetime, timezone

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sweeps import tables  # noqa: E402
from sweeps.common import mask_secrets  # noqa: E402
from sweeps.results import IOU_COLUMNS, read_results, result_schema  # noqa: E402

STORE_DIR = 'active_labels'
COLUMNS = ['variant', 'trial_id', 'seed', 'round', 'iteration', 'is_final', 'status', 'error',
           'labelled_fraction', 'miou', 'wall_seconds', 'train_seconds', 'hostname', 'device',
           'git_rev', 'reported_at']

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;
  margin:0 auto;max-width:1180px;padding:18px 28px 60px}
h1{font-size:24px;margin:4px 0 2px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid
  #ddd;padding-bottom:3px}h3{font-size:15px;margin:18px 0 6px}
.sub{color:#555;margin:0 0 12px}
code,pre{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#f5f5f5;border:1px solid #e2e2e2;padding:6px 9px;white-space:pre-wrap;
  word-break:break-all;margin:4px 0}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;vertical-align:top}
th{background:#f0f0f0;font-weight:600}tr:nth-child(even) td{background:#fafafa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}td.key{text-align:left}
td.ns{color:#888}
table.facts th{text-align:left;width:150px}
.note{background:#fff8e1;border-left:3px solid #f0b400;padding:5px 10px;margin:6px 0}
.caption{color:#444;font-size:12.5px;max-width:1100px}
img{max-width:100%;height:auto;border:1px solid #eee}
.swatch{display:inline-block;width:12px;height:12px;border:1px solid #999;margin:0 3px 0 10px;
  vertical-align:-2px}
img.pixels{image-rendering:pixelated}
.pair{display:flex;gap:18px;align-items:flex-start}.pair>div{flex:1;min-width:0}
details{margin:6px 0}summary{cursor:pointer;color:#245}
"""


class ReportError(ValueError):
    """Bad report input: one `error:` line, exit 2."""


# ---- small HTML helpers -----------------------------------------------------------------------

def esc(text):
    return html.escape(str(text), quote=True)


def note(text):
    return f'<p class="note">{esc(text)}</p>'


def _split_row(line):
    cells = re.split(r'(?<!\\)\|', line.strip()[1:-1])
    return [c.strip().replace('\\|', '|') for c in cells]


def markdown_to_html(text):
    """The markdown tables.py writes (paragraphs and pipe tables) as HTML. Table cells: the
    alignment row's ':---' columns are keys (left), '---:' numbers (right); a cell ending in
    ' n.s.' gets class 'ns'. Everything is escaped."""
    out, para, rows = [], [], []

    def flush():
        if para:
            out.append(f'<p class="caption">{esc(" ".join(para))}</p>')
            para.clear()
        if rows:
            out.append(_table_html(rows))
            rows.clear()

    for line in text.splitlines():
        s = line.strip()
        if s.startswith('|') and s.endswith('|') and len(s) > 1:
            if para:
                flush()
            rows.append(_split_row(s))
        elif not s:
            flush()
        else:
            if rows:
                flush()
            para.append(s)
    flush()
    return '\n'.join(out)


def _table_html(rows):
    head, body = rows[0], rows[1:]
    align = ['num'] * len(head)
    if body and all(re.fullmatch(r':?-{3,}:?', c) for c in body[0]):
        align = ['key' if c.startswith(':') and not c.endswith(':') else 'num' for c in body[0]]
        body = body[1:]
    parts = ['<table><thead><tr>'
             + ''.join(f'<th class="{a}">{esc(h)}</th>' for h, a in zip(head, align))
             + '</tr></thead><tbody>']
    for r in body:
        cells = []
        for c, a in zip(r, align):
            cls = a + (' ns' if c.endswith(' n.s.') else '')
            cells.append(f'<td class="{cls}">{esc(c)}</td>')
        parts.append('<tr>' + ''.join(cells) + '</tr>')
    parts.append('</tbody></table>')
    return ''.join(parts)


def facts_table(pairs):
    """[(label, html value)] as a two-column table (values are already HTML)."""
    return ('<table class="facts">' + ''.join(f'<tr><th>{esc(k)}</th><td>{v}</td></tr>'
                                              for k, v in pairs) + '</table>')


def img_tag(png_path, alt, cls=None):
    with open(png_path, 'rb') as f:
        data = base64.b64encode(f.read()).decode('ascii')
    klass = f' class="{cls}"' if cls else ''
    return f'<img{klass} alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def duration(seconds):
    if seconds is None or pd.isna(seconds):
        return '-'
    seconds = float(seconds)
    if seconds < 90:
        return f'{seconds:.1f} s'
    whole = int(round(seconds))  # rounded before it is split: never '4 min 60 s'
    if whole < 3600:
        return f'{whole // 60} min {whole % 60:02d} s'
    minutes = int(round(seconds / 60))
    return f'{minutes // 60} h {minutes % 60:02d} min'


def when(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return '-'
    if isinstance(value, str):
        try:
            value = datetime.strptime(value, '%Y-%m-%dT%H:%M:%S%z')
        except ValueError:
            return value
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return value.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')


# ---- the sweep folder -------------------------------------------------------------------------

def _json(path, what):
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ReportError(f'{path}: not a readable {what} ({e})') from None
    if not isinstance(data, dict):
        raise ReportError(f'{path}: not a readable {what} (expected a JSON object)')
    return data


def _history(path):
    if not osp.isfile(path):
        return []
    lines, i = [], 0
    try:
        with open(path) as f:
            for i, line in enumerate(f, 1):
                if line.strip():
                    lines.append(json.loads(line))
    except (OSError, ValueError) as e:
        raise ReportError(f'{path}: line {i} is not readable JSON ({e})') from None
    return lines


def _space_arg(argv):
    argv = list(argv or [])
    for i, a in enumerate(argv):
        if a == '--space' and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith('--space='):
            return a.split('=', 1)[1]
    return None


def _space_from_source(path):
    """The record fields of a project space file (sweeps/spaces/<name>.py) read from its syntax
    tree, without running it: the literal keyword arguments of `SPACE = Space(...)`, and
    `description=__doc__` as the module's docstring. None when there is no such call."""
    import ast
    with open(path) as f:
        tree = ast.parse(f.read(), str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == 'SPACE'
                                                for t in node.targets) \
                and isinstance(node.value, ast.Call):
            data = {}
            for kw in node.value.keywords:
                if kw.arg == 'description' and getattr(kw.value, 'id', None) == '__doc__':
                    data['description'] = ast.get_docstring(tree, clean=False)
                    continue
                try:
                    data[kw.arg] = ast.literal_eval(kw.value)
                except ValueError:
                    continue
            return data
    return None


def load_space_of(sweep_dir, info, history):
    """(the space's record or None, a note or None). The record is the sweep folder's
    space.json (sweeps.space.SPACE_RECORD, written by run.py when the sweep starts): data, so
    rendering a report runs no file the folder names. An older folder without it: the fields of
    the project's own space of that name read from its source without running it
    (`_space_from_source`); a space file given by path is not read."""
    from types import SimpleNamespace

    from sweeps.space import RECORD_FIELDS, SPACE_RECORD
    from sweeps.spaces import HERE, known_spaces
    defaults = dict.fromkeys(RECORD_FIELDS)
    data = _json(osp.join(sweep_dir, SPACE_RECORD), SPACE_RECORD)
    if data is not None:
        return SimpleNamespace(**{**defaults, **data}), None
    arg = next((_space_arg(h.get('argv')) for h in history if _space_arg(h.get('argv'))), None)
    name = (info or {}).get('space')
    own = name if name in known_spaces() else arg if arg in known_spaces() else None
    if own is not None and not (arg and arg.endswith('.py') and arg != own):
        try:
            data = _space_from_source(HERE / f'{own}.py')
        except (OSError, SyntaxError, ValueError):
            data = None
        if data is not None:
            return SimpleNamespace(**{**defaults, **data}), (
                f'the sweep folder has no {SPACE_RECORD} (an older adasweep made it): the '
                f'description and table are those of the project\'s space {own} as it is now')
    what = arg or name or 'unknown'
    return None, (f'the sweep folder has no {SPACE_RECORD} (an older adasweep made it), and the '
                  f'space ({what}) is not run to read it: no description; the paper table is the '
                  'ablation table')


class Sweep:
    """What the report reads: the results (COLUMNS), sweep.json, plan.json, history.jsonl and
    space.json (data only: no file of the folder is run). Raises FileNotFoundError /
    ValueError (one line) for bad input."""

    def __init__(self, name, storage='results'):
        self.name = name
        self.path = tables.resolve(name, storage)
        names = result_schema(self.path).names  # missing / unreadable -> an error here
        self.iou_columns = [c for c in IOU_COLUMNS if c in names]
        cols = [c for c in COLUMNS if c in names] + self.iou_columns
        self.results = read_results(self.path, columns=cols).to_pandas()
        if not len(self.results):
            raise ReportError(f'{self.path}: the results have no rows')
        for c in COLUMNS:
            if c not in self.results:
                self.results[c] = None
        self.dir = self.path if osp.isdir(self.path) else osp.dirname(osp.abspath(self.path))
        self.info = _json(osp.join(self.dir, 'sweep.json'), 'sweep.json') or {}
        self.plan = _json(osp.join(self.dir, 'plan.json'), 'plan.json') or {}
        self.history = _history(osp.join(self.dir, 'history.jsonl'))
        self.variants = tables.sweep_variants(self.path)
        self.space, self.space_note = load_space_of(self.dir, self.info, self.history)
        self.title = self.info.get('name') or osp.basename(osp.normpath(self.dir))

    def known_variants(self):
        return list(dict.fromkeys(list(self.variants or []) + list(self.results['variant'])))

    def trials(self):
        """One row per trial: variant, seed, status, rounds, final mIoU and labelled %, wall and
        train seconds (the final row's; without one, the trial's largest), host."""
        df = self.results
        out = []
        for tid, g in df.groupby('trial_id', sort=False):
            final = g[g['is_final'].astype(bool) & (g['status'] == 'ok')]
            last = (final.iloc[-1] if len(final) else
                    g.sort_values(['round', 'reported_at']).iloc[-1])
            status = 'ok' if len(final) else str(last['status'])
            out.append(dict(
                trial_id=tid, variant=last['variant'], seed=last['seed'], status=status,
                rounds=len(g),
                miou=last['miou'] if len(final) else np.nan,
                labelled_pct=(last['labelled_fraction'] * 100 if len(final) and
                              pd.notna(last['labelled_fraction']) else np.nan),
                wall=last['wall_seconds'] if len(final) else pd.to_numeric(
                    g['wall_seconds'], errors='coerce').max(),
                train=last['train_seconds'] if len(final) else pd.to_numeric(
                    g['train_seconds'], errors='coerce').max(),
                host=last['hostname']))
        rank = {v: i for i, v in enumerate(self.known_variants())}
        t = pd.DataFrame(out)
        t['_r'] = t['variant'].map(rank)
        return t.sort_values(['_r', 'seed', 'trial_id'], kind='stable').drop(columns='_r')


# ---- sections ---------------------------------------------------------------------------------

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
        record = _json(osp.join(osp.dirname(sw.dir), cache, folder, 'warmup.json'),
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
    final = df[df['is_final'].astype(bool) & (df['status'] == 'ok')]
    full = [v for v, g in final.groupby('variant')
            if (g['labelled_fraction'] >= tables.FULL).all()]
    curves = ev[~ev['variant'].isin(full)]
    png = osp.join(tmp, 'budget_curve.png')
    tables.plot_budget_curve(curves, png, 'miou', title=f'{sw.title}: mIoU vs annotation budget',
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
    text = tables.format_table(tables.budget_curve(curves, 'miou', sw.variants))
    out.append(f'<details><summary>The numbers (<code>--table budget</code>)</summary>'
               f'{markdown_to_html(text)}</details>')
    return '\n'.join(out)


def plot_heatmap(per_class, out_png, title):
    """PNG of a variants x classes table of IoU (NaN: grey), values written in the cells."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    values = per_class.to_numpy(float)
    rows, cols = values.shape
    fig, ax = plt.subplots(figsize=(1.6 + 0.5 * cols, 1.2 + 0.36 * rows), dpi=110)
    cmap = plt.get_cmap('viridis').with_extremes(bad='#d0d0d0')
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=100, aspect='auto')
    for i in range(rows):
        for j in range(cols):
            v = values[i, j]
            if not np.isnan(v):
                ax.text(j, i, f'{v:.0f}', ha='center', va='center', fontsize=7,
                        color='black' if v > 60 else 'white')
    labels = [tables.HEADERS.get(c, c) for c in per_class.columns]
    ax.set_xticks(range(cols), labels, rotation=50, ha='right', fontsize=8)
    ax.set_yticks(range(rows), [str(v) for v in per_class.index], fontsize=8)
    if 'miou' in per_class.columns:
        ax.axvline(list(per_class.columns).index('miou') - 0.5, color='white', lw=3)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.025, pad=0.01, label='IoU (%)')
    fig.tight_layout()
    fig.savefig(out_png, format='png')
    plt.close(fig)
    return out_png


def section_heatmap(sw, tmp):
    df = sw.results
    cols = ['variant', 'is_final', 'status', 'miou'] + sw.iou_columns
    pc = tables.per_class_table(df[cols], variants=sw.variants)
    if not len(pc) or pc.shape[1] <= 1:
        return note('No per-class IoU: no trial finished with per-class results.')
    png = plot_heatmap(pc, osp.join(tmp, 'per_class.png'),
                       'per-class IoU of the final evaluation, mean over seeds')
    return (img_tag(png, 'per-class IoU heatmap') +
            '<p class="caption">Rows: variants; columns: the classes with any value, then mIoU; '
            'grey: no value (the class is absent from the evaluation images and predictions).</p>')


def _stores(sw, variant):
    """(trial_id, seed, final mIoU) of the variant's trials that have a label store, by seed."""
    final = sw.results[sw.results['is_final'].astype(bool) & (sw.results['status'] == 'ok')
                       & (sw.results['variant'] == variant)].sort_values(['seed', 'trial_id'])
    return [(r.trial_id, r.seed, r.miou) for r in final.itertuples()
            if osp.isfile(osp.join(sw.dir, 'work', r.trial_id, STORE_DIR, 'index.json'))]


def section_selections(sw, tmp, images):
    final = sw.results[sw.results['is_final'].astype(bool) & (sw.results['status'] == 'ok')]
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


def build_report(name, storage='results', against=None, images=4):
    """The report of sweep `name` as one HTML string. Bad input -> FileNotFoundError /
    ValueError (ReportError) with a one-line message, before anything is drawn."""
    sw = Sweep(name, storage)
    if against is not None and against not in sw.known_variants():
        raise ReportError(f'--against {against!r}: the sweep has no such variant (variants: '
                          f'{", ".join(map(str, sw.known_variants()))})')
    if images < 1:
        raise ReportError(f'--images {images}: expected a positive number of images')
    trials = sw.trials()
    with tempfile.TemporaryDirectory(prefix='adasweep_report_') as tmp:
        body = [
            f'<h1>Sweep {esc(sw.title)}</h1>',
            f'<p class="sub">adasweep sweep report · made {esc(when(datetime.now(timezone.utc)))}'
            f' from <code>{esc(osp.abspath(sw.dir))}</code></p>',
            '<h2 id="overview">Overview</h2>', section_overview(sw, trials),
            '<h2 id="tables">Tables</h2>', section_tables(sw, against),
            '<h2 id="curves">Budget curves</h2>', section_curves(sw, tmp),
            '<h2 id="per-class">Per-class IoU</h2>', section_heatmap(sw, tmp),
            '<h2 id="selections">Selections of the best and the worst variant</h2>',
            section_selections(sw, tmp, images),
            '<h2 id="errors">Errored trials</h2>', section_errors(sw),
        ]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>Sweep {esc(sw.title)}</title><link rel="icon" href="data:,">'
            f'<style>{CSS}</style></head>\n<body>\n' + '\n'.join(body) + '\n</body></html>\n')


def check_out(out):
    """--out must name a file in a folder that exists (and is writable)."""
    try:
        return tables.check_out('--out', out, 'an .html file to write')
    except ValueError as e:
        raise ReportError(str(e)) from None


def write_report(text, out):
    """Write atomically: a temporary file in the same folder, then rename."""
    path = check_out(out)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp',
                               dir=osp.dirname(path))
    umask = os.umask(0)
    os.umask(umask)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 -> what open() would have made
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='One self-contained HTML report of a sweep')
    p.add_argument('name', help='sweep name under --storage, or a sweep folder path')
    p.add_argument('--storage', default='results', help='sweep storage folder (default: results)')
    p.add_argument('--out', required=True, help='the HTML file to write')
    p.add_argument('--against', metavar='VARIANT',
                   help='reference of the paired comparison (default: the random baseline, '
                        'the first variant named rand*)')
    p.add_argument('--images', type=int, default=4,
                   help='target images per selection drawing (default: 4)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        check_out(args.out)
        text = build_report(args.name, args.storage, args.against, args.images)
        path = write_report(text, args.out)
    except (FileNotFoundError, ValueError) as e:
        print(' '.join(f'error: {e}'.split()), file=sys.stderr)
        return 2
    print(f'wrote {path} ({len(text) / 1024:.0f} KiB)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
