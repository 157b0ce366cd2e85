"""benchmarks/bench_real_scale.py composes the real-scale benchmarks into one table: its
--tiny run on the CPU writes a row per pool strategy ranking and per label-store measurement,
with no failed section (train/select are gpu_check's sections, tested in test_gpu_check.py)."""
import os.path as osp
import subprocess
import sys

import pytest

from runner_utils import REPO

SCRIPT = osp.join(REPO, 'benchmarks', 'bench_real_scale.py')


def _rows(text):
    rows = [line for line in text.splitlines() if line.startswith('| ')][1:]
    return [[cell.strip() for cell in line.strip('|').split('|')] for line in rows]


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_tiny_rankings_and_store_sections(tmp_path):
    out = tmp_path / 'real_scale.md'
    done = subprocess.run([sys.executable, SCRIPT, '--tiny', '--only', 'rankings', 'store',
                           '--out', str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = out.read_text()
    assert 'load average' in text.splitlines()[2]
    rows = _rows(text)
    assert not [r for r in rows if r[-1].startswith(('failed', 'timed out'))]
    ranking = [r for r in rows if r[0] == 'rankings']
    strategies = {r[1].split(',')[0] for r in ranking if 'images' in r[1]}
    assert {'ADeADA', 'BADGE', 'CLUE', 'ReDAL', 'AADA', 'Pool-RAND'} <= strategies
    assert any('growth exponent' in r[-1] for r in ranking)
    assert any(r[1].startswith('ADeADA: region round') and r[6].endswith('x') for r in ranking)
    store = {r[1] for r in rows if r[0] == 'store'}
    assert {'delta + commit', 'rollback of 1 round'} <= store
