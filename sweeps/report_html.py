"""Small HTML helpers of the sweep report: the inline CSS, escaping, notes, the markdown tables
of sweeps/tables.py as HTML tables, fact lists, PNG data-URI images, durations and dates."""
import base64
import html
import re
from datetime import datetime, timezone

import pandas as pd


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
