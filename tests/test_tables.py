"""sweeps.tables on hand-made results: exact statistics, formats, the plot and the CLI."""
import math
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from sweeps import tables
from sweeps.results import TrialResultWriter, make_row, rows_to_table

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
SD2 = math.sqrt(0.5)  # sample std of (50, 51)


def row(variant, seed, miou, round=2, is_final=True, status='ok', tau=0.05, frac=0.022, **kw):
    return make_row(sweep='s', space='ripu', benchmark='synthshift', variant=variant,
                    trial_id=f'{variant}-{seed}-{tau}', seed=seed, round=round,
                    iteration=100 * (round + 1), status=status, is_final=is_final,
                    error='boom' if status == 'error' else None, labelled_fraction=frac,
                    params={'tau': tau}, metrics={'mIoU': miou, **kw},
                    reported_at=T0 + timedelta(seconds=seed))


@pytest.fixture
def table():
    """'rand' (appears first) seeds 40/42/44; 'ripu' 50/51; plus rows every table must skip."""
    nan = float('nan')
    rows = [row('rand', s, m, frac=0.02 + 0.001 * s, **{'IoU.road': m + 40, 'IoU.bus': nan})
            for s, m in enumerate((40.0, 42.0, 44.0))]
    rows += [row('ripu', s, m, **{'IoU.road': 90.0 + s}) for s, m in enumerate((50.0, 51.0))]
    rows += [row('ripu', 7, 99.0, status='error'),  # error: never counted
             row('ripu', 8, 99.0, status='stopped', round=0, is_final=False, frac=0.01),
             row('ripu', 0, 10.0, round=0, is_final=False, frac=0.01),
             row('ripu', 1, 20.0, round=0, is_final=False, frac=0.01)]
    return rows_to_table(rows)


def test_ablation_exact(table):
    df = tables.ablation_table(table)
    assert list(df.index) == ['rand', 'ripu'] and df.index.name == 'variant'
    assert df.loc['rand', 'miou_mean'] == pytest.approx(42.0)
    assert df.loc['rand', 'miou_std'] == pytest.approx(2.0)
    assert df.loc['ripu', 'miou_mean'] == pytest.approx(50.5)
    assert df.loc['ripu', 'miou_std'] == pytest.approx(SD2)
    assert list(df['n']) == [3, 2]
    assert df.loc['rand', 'labelled_pct'] == pytest.approx(2.1)
    assert list(tables.ablation_table(table, variants=['ripu']).index) == ['ripu', 'rand']


def test_formats(table):
    df = tables.ablation_table(table)
    md = tables.format_table(df, 'markdown').splitlines()
    assert md[0] == '| variant | mIoU | n | labelled % |'
    assert md[1] == '|:---|---:|---:|---:|'
    assert md[2] == '| rand | 42.00 ± 2.00 | 3 | 2.10 |'
    assert md[3] == '| ripu | 50.50 ± 0.71 | 2 | 2.20 |'
    tex = tables.format_table(df, 'latex')
    assert r'\begin{tabular}{lrrr}' in tex and r'\toprule' in tex and r'\bottomrule' in tex
    assert r'rand & 42.00 $\pm$ 2.00 & 3 & 2.10 \\' in tex and r'labelled \% \\' in tex
    csv = tables.format_table(df, 'csv')
    assert csv.splitlines()[0] == 'variant,miou_mean,miou_std,n,labelled_pct'
    back = pd.read_csv(pd.io.common.StringIO(csv))
    assert back['miou_std'].tolist() == pytest.approx([2.0, SD2], abs=1e-5)
    with pytest.raises(ValueError, match='html'):
        tables.format_table(df, 'html')


def test_sensitivity(table):
    rows = [row('ripu', s, m, tau=tau) for tau, ms in ((0.1, (60.0, 62.0)), (0.01, (50.0, 51.0)))
            for s, m in enumerate(ms)]
    df = tables.sensitivity_table(rows_to_table(rows), 'tau')
    assert list(df.index) == [0.01, 0.1] and df.index.name == 'tau'
    assert df['miou_mean'].tolist() == pytest.approx([50.5, 61.0])
    assert df['miou_std'].tolist() == pytest.approx([SD2, math.sqrt(2)])
    assert tables.format_table(df, 'markdown').splitlines()[2] == '| 0.01 | 50.50 ± 0.71 | 2 |'
    both = tables.sensitivity_table(table, 'param_tau')  # two variants: (variant, tau) rows
    assert list(both.index) == [('rand', 0.05), ('ripu', 0.05)]


def test_per_class(table):
    df = tables.per_class_table(table)
    assert list(df.columns) == ['road', 'miou']  # bus is all-NaN, other classes absent
    assert df.loc['rand', 'road'] == pytest.approx(82.0)
    assert df.loc['ripu', 'road'] == pytest.approx(90.5)
    assert '| variant | road | mIoU |' in tables.format_table(df, 'markdown')


def test_budget_curve(table):
    df = tables.budget_curve(table)
    assert list(df.index) == [('rand', 2), ('ripu', 0), ('ripu', 2)]
    r0 = df.loc[('ripu', 0)]
    assert r0['miou_mean'] == pytest.approx((10 + 20 + 99) / 3)  # 'stopped' counts, error not
    assert r0['n'] == 3 and r0['labelled_pct'] == pytest.approx(1.0)
    assert df.loc[('ripu', 2), 'miou_mean'] == pytest.approx(50.5)


def test_plot_png(table, tmp_path):
    out = tables.plot_budget_curve(table, tmp_path / 'fig' / 'curve.png')
    data = open(out, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 1000
    import matplotlib.image as mpimg
    assert mpimg.imread(out).ndim == 3
    assert os.listdir(tmp_path / 'fig') == ['curve.png']


def _cli(*args, cwd):
    return subprocess.run([sys.executable, os.path.join(REPO, 'sweeps', 'tables.py'), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=60)


def test_cli(table, tmp_path):
    storage = tmp_path / 'results'
    w = TrialResultWriter(storage / 'abl')
    for tid in sorted(set(table['trial_id'].to_pylist())):
        w.write_trial(tid, [r for r in table.to_pylist() if r['trial_id'] == tid])
    w.compact()
    before = sorted(p for p in tmp_path.rglob('*'))
    r = _cli('nope', '--storage', str(storage), '--plot', 'budget_curve', '--out', 'x.png',
             cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ''
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith('error: ')
    assert 'nope' in r.stderr and 'abl' in r.stderr
    r = _cli('abl', '--storage', str(storage), '--plot', 'budget_curve', cwd=tmp_path)
    assert r.returncode == 2 and '--out' in r.stderr and r.stdout == ''
    assert sorted(p for p in tmp_path.rglob('*')) == before  # nothing written
    r = _cli('results/abl', '--format', 'csv', '--plot', 'budget_curve', '--out', 'c.png',
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].startswith('rand,42,2,3,')
    assert (tmp_path / 'c.png').read_bytes()[:4] == b'\x89PNG'


def _sweep(table, storage):
    w = TrialResultWriter(storage / 'abl')
    for tid in sorted(set(table['trial_id'].to_pylist())):
        w.write_trial(tid, [r for r in table.to_pylist() if r['trial_id'] == tid])
    w.compact()


@pytest.mark.parametrize('args, message', [
    (['--plot', 'budget_curve', '--out', 'afolder'], 'is a folder (expected a .png file'),
    (['--plot', 'budget_curve', '--out', 'no/such/c.png'], 'does not exist'),
    (['--table', 'rounds', '--rounds', '99'], '--rounds 99: no such round in the results '
                                              '(rounds: 0, 2)'),
    (['--table', 'rounds', '--rounds', '-1'], '--rounds -1: expected round numbers >= 0'),
    (['--table', 'rounds', '--rounds', '2', '7'], '--rounds 7: no such round'),
], ids=['out-folder', 'out-no-folder', 'rounds-99', 'rounds-neg', 'rounds-some-missing'])
def test_bad_plot_out_and_rounds_are_one_line(table, tmp_path, args, message):
    """Issue 20 item 16: one `error:` line, exit 2, nothing written (not an empty table)."""
    _sweep(table, tmp_path / 'results')
    (tmp_path / 'afolder').mkdir()
    before = sorted(p for p in tmp_path.rglob('*'))
    r = _cli('abl', '--storage', str(tmp_path / 'results'), *args, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == '', r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and message in lines[0], r.stderr
    assert sorted(p for p in tmp_path.rglob('*')) == before


def test_rounds_table(table):
    df = tables.rounds_table(table)  # round 2: rand 2.1%, ripu 2.2% labelled -> 2.15 -> 2.1%
    assert list(df.index) == ['rand', 'ripu']
    assert list(df.columns) == ['1.0%_mean', '1.0%_std', '2.1%_mean', '2.1%_std', 'n']
    assert df.loc['ripu', '1.0%_mean'] == pytest.approx((10 + 20 + 99) / 3)
    assert df.loc['ripu', '2.1%_mean'] == pytest.approx(50.5)
    assert df.loc['ripu', '2.1%_std'] == pytest.approx(SD2)
    assert math.isnan(df.loc['rand', '1.0%_mean']) and df.loc['rand', 'n'] == 3
    only = tables.rounds_table(table, rounds=[2])
    assert [c for c in only.columns if c.endswith('_mean')] == ['2.1%_mean']
    text = tables.format_table(only)
    assert '| variant | 2.1% | n |' in text and f'50.50 ± {SD2:.2f}' in text
    with pytest.raises(ValueError, match='--rounds only applies'):
        tables.build_table('x', table='ablation', rounds=[1])
