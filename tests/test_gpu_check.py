"""benchmarks/gpu_check.py works before a GPU is lent: the --tiny run on the CPU (real configs,
real Runner, a scale-1/16 synthetic release) prints and writes its table with a row per section
and no failed row; a failing or overrunning section is one row and the table still prints."""
import importlib.util
import os.path as osp
import subprocess
import sys
import time

import pytest
from runner_utils import REPO

SCRIPT = osp.join(REPO, 'benchmarks', 'gpu_check.py')


def _module():
    spec = importlib.util.spec_from_file_location('gpu_check', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(text):
    rows = [line for line in text.splitlines() if line.startswith('| ')][1:]
    return [[cell.strip() for cell in line.strip('|').split('|')] for line in rows]


def _run(tmp_path, *args, timeout=900):
    out = tmp_path / 'gpu_check.md'
    done = subprocess.run([sys.executable, SCRIPT, '--tiny', '--out', str(out), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = out.read_text()
    assert text.strip() in done.stdout  # printed too
    return _rows(text), done.stdout


def _check(rows, sections):
    bad = [r for r in rows if r[-1].startswith(('failed', 'timed out'))]
    assert not bad, bad
    assert {r[0] for r in rows} >= set(sections)


def test_tiny_run_on_cpu_every_section(tmp_path):
    rows, stdout = _run(tmp_path, '--methods', 'source_only', 'adeada',
                        '--strategies', 'ripu_ra', 'adeada')
    _check(rows, {'release', 'floor', 'train', 'select', 'sweep'})
    train = {r[1]: r for r in rows if r[0] == 'train' and r[2] == 'off'}
    assert set(train) == {'source_only', 'adeada'}
    assert train['source_only'][5] == '1.00x' and train['adeada'][5].endswith('x')
    assert float(train['adeada'][4].split()[0]) > 0  # it/s
    assert {r[1] for r in rows if r[0] == 'floor'} == {'plain PyTorch loop, source-only network'}
    select = [r[1] for r in rows if r[0] == 'select']
    assert 'ripu/ripu_ra (RIPU-RA)' in select and 'adeada/adeada (ADeADA)' in select
    assert all(r[6].endswith('x') for r in rows if r[0] == 'select' and '/' in r[1])
    assert '] release / make_release: start' in stdout  # timestamped progress lines


@pytest.mark.slow
def test_tiny_run_on_cpu_every_method_and_strategy(tmp_path):
    gpu_check = _module()
    rows, _ = _run(tmp_path, timeout=1800)
    _check(rows, {'release', 'floor', 'train', 'select', 'sweep'})
    assert {r[1] for r in rows if r[0] == 'train' and r[2] == 'off'} == set(gpu_check.METHODS)
    strategies = sum(gpu_check.SELECT_ORDER.values(), [])
    done = [r[1].split(' ')[0].split('/')[1] for r in rows if r[0] == 'select' and '/' in r[1]]
    assert sorted(done) == sorted(strategies)


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_failing_and_overrunning_sections_are_rows(capsys):
    gpu_check = _module()
    report = gpu_check.Report(budget=600)

    def spin():
        end = time.perf_counter() + 60
        while time.perf_counter() < end:
            pass

    def fail():
        raise KeyError('no such thing')
    assert report.run('train', 'slow', 0.5 + 5, spin) is None  # capped at 5.5 s
    assert report.run('train', 'broken', 10, fail) is None
    assert report.run('train', 'fine', 10, lambda: 3) == 3
    rows = _rows(report.table())
    assert rows[0][1] == 'slow' and rows[0][-1].startswith('timed out: over its time cap of')
    assert rows[1][1] == 'broken' and "KeyError: 'no such thing'" in rows[1][-1]
    assert len(rows) == 2
    report.deadline = time.perf_counter()  # budget spent: skipped, not run
    assert report.run('select', 'late', 10, fail) is None
    assert _rows(report.table())[2][-1].startswith('skipped')


def test_amp_switches_every_optimiser_wrapper_of_every_method():
    from mmengine.config import Config
    gpu_check = _module()
    for method, path in gpu_check.METHODS.items():
        cfg = Config.fromfile(osp.join(REPO, path))
        gpu_check._amp(cfg)
        ow = cfg.optim_wrapper
        wrappers = [ow] if 'optimizer' in ow else [v for v in ow.values() if isinstance(v, dict)]
        assert wrappers and all(w['type'] == 'AmpOptimWrapper' and w['dtype'] == 'bfloat16'
                                for w in wrappers), method


def test_bad_out_folder_is_one_error_line(tmp_path):
    done = subprocess.run([sys.executable, SCRIPT, '--tiny', '--out',
                           str(tmp_path / 'missing' / 'x.md')], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f'error: --out {tmp_path / "missing" / "x.md"}: folder {tmp_path / "missing"} does '
        'not exist']
    assert list(tmp_path.iterdir()) == []
