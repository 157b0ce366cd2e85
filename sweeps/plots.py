"""Plots of sweep results (PNG): mIoU vs annotation budget per variant, and the per-class IoU
heat map of the report."""
import os
import os.path as osp

import numpy as np

from adasweep_base.fileio import atomic_write

from .stats import _order, budget_curve
from .table_format import HEADERS


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
    try:
        atomic_write(osp.abspath(out_png), lambda tmp: fig.savefig(tmp, format='png'))
    finally:
        plt.close(fig)
    return out_png


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
    labels = [HEADERS.get(c, c) for c in per_class.columns]
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
