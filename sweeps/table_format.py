"""Tables in words: a statistics DataFrame (sweeps/stats.py) as markdown, LaTeX or CSV, mean
+- std per cell, and the paired-comparison table with its intervals."""
import numpy as np
import pandas as pd


PM = {'markdown': '±', 'latex': r'$\pm$'}
HEADERS = {'miou': 'mIoU', 'miou13': 'mIoU13', 'labelled_pct': 'labelled %'}


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


FORMATS = ('markdown', 'latex', 'csv')
