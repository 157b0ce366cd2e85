"""benchmarks/bench_pool_rankings.py in --tiny mode: every pool strategy ranked at 3 sizes with
growth exponents, and a round (inference + region statistics) per strategy."""
import importlib.util
import math
import os.path as osp

import torch

PATH = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'benchmarks',
                'bench_pool_rankings.py')


def _bench():
    spec = importlib.util.spec_from_file_location('bench_pool_rankings', PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_rows():
    bench = _bench()
    rows = bench.run('cpu', tiny=True, repeats=1, log=lambda *_: None)
    ranking = [r for r in rows if r['part'] == 'ranking']
    assert len(ranking) == 3 * len(bench.STRATEGIES)
    for name in bench.STRATEGIES:
        mine = [r for r in ranking if r['strategy'] == name]
        assert [r['images'] for r in mine] == list(bench.TINY['sizes'])
        assert all(r['seconds'] > 0 and r['picks'] > 0 for r in mine), name
        assert all(math.isfinite(r['exponent']) for r in mine[1:]), name
        assert (mine[0]['source_regions'] > 0) == (name in ('AADA', 'ADeADA')), name
    rounds = {r['strategy']: r for r in rows if r['part'] == 'round'}
    assert set(rounds) == set(bench.STRATEGIES)
    assert all(r['ratio'] >= 1 and r['rows_on_device'] == 'cpu' for r in rounds.values())
    assert rounds['BADGE']['grad'] and not rounds['ADeADA']['grad']
    assert sum(r['part'] == 'inference' for r in rows) == 1


def test_synthetic_pool_shapes():
    pool = _bench().synthetic_pool(3, dim=8, grad=True)
    assert len(pool) == 120 and pool.feats.shape == (120, 8) and pool.grad.shape == (120, 19 * 8)
    assert torch.allclose(pool.probs.sum(1), torch.ones(120))
