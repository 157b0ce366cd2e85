"""sweeps.tables --table compare on hand-made sweeps: paired differences, t intervals, wins,
n.s., AUBC normalisation, the three formats and bad input through the CLI."""
import io
import json
import math
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sweeps import stats as sweep_stats
from sweeps import tables
from sweeps.results import TrialResultWriter, make_row, rows_to_table

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
T975_2 = 4.302652729911275  # t.ppf(0.975, 2), from a table


def row(variant, seed, miou, round=2, is_final=True, status='ok', frac=0.022, iteration=None,
        trial=None, **params):
    return make_row(sweep='s', space='x', benchmark='synthshift', variant=variant,
                    trial_id=trial or f'{variant}-s{seed}' + ''.join(
                        f'-{k}{v}' for k, v in sorted(params.items())),
                    seed=seed, round=round,
                    iteration=iteration if iteration is not None else 100 * (round + 1),
                    status=status, is_final=is_final,
                    error='boom' if status == 'error' else None, labelled_fraction=frac,
                    params=params or None, metrics={'mIoU': miou},
                    reported_at=T0 + timedelta(seconds=seed))


FINAL = {'rand': (40.0, 42.0, 44.0),
         'ripu': (43.0, 44.0, 48.0),   # d = 3, 2, 4: significant
         'ent': (41.0, 41.0, 45.0),    # d = 1, -1, 1: n.s.
         'tie': (40.0, 43.0, 44.0)}    # d = 0, 1, 0: one win (strictly higher only)


def final_rows():
    rows = []
    for v, ms in FINAL.items():
        for s in (2, 0, 1):  # out of seed order: pairing is by seed, not by position
            rows.append(row(v, s, ms[s]))
    rows += [row('ripu', 3, 99.0),                          # no rand seed 3: unpaired
             row('ent', 5, 99.0, status='error'),           # errors never count
             row('ent', 6, 99.0, status='stopped'),         # nor stopped trials
             row('ripu', 0, 10.0, round=1, is_final=False)]  # not the final evaluation
    return rows


@pytest.fixture
def final_table():
    return rows_to_table(final_rows())


def test_paired_difference_ci_wins(final_table):
    df = tables.compare_table(final_table)
    assert df.attrs['against'] == 'rand' and df.attrs['aubc'] is None  # one fraction per trial
    assert list(df.index) == ['rand', 'ripu', 'ent', 'tie']  # first appearance
    assert 'aubc_mean' not in df.columns
    r = df.loc['ripu']
    assert r['miou_diff'] == pytest.approx(3.0)
    half = T975_2 * 1.0 / math.sqrt(3)  # sd of (3, 2, 4) is 1
    assert (r['miou_diff_low'], r['miou_diff_high']) == pytest.approx((3 - half, 3 + half))
    assert r['miou_wins'] == 3 and r['n'] == 3 and not r['miou_ns']
    assert r['miou_mean'] == pytest.approx((43 + 44 + 48 + 99) / 4)  # all its seeds
    e = df.loc['ent']
    sd = math.sqrt(4 / 3)  # of (1, -1, 1)
    assert e['miou_diff'] == pytest.approx(1 / 3)
    assert e['miou_diff_high'] - e['miou_diff'] == pytest.approx(T975_2 * sd / math.sqrt(3))
    assert e['miou_wins'] == 2 and e['n'] == 3 and e['miou_ns']
    t = df.loc['tie']
    assert t['miou_wins'] == 1 and t['miou_diff'] == pytest.approx(1 / 3) and t['miou_ns']
    ref = df.loc['rand']
    assert pd.isna(ref['miou_diff']) and pd.isna(ref['miou_wins']) and ref['n'] == 3
    assert df.attrs['note'] is None
    # the interval is scipy's paired t-test interval
    for v in ('ripu', 'ent', 'tie'):
        ci = stats.ttest_rel(FINAL[v], FINAL['rand']).confidence_interval(0.95)
        assert (df.loc[v, 'miou_diff_low'], df.loc[v, 'miou_diff_high']) == pytest.approx(
            (ci.low, ci.high))


def test_against_and_baseline_order(final_table):
    df = tables.compare_table(final_table, against='ripu')
    assert df.loc['rand', 'miou_diff'] == pytest.approx(-3.0)
    assert df.loc['rand', 'miou_wins'] == 0
    rows = [row(v, s, 40.0 + s + i) for i, v in enumerate(('rand_2.2%', 'ent_40px', 'rand_40px'))
            for s in range(2)]
    df = tables.compare_table(rows_to_table(rows),
                              variants=['ent_40px', 'rand_40px', 'ent_2.2%', 'rand_2.2%'])
    assert df.attrs['against'] == 'rand_40px'  # the first rand* in the sweep's order
    assert list(df.index) == ['ent_40px', 'rand_40px', 'rand_2.2%']
    assert sweep_stats.random_baseline(['ent', 'RANDOM', 'rand']) == 'RANDOM'
    with pytest.raises(ValueError, match=r"no random baseline.*variants: ent, ripu"):
        tables.compare_table(rows_to_table([row('ent', 0, 1.0), row('ripu', 0, 2.0)]))
    with pytest.raises(ValueError, match=r"--against 'nope'.*variants: rand, ripu, ent, tie"):
        tables.compare_table(final_table, against='nope')
    with pytest.raises(ValueError, match="'rand' has no finished trial"):
        tables.compare_table(rows_to_table([row('rand', 0, 1.0, status='error'),
                                            row('ripu', 0, 2.0)]))


def test_parameter_axes_pair_at_the_same_value():
    rows = [row(v, s, base + 10 * b + s * (v == 'ripu'), budget_ratio=b)
            for v, base in (('rand', 40.0), ('ripu', 42.0)) for b in (0.01, 0.02)
            for s in range(3)]
    df = tables.compare_table(rows_to_table(rows))
    assert df.index.names == ['variant', 'budget_ratio']
    assert list(df.index) == [('rand', 0.01), ('rand', 0.02), ('ripu', 0.01), ('ripu', 0.02)]
    assert df.loc[('ripu', 0.02), 'miou_diff'] == pytest.approx(2 + 1)  # d = 2, 3, 4
    assert df.loc[('ripu', 0.01), 'n'] == 3


def curve(variant, seed, points, **kw):
    """Evaluations (fraction, mIoU) of one trial, the last one final."""
    return [row(variant, seed, m, round=i, is_final=i == len(points) - 1, frac=f, **kw)
            for i, (f, m) in enumerate(points)]


CURVES = {'rand': [[(0.0, 30.0), (0.01, 40.0), (0.03, 44.0)],
                   [(0.0, 30.0), (0.01, 38.0), (0.03, 46.0)]],
          'ripu': [[(0.0, 30.0), (0.01, 44.0), (0.03, 50.0)],
                   [(0.0, 30.0), (0.01, 42.0), (0.03, 48.0)]]}
# trapezoid / range, by hand: 0.01 * (30 + 40) / 2 + 0.02 * (40 + 44) / 2 = 1.19 -> / 0.03
RAW = {'rand': [1.19 / 0.03, (0.34 + 0.84) / 0.03], 'ripu': [1.31 / 0.03, (0.36 + 0.90) / 0.03]}


def curve_rows(fully_supervised=True):
    rows = [r for v, cs in CURVES.items() for s, c in enumerate(cs) for r in curve(v, s, c)]
    # an earlier evaluation at the final fraction: the last one at a fraction counts
    rows.append(row('rand', 0, 10.0, round=5, is_final=False, frac=0.03, iteration=250,
                    trial='rand-s0'))
    if fully_supervised:
        rows += [row('fully_supervised', s, m, round=0, frac=1.0) for s, m in ((0, 69.0),
                                                                               (1, 71.0))]
    return rows


def test_aubc_normalised_to_start_and_fully_supervised():
    df = tables.compare_table(rows_to_table(curve_rows()))
    info = df.attrs['aubc']
    assert info['normalised'] and 'fully_supervised' in info['text']
    assert '0 = start (mIoU 30.00, labelled fraction 0)' in info['text']
    norm = {v: [(x - 30.0) / (70.0 - 30.0) for x in raw] for v, raw in RAW.items()}
    assert df.loc['rand', 'aubc_mean'] == pytest.approx(np.mean(norm['rand']))
    assert df.loc['rand', 'aubc_std'] == pytest.approx(np.std(norm['rand'], ddof=1))
    assert df.loc['ripu', 'aubc_mean'] == pytest.approx(np.mean(norm['ripu']))
    d = np.subtract(norm['ripu'], norm['rand'])
    assert df.loc['ripu', 'aubc_diff'] == pytest.approx(((131 - 119) + (126 - 118)) / 3 / 40 / 2)
    half = stats.t.ppf(0.975, 1) * np.std(d, ddof=1) / math.sqrt(2)
    assert df.loc['ripu', 'aubc_diff_low'] == pytest.approx(d.mean() - half)
    assert df.loc['ripu', 'aubc_wins'] == 2 and df.loc['ripu', 'aubc_n'] == 2
    assert pd.isna(df.loc['fully_supervised', 'aubc_mean'])  # one fraction: no curve
    assert df.loc['fully_supervised', 'miou_diff'] == pytest.approx(70 - 45)
    assert (df['aubc_scale'] == '0 = start, 1 = fully_supervised').all()


def test_aubc_without_fully_supervised_is_not_normalised():
    rows = [r for r in curve_rows(fully_supervised=False)
            if r['labelled_fraction'] != 0.0]  # and no source-only row: first evaluations
    df = tables.compare_table(rows_to_table(rows))
    info = df.attrs['aubc']
    assert not info['normalised'] and 'not normalised (no fully supervised row)' in info['text']
    raw = {'rand': [0.02 * 84 / 2 / 0.02, 0.02 * 84 / 2 / 0.02],
           'ripu': [0.02 * 94 / 2 / 0.02, 0.02 * 90 / 2 / 0.02]}  # means over [1%, 3%]
    assert df.loc['rand', 'aubc_mean'] == pytest.approx(42.0)
    assert df.loc['ripu', 'aubc_mean'] == pytest.approx(np.mean(raw['ripu']))
    assert df.loc['ripu', 'aubc_diff'] == pytest.approx(4.0)
    md = tables.format_table(df, 'markdown')
    assert 'AUBC (mIoU, not normalised)' in md.splitlines()[2]
    assert 'not normalised (no fully supervised row)' in md.splitlines()[0]
    low = rows + [row('oracle', s, 35.0, round=0, frac=1.0) for s in range(2)]  # below the start
    info = tables.compare_table(rows_to_table(low)).attrs['aubc']
    assert not info['normalised']
    assert 'oracle mIoU 35.00 is not above the start 41.00' in info['text']


def test_formats(final_table):
    df = tables.compare_table(final_table)
    md = tables.format_table(df, 'markdown').splitlines()
    assert md[0].startswith('Paired by seed against rand') and 'n.s.' in md[0] and md[1] == ''
    assert md[2] == '| variant | mIoU | Δ mIoU | 95% CI | wins | n |'
    assert md[3] == '|:---|---:|---:|---:|---:|---:|'
    lo, hi = 3 - T975_2 / math.sqrt(3), 3 + T975_2 / math.sqrt(3)
    assert md[4] == '| rand | 42.00 ± 2.00 | reference | - | - | 3 |'
    assert md[5] == f'| ripu | 58.50 ± 27.09 | +3.00 | [{lo:.2f}, {hi:.2f}] | 3/3 | 3 |'
    assert md[6].startswith('| ent | 42.33 ± 2.31 | +0.33 n.s. | [')
    assert md[7].startswith('| tie |') and md[7].endswith('| 1/3 | 3 |')
    tex = tables.format_table(df, 'latex')
    assert tex.startswith('% Paired by seed against rand')
    assert r'\begin{tabular}{lrrrrr}' in tex and r'\bottomrule' in tex
    assert r'variant & mIoU & $\Delta$ mIoU & 95\% CI & wins & n \\' in tex
    assert rf'ripu & 58.50 $\pm$ 27.09 & +3.00 & [{lo:.2f}, {hi:.2f}] & 3/3 & 3 \\' in tex
    assert 'Δ' not in tex and '±' not in tex
    csv = tables.format_table(df, 'csv')
    back = pd.read_csv(io.StringIO(csv))
    assert list(back.columns) == ['variant', 'miou_mean', 'miou_std', 'miou_diff',
                                  'miou_diff_low', 'miou_diff_high', 'miou_wins', 'miou_ns', 'n',
                                  'against']
    r = back.set_index('variant').loc['ripu']
    assert (r['miou_diff'], r['miou_diff_low'], r['miou_wins'], r['n']) == pytest.approx(
        (3.0, lo, 3, 3), abs=1e-5)
    assert back.set_index('variant').loc['ent', 'miou_ns'] == True  # noqa: E712
    curves = tables.compare_table(rows_to_table(curve_rows()))
    md = tables.format_table(curves, 'markdown').splitlines()
    assert md[2] == ('| variant | mIoU | Δ mIoU | 95% CI | wins | AUBC | Δ AUBC | AUBC 95% CI '
                     '| AUBC wins | n |')
    assert md[5] == ('| ripu | 49.00 ± 1.41 | +4.00 n.s. | [-21.41, 29.41] | 2/2 | 0.321 ± 0.029 '
                     '| +0.083 n.s. | [-0.128, 0.295] | 2/2 | 2 |')
    assert md[6].startswith('| fully_supervised | 70.00 ± 1.41 | +25.00 | [25.00, 25.00] | 2/2 '
                            '| - | - | - | - |')
    assert 'aubc_scale' in tables.format_table(curves, 'csv').splitlines()[0]
    assert r'AUBC 95\% CI' in tables.format_table(curves, 'latex')


def _cli(*args, cwd):
    return subprocess.run([sys.executable, os.path.join(REPO, 'sweeps', 'tables.py'), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=60)


def _main(capsys, *args):
    """tables.main in this process (the CLI minus interpreter start): (rc, stdout, stderr)."""
    rc = tables.main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def _sweep(storage, name, rows, variants=None):
    w = TrialResultWriter(storage / name)
    for tid in dict.fromkeys(r['trial_id'] for r in rows):
        w.write_trial(tid, [r for r in rows if r['trial_id'] == tid])
    w.compact()
    if variants:
        (storage / name / 'sweep.json').write_text(json.dumps({'variants': variants}))


def test_cli(tmp_path, capsys):
    storage = tmp_path / 'results'
    _sweep(storage, 'cmp', final_rows(), variants=['rand', 'ripu', 'ent', 'tie'])
    _sweep(storage, 'norand', [row(v, s, 40.0 + s) for v in ('ent', 'ripu') for s in range(2)])
    _sweep(storage, 'one', [row(v, 0, m) for v, m in (('rand', 40.0), ('ripu', 41.0))])
    _sweep(storage, 'curves', curve_rows())
    st = ('--storage', str(storage))
    before = sorted(tmp_path.rglob('*'))
    r = _cli('cmp', '--table', 'compare', '--against', 'nope', *st, cwd=tmp_path)  # real process
    assert r.returncode == 2 and r.stdout == ''
    assert r.stderr == ("error: --against 'nope': the sweep has no such variant "
                        "(variants: rand, ripu, ent, tie)\n")
    for args, words in ((('norand', '--table', 'compare'),
                         ['no random baseline', 'ent, ripu', '--against']),
                        (('cmp', '--table', 'ablation', '--against', 'rand'), ['--against']),
                        (('nope', '--table', 'compare'), ['nope', 'cmp'])):
        rc, out, err = _main(capsys, *args, *st)
        assert rc == 2 and out == '', (args, err)
        assert len(err.strip().splitlines()) == 1 and err.startswith('error: ')
        assert all(w in err for w in words), err
    assert sorted(tmp_path.rglob('*')) == before  # nothing written
    rc, out, err = _main(capsys, 'cmp', '--table', 'compare', *st)
    assert rc == 0 and err == '', err
    lines = out.splitlines()
    assert [ln.split(' | ')[0] for ln in lines[4:]] == ['| rand', '| ripu', '| ent', '| tie']
    rc, out, err = _main(capsys, 'norand', '--table', 'compare', '--against', 'ent',
                         '--format', 'csv', *st)
    assert rc == 0 and out.splitlines()[2].startswith('ripu,40.5,')
    r = _cli('one', '--table', 'compare', *st, cwd=tmp_path)  # fewer than 2 seeds
    assert r.returncode == 0 and r.stderr.startswith('note: ')
    assert len(r.stderr.strip().splitlines()) == 1 and 'confidence interval' in r.stderr
    assert '| ripu | 41.00 | +1.00 | - | 1/1 | 1 |' in r.stdout
    for fmt, head in (('markdown', '| AUBC |'), ('latex', r'& AUBC &'), ('csv', ',aubc_mean,')):
        rc, out, err = _main(capsys, 'curves', '--table', 'compare', '--format', fmt, *st)
        assert rc == 0 and err == '' and head in out, (fmt, err)
