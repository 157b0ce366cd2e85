"""benchmarks/bench_selection_round.py --tiny: a row per image strategy and one for ADA-MCU's
purchase, each with its inference, selection and ratio measured in the same run (no timing is
asserted), and run(device, tiny) for other benchmarks."""
import importlib.util
import math
import os.path as osp

import pytest
from runner_utils import REPO

SCRIPT = osp.join(REPO, 'benchmarks', 'bench_selection_round.py')


def _module():
    spec = importlib.util.spec_from_file_location('bench_selection_round', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_has_a_row_per_strategy(capsys):
    bench = _module()
    rows = bench.main(['--tiny', '--images', '2'])
    items = [r['item'] for r in rows]
    assert items == [name for name, _, _ in bench.STRATEGIES] + ['ADA-MCU purchase']
    for r in rows:
        assert r['device'] == 'cpu' and r['images'] == 2 and r['size'] == '64x128'
        assert r['inference_s'] > 0 and math.isfinite(r['ratio']) and r['ratio'] > 0
        if r['item'] != 'ADA-MCU purchase':  # (its selection is a difference of two timings)
            assert r['select_s'] >= 0 and r['ratio'] >= 1
    assert rows[-1]['bought'] > 0
    out = capsys.readouterr().out
    assert '| RIPU-RA | cpu | 2 | 64x128 |' in out and 'load average' in out


def test_bad_device_is_one_line():
    with pytest.raises(ValueError, match='device must be cpu or cuda'):
        _module().run('tpu', tiny=True)
