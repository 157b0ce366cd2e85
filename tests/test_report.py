"""sweeps/report.py: the HTML page of a hand-made sweep folder (real Parquet, a real label store),
bad input through the CLI, and (headless Chromium) that the page renders offline without
console messages with its tables and images; the slow test does the same on a real tiny sweep."""
import base64
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

from sweeps import report, report_html
from sweeps.results import TrialResultWriter, make_row

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)
CHROMIUM = shutil.which('chromium')
needs_chromium = pytest.mark.skipif(
    not CHROMIUM and not os.environ.get('CI'),
    reason="Debian's chromium is not installed (apt-get install chromium); CI installs it")

SPACE = '''"""A hand-made space for the report test.

Second paragraph of the description."""
from sweeps.space import Space, Variant
from sweeps.spaces.rows import RIPU_ROWS, with_knobs
SPACE = Space(name='handmade', description=__doc__, seeds=3, variants={
    'rand': RIPU_ROWS['rand_region'], 'ripu': RIPU_ROWS['ripu_ra'],
    'oracle': RIPU_ROWS['target_oracle'], 'boom': with_knobs(RIPU_ROWS['ripu_ra'], lr=1e12)})
'''
FINAL = {'rand': (40.0, 42.0, 44.0), 'ripu': (45.0, 46.0, 49.0)}
FRACTIONS = (0.0, 0.01, 0.02)


def _row(variant, seed, rnd, miou, final=False, status='ok', frac=0.0, **kw):
    return make_row(sweep='abl', space='handmade', benchmark='synthshift', variant=variant,
                    trial_id=f'{variant}-s{seed}', seed=seed, round=rnd, iteration=10 * (rnd + 1),
                    status=status, is_final=final, labelled_fraction=frac,
                    metrics={} if miou is None else {
                        'mIoU': miou, 'IoU.road': miou + 40, 'IoU.car': miou - 10,
                        'IoU.bus': float('nan')},
                    wall_seconds=30.0 * (rnd + 1), train_seconds=25.0 * (rnd + 1),
                    hostname='hostA', device='cpu', git_rev='abc1234',
                    reported_at=T0 + timedelta(minutes=seed * 10 + rnd), **kw)


def _store(work, data, seed):
    """A real ActiveLabelStore with two rounds over two 16x32 target images."""
    from mmseg_ext.active.label_store import ActiveLabelStore
    rng = np.random.default_rng(seed)
    items = []
    for i in range(2):
        gt = data / 'labels' / f'img{i}_labelTrainIds.png'
        img = data / 'images' / f'img{i}.png'
        for p in (gt, img):
            p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 19, (16, 32), dtype=np.uint8)).save(gt)
        Image.fromarray(rng.integers(0, 255, (16, 32, 3), dtype=np.uint8)).save(img)
        items.append((gt.name, str(gt)))
    store = ActiveLabelStore(work / 'active_labels')
    store.initialise(items)
    for rnd in range(2):
        deltas = {}
        for rel, _ in items:
            pick = np.zeros((16, 32), bool)
            pick[2 + 6 * rnd:5 + 6 * rnd, 4 + 8 * rnd:8 + 8 * rnd] = True
            deltas[rel] = store.delta(rel, pick, pick, units=1)
        store.commit_round(rnd, 10 * (rnd + 1), deltas, strategy='test')


def make_sweep(root, seeds=(0, 1, 2), variants=('rand', 'ripu', 'oracle', 'boom'),
               with_space_record=True):
    """<root>/results/abl: a finished hand-made sweep with every file run.py writes."""
    sweep = root / 'results' / 'abl'
    writer = TrialResultWriter(sweep)
    for v in [v for v in variants if v in FINAL]:
        for s in seeds:
            end = FINAL[v][s]
            rows = [_row(v, s, r, 20.0 + 5 * r + s, frac=f) for r, f in enumerate(FRACTIONS)]
            rows.append(_row(v, s, 3, end, final=True, frac=0.03))
            writer.write_trial(f'{v}-s{s}', rows)
            _store(sweep / 'work' / f'{v}-s{s}', root / 'data' / f'{v}{s}', s)
    if 'oracle' in variants:
        for s in seeds:
            writer.write_trial(f'oracle-s{s}', [_row('oracle', s, 0, 60.0 + s, final=True,
                                                     frac=1.0)])
    if 'boom' in variants:
        writer.write_trial('boom-s0', [_row('boom', 0, 0, 20.0), _row(
            'boom', 0, 1, None, status='error',
            error='RuntimeError: non-finite training loss (nan) at iteration 20')])
    writer.compact()
    space = root / 'handmade_space.py'
    space.write_text(SPACE)
    if with_space_record:  # as run.py keeps it when the sweep starts
        from sweeps.folder import write_space_record
        from sweeps.spaces import load_space
        write_space_record(str(sweep), load_space(str(space)))
    (sweep / 'sweep.json').write_text(json.dumps(dict(
        name='abl', space='handmade', benchmark='synthshift', search='grid', scheduler='fifo',
        variants=list(variants), sets={}, git_rev='abc1234')))
    (sweep / 'plan.json').write_text(json.dumps(dict(fingerprint=dict(
        space='handmade', variants={v: dict(config='ripu_ra', configs='ripu', knobs={})
                                    for v in variants}, axes={}, seeds=len(seeds)),
        git_rev='abc1234')))
    argv = ['--space', str(space), '--storage', str(root / 'results'), '--name', 'abl']
    (sweep / 'history.jsonl').write_text(''.join(json.dumps(h) + '\n' for h in [
        dict(event='start', time='2026-01-01T09:00:00+0000', git_rev='abc1234', host='hostA',
             argv=argv),
        dict(event='resume', time='2026-01-01T09:40:00+0000', git_rev='abc1234', host='hostA',
             argv=argv)]))
    return sweep


def _images(page):
    """The decoded PNGs of the page's <img> tags (every src must be a PNG data URI)."""
    srcs = re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)
    out = []
    for src in srcs:
        assert src.startswith('data:image/png;base64,'), src[:60]
        out.append(Image.open(io.BytesIO(base64.b64decode(src.split(',', 1)[1]))))
    return out


def _self_contained(page):
    low = page.lower()
    for bad in ('http://', 'https://', '<script', 'url(', 'rel="stylesheet"', '@import',
                'src="file:', 'src="/'):
        assert bad not in low, bad


def test_page_of_a_handmade_sweep(tmp_path):
    sweep = make_sweep(tmp_path)
    page = report.build_report(str(sweep))
    _self_contained(page)
    assert page.startswith('<!DOCTYPE html>') and '<style>' in page
    # description, command, revision, machine, dates, times
    assert 'A hand-made space for the report test.' in page
    assert 'Second paragraph of the description.' in page
    assert f'python sweeps/run.py --space {tmp_path / "handmade_space.py"}' in page
    assert '<code>abc1234</code>' in page and 'hostA (cpu)' in page
    assert '2026-01-01 09:00:00 UTC' in page and '2026-01-01 09:40:00 UTC' in page
    # 6 active trials of 120 s, 3 oracle trials of 30 s, boom's largest 60 s
    assert '14 min 30 s of trial time' in page
    assert '10 (9 ok, 1 error)' in page
    # the space's table (ablation) and the paired comparison
    assert '<td class="key">rand</td><td class="num">42.00 ± 2.00</td>' in page
    assert '<td class="key">ripu</td><td class="num">46.67 ± 2.08</td>' in page
    assert 'Paired by seed against rand' in page and 'AUBC' in page
    assert '<td class="num">+4.67</td>' in page  # (5 + 4 + 5) / 3, no n.s.
    assert 'no confidence intervals' not in page
    # the plots and the two selection drawings
    imgs = _images(page)
    assert len(imgs) == 4 and all(im.format == 'PNG' and im.width > 200 for im in imgs)
    assert 'Not drawn (fully supervised, labelled fraction 1.0): oracle' in page
    assert 'Best: ripu (mean final mIoU 46.67)' in page
    assert 'Worst: rand (mean final mIoU 42.00)' in page
    assert 'trial ripu-s0, seed 0' in page and 'img0' in page
    assert 'skipped: oracle' in page
    # the errored trial and its reason
    assert 'non-finite training loss (nan) at iteration 20' in page
    assert '<td class="key">boom-s0</td>' in page


def test_one_seed_and_no_random_baseline_say_so(tmp_path):
    one = make_sweep(tmp_path / 'a', seeds=(0,))
    page = report.build_report(str(one))
    assert 'has 1 seed per variant' in page and 'no confidence intervals' in page
    assert 'Paired by seed against rand' in page  # the table, without intervals
    assert 'bands: ± one std over seeds (none: one seed per variant).' in page
    norand = make_sweep(tmp_path / 'b', variants=('ripu', 'oracle'))
    page = report.build_report(str(norand))
    assert 'No paired comparison: no random baseline' in page
    assert 'Best: ripu' in page and 'Worst:' not in page  # one variant with a store
    assert 'No trial errored.' in page
    page = report.build_report(str(norand), against='oracle')
    assert 'Paired by seed against oracle' in page


MARKER_SPACE = '''"""A space file that leaves a mark when it is run."""
import pathlib
pathlib.Path({marker!r}).write_text('ran')
from sweeps.space import Space
from sweeps.spaces.rows import RIPU_ROWS
SPACE = Space(name='handmade', description=__doc__, seeds=1,
              variants={{'rand': RIPU_ROWS['rand_region'], 'ripu': RIPU_ROWS['ripu_ra']}})
'''


@pytest.mark.parametrize('record', [True, False], ids=['space.json', 'older-folder'])
@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_rendering_a_report_runs_no_space_file(tmp_path, record):
    """Issue 20 item 9: a received sweep folder names a space file in history.jsonl; rendering
    its report reads data only. With space.json the description and table come from there; an
    older folder without it gets no description, and the file is not run either way."""
    sweep = make_sweep(tmp_path, with_space_record=record)
    marker = tmp_path / 'marker'
    (tmp_path / 'handmade_space.py').write_text(MARKER_SPACE.format(marker=str(marker)))
    out = tmp_path / 'r.html'
    r = subprocess.run([sys.executable, os.path.join(REPO, 'sweeps', 'report.py'), str(sweep),
                        '--out', str(out)], capture_output=True, text=True, timeout=300,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not marker.exists()
    page = out.read_text()
    if record:
        assert 'Second paragraph of the description.' in page
    else:
        assert 'space.json' in page and 'is not run' in page and '(no description)' in page
    assert '<td class="key">ripu</td><td class="num">46.67 ± 2.08</td>' in page


def test_an_older_folder_of_a_project_space_reads_its_source_without_running_it(tmp_path):
    """No space.json, sweep.json names a project space: its description and table kind are read
    from its syntax tree (adeada_ablation: table 'rounds' at rounds 1, 3, 5)."""
    sweep = make_sweep(tmp_path, with_space_record=False)
    info = json.loads((sweep / 'sweep.json').read_text())
    (sweep / 'sweep.json').write_text(json.dumps(dict(info, space='adeada_ablation')))
    (sweep / 'history.jsonl').unlink()
    page = report.build_report(str(sweep))
    assert 'ADeADA' in page and 'an older adasweep made it' in page
    assert '--table rounds --rounds 1 3 5' in page


def test_credentials_in_the_history_are_masked_in_the_page(tmp_path):
    """Issue 20 item 10: an older history.jsonl holding a tracking URI with a password and a
    token-like query parameter; the page shows neither."""
    sweep = make_sweep(tmp_path, with_space_record=False)
    hist = [json.loads(line) for line in (sweep / 'history.jsonl').read_text().splitlines()]
    for h in hist:
        h['argv'] += ['--tracking', 'mlflow', '--tracking-uri',
                      'https://alice:s3cret@mlflow.example:5000/?token=tk9zq7&x=1']
    (sweep / 'history.jsonl').write_text(''.join(json.dumps(h) + '\n' for h in hist))
    page = report.build_report(str(sweep))
    assert 's3cret' not in page and 'tk9zq7' not in page and 'alice' not in page
    assert 'https://***@mlflow.example:5000/?token=***&amp;x=1' in page


@pytest.mark.parametrize('seconds, text', [(299.6, '5 min 00 s'), (3599.7, '1 h 00 min'),
                                           (7199.9, '2 h 00 min'), (90.0, '1 min 30 s'),
                                           (5399.0, '1 h 30 min')])
def test_durations_never_show_60_in_the_lower_unit(seconds, text):
    assert report_html.duration(seconds) == text


def test_markdown_to_html():
    text = ('A caption with <b> & | pipes.\n\n| variant | Δ mIoU |\n|:---|---:|\n'
            '| a\\|b | +1.00 n.s. |\n| c | reference |\n')
    got = report_html.markdown_to_html(text)
    assert got.startswith('<p class="caption">A caption with &lt;b&gt; &amp; | pipes.</p>')
    assert '<th class="key">variant</th><th class="num">Δ mIoU</th>' in got
    assert '<td class="key">a|b</td><td class="num ns">+1.00 n.s.</td>' in got
    assert got.count('<tr>') == 3


def _tree(root):
    return sorted(str(p) for p in root.rglob('*'))


@pytest.mark.parametrize('case', ['missing', 'unreadable', 'no_folder', 'against', 'bad_json'])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, capsys, case):
    sweep = make_sweep(tmp_path)
    out, name, extra = tmp_path / 'report.html', str(sweep), []
    if case == 'missing':
        name = 'nope'
        extra = ['--storage', str(tmp_path / 'results')]
    elif case == 'unreadable':
        for p in (sweep / 'trials').iterdir():
            p.unlink()
        (sweep / 'results.parquet').write_bytes(b'not parquet at all')
    elif case == 'no_folder':
        out = tmp_path / 'no' / 'such' / 'report.html'
    elif case == 'against':
        extra = ['--against', 'nope']
    else:
        (sweep / 'sweep.json').write_text('{not json')
    before = _tree(tmp_path)
    code = report.main([name, '--out', str(out), *extra])
    err = capsys.readouterr()
    assert code == 2 and err.out == ''
    lines = err.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), err.err
    expect = {'missing': "results/nope' (known sweeps", 'unreadable': 'not a readable Parquet file',
              'no_folder': 'does not exist', 'against': "--against 'nope'",
              'bad_json': 'sweep.json'}[case]
    assert expect in lines[0]
    assert _tree(tmp_path) == before  # nothing written


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_cli_writes_one_file(tmp_path):
    make_sweep(tmp_path)
    out = tmp_path / 'out' / 'r.html'
    out.parent.mkdir()
    r = subprocess.run([sys.executable, os.path.join(REPO, 'sweeps', 'report.py'), 'abl',
                        '--storage', str(tmp_path / 'results'), '--out', str(out)],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f'wrote {out}')
    assert os.listdir(out.parent) == ['r.html']
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes it, not mkstemp's


# ---- headless Chromium ------------------------------------------------------------------------

def chromium(url, tmp, *args):
    """Run headless Chromium on `url` (offline: no network services, a fresh profile); returns
    (stdout, the page's console messages)."""
    cmd = [CHROMIUM or 'chromium', '--headless', '--no-sandbox', '--disable-gpu',
           '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--disable-extensions',
           f'--user-data-dir={tmp}', '--enable-logging=stderr', '--v=0', *args, url]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its renderer and GPU processes too
        proc.communicate()
        raise
    assert proc.returncode == 0, err[-3000:]
    console = [line for line in err.splitlines() if ':CONSOLE' in line]
    return out, console


def check_in_browser(html_path, tmp, min_tables, min_images):
    """The page renders: Chromium's DOM has the tables and images, no console message, and a
    screenshot (kept in `tmp`) that is not blank."""
    url = f'file://{html_path}'
    dom, console = chromium(url, tmp / 'profile-dom', '--dump-dom')
    assert console == [], console
    assert dom.count('<table') >= min_tables and dom.count('<img') >= min_images
    assert 'Paired comparison' in dom and 'Errored trials' in dom
    shot = tmp / 'shot.png'
    _, console = chromium(url, tmp / 'profile-shot', f'--screenshot={shot}',
                          '--window-size=1280,2400', '--hide-scrollbars')
    assert console == [], console
    pixels = np.asarray(Image.open(shot).convert('RGB'))
    assert pixels.shape == (2400, 1280, 3)
    assert len(np.unique(pixels.reshape(-1, 3)[::97], axis=0)) > 50  # text, tables, plots
    return shot


@needs_chromium
def test_chromium_reports_console_errors(tmp_path):
    """The check itself: a page with a script error is caught."""
    bad = tmp_path / 'bad.html'
    bad.write_text('<!DOCTYPE html><html><body><script>console.error("boom"); nope();'
                   '</script></body></html>')
    _, console = chromium(f'file://{bad}', tmp_path / 'profile', '--dump-dom')
    assert any('boom' in line for line in console) and any('nope' in line for line in console)


@needs_chromium
def test_handmade_report_renders_in_chromium(tmp_path):
    sweep = make_sweep(tmp_path)
    out = tmp_path / 'report.html'
    assert report.main([str(sweep), '--out', str(out)]) == 0
    shot = check_in_browser(out, tmp_path, min_tables=6, min_images=4)
    assert shot.is_file()


# ---- a real sweep -----------------------------------------------------------------------------

TINY_SPACE = '''"""A tiny space for the report test: random vs RIPU regions, and the oracle."""
from sweeps.space import Space, Variant
from sweeps.spaces.rows import RIPU_ROWS, with_knobs
SPACE = Space(name='tiny', description=__doc__, seeds=1, variants={
    'rand': with_knobs(RIPU_ROWS['rand_region'], max_iters=20),
    'f_ripu': with_knobs(RIPU_ROWS['ripu_ra'], max_iters=20),
    'oracle': with_knobs(RIPU_ROWS['target_oracle'], max_iters=20),
})
'''


@pytest.mark.slow
@needs_chromium
def test_report_of_a_real_sweep_in_chromium(tmp_path, synthshift_root):
    space = tmp_path / 'tiny_space.py'
    space.write_text(TINY_SPACE)
    storage = tmp_path / 'results'
    env = dict(os.environ, ADASWEEP_DATA=os.path.dirname(synthshift_root),
               PYTHONWARNINGS='ignore', RAY_DEDUP_LOGS='0')
    run = subprocess.run([sys.executable, 'sweeps/run.py', '--space', str(space), '--storage',
                          str(storage), '--name', 'tiny', '--seeds', '2'], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = tmp_path / 'report.html'
    r = subprocess.run([sys.executable, 'sweeps/report.py', 'tiny', '--storage', str(storage),
                        '--out', str(out)], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    page = out.read_text()
    _self_contained(page)
    assert 'A tiny space for the report test' in page
    assert f'python sweeps/run.py --space {space}' in page and '--seeds 2' in page
    assert 'Paired by seed against rand' in page and '95% CI' in page
    assert 'no confidence intervals' not in page  # 2 seeds: intervals
    assert re.search(r'<td class="num( ns)?">[+-]\d+\.\d\d( n\.s\.)?</td><td class="num">'
                     r'\[-?\d+\.\d\d, -?\d+\.\d\d\]</td>', page)
    assert 'Not drawn (fully supervised, labelled fraction 1.0): oracle' in page
    assert 'skipped: oracle' in page
    assert re.search(r'Best: (rand|f_ripu)', page) and re.search(r'Worst: (rand|f_ripu)', page)
    imgs = _images(page)
    assert len(imgs) == 4  # budget curve, heatmap, best and worst selections
    assert 'No trial errored.' in page
    check_in_browser(out, tmp_path, min_tables=4, min_images=4)


def test_the_published_warmup_checkpoint_is_shown(tmp_path):
    """Which checkpoint of each warm-up the trials start from (warmup.json, written when the
    warm-up is published) is a line of the page, found through configs.json, read in the
    sweep's storage even when configs.json has the paths of another machine."""
    sweep = make_sweep(tmp_path)
    (sweep / 'configs.json').write_text(json.dumps({
        'ripu': dict(load_from='/elsewhere/results/warmup/synthshift-advent-0123/warmup.pth'),
        'rand': dict(load_from='/elsewhere/results/warmup/synthshift-warmup-4567/warmup.pth')}))
    folder = tmp_path / 'results' / 'warmup' / 'synthshift-advent-0123'
    folder.mkdir(parents=True)
    (folder / 'warmup.json').write_text(json.dumps(dict(publish='best', iteration=4000,
                                                        mIoU=41.234, path='best.pth')))
    page = report.build_report(str(sweep))
    assert ('<code>synthshift-advent-0123</code>: the best validation checkpoint: iteration '
            '4000, mIoU 41.23') in page
    assert '<code>synthshift-warmup-4567</code>: not recorded (no warmup.json)' in page
