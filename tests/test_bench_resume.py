"""benchmarks/bench_resume.py --tiny runs end to end: rows for seek and replay at an early and a
late iteration (no timing asserted)."""
import importlib.util
import os.path as osp

import pytest
from runner_utils import REPO


def _bench():
    spec = importlib.util.spec_from_file_location(
        'bench_resume', osp.join(REPO, 'benchmarks', 'bench_resume.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_bench_resume_tiny_prints_a_row_per_way_and_iteration(capsys):
    assert _bench().main(['--tiny', '--early', '1', '--late', '4', '--workers', '0',
                              '--repeats', '1']) == 0
    out = capsys.readouterr().out
    assert 'load average' in out
    for item in ('seek at iteration 1', 'seek at iteration 4', 'replay at iteration 1',
                 'replay at iteration 4'):
        assert f'| {item} | ' in out


def test_bench_resume_checks_its_iterations():
    with pytest.raises(ValueError, match='early 5, late 5; expected 0 < early < late'):
        _bench().run(tiny=True, early=5, late=5)
