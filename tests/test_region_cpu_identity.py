"""CPU bit-identity of the pool strategies' picks across the device-generic rewrite (region
rows on the model's device, closed-form BADGE embeddings, gmm_backend='auto', ReDAL's
n_clusters option): a fixed pool built through region_pool.pool_rows, and the picks of every
strategy's default path (ReDAL with n_clusters='budget', the former count), compared with the
picks of the code before the change (main at e371b40, same script)."""
import hashlib

import pytest
import torch

from mmseg_ext.active.region_pool import EDGES, FEATS, GRAD, RegionPool, pool_rows
from mmseg_ext.active.strategies import build_strategy
from mmseg_ext.active.units import grid_segments

# (number of picks, sha256[:16] of str(list of picks)) from main e371b40
BEFORE = {
    'Pool-RAND': (48, 'b42df51770f48de6'), 'Pool-ENT': (48, '0d086514630ead76'),
    'Pool-CONF': (48, 'a5a91aeb5206e22d'), 'Pool-MAR': (48, '021da18eb917a627'),
    'AADA': (48, '0e10231614bf8912'), 'CLUE': (48, '64da0627ea34623b'),
    'BADGE': (48, 'fb5c6cf5789b4296'), 'ReDAL': (48, 'b824639de9439560'),
    'ADeADA': (48, '930a6bb26f3f6ec7'), 'ADeADA-flat': (48, '0f96b83ee61f9d51'),
}
CASES = [('Pool-RAND', {}), ('Pool-ENT', {}), ('Pool-CONF', {}), ('Pool-MAR', {}),
         ('AADA', {}), ('CLUE', {}), ('BADGE', {}), ('ReDAL', {'n_clusters': 'budget'}),
         ('ADeADA', {}),
         ('ADeADA-flat', {'alpha': 0.5, 'beta': 0.0, 'category_balance': False})]


def make_pool(n_img, seed, C=4, D=16, H=32, W=48, blocked=True):
    g = torch.Generator().manual_seed(seed)
    rows = []
    seg = grid_segments(H, W, 8, 8)
    for i in range(n_img):
        logits = 2 * torch.randn(C, H, W, generator=g)
        feats = torch.randn(D, H, W, generator=g) + logits[:1]
        b = torch.zeros(H, W, dtype=torch.bool)
        if blocked and i % 5 == 0:
            b[:8, :8] = True
        img = (torch.rand(H, W, 3, generator=g) * 255).to(torch.uint8).numpy()
        img[H // 2:] = 0
        rows.append(pool_rows(logits, seg, {FEATS, GRAD, EDGES}, b, feats, img))
    return RegionPool.concat(rows, range(n_img))


def picks_of_every_strategy(redal_option=True):
    pool, source = make_pool(40, 0), make_pool(40, 1, blocked=False)
    budget = 0.05 * float(pool.size.sum())
    out = {}
    for name, opts in CASES:
        if not redal_option:
            opts = {k: v for k, v in opts.items() if k != 'n_clusters'}
        s = build_strategy(dict(type=name.replace('-flat', ''), **opts), scope='pool')
        picks = s.select(pool, budget, 1, source, torch.Generator().manual_seed(3)).tolist()
        out[name] = (len(picks), hashlib.sha256(str(picks).encode()).hexdigest()[:16])
    return out


def test_cpu_picks_are_those_of_the_code_before():
    assert picks_of_every_strategy() == BEFORE


def _to(pool, device):
    return RegionPool(**{k: (v.to(device) if torch.is_tensor(v) else v)
                         for k, v in vars(pool).items()})


def test_adeada_gmm_backend_option():
    pool, source = make_pool(30, 0), make_pool(30, 1, blocked=False)
    budget = 0.05 * float(pool.size.sum())
    picks = {}
    for backend in ('auto', 'sklearn', 'torch'):
        s = build_strategy(dict(type='ADeADA', gmm_backend=backend), scope='pool')
        assert s.gmm_backend(pool.feats) == ('torch' if backend == 'torch' else 'sklearn')
        picks[backend] = s.select(pool, budget, 1, source, torch.Generator().manual_seed(3))
    assert torch.equal(picks['auto'], picks['sklearn'])
    assert torch.equal(picks['torch'], picks['sklearn'])  # equal up to float rounding here
    with pytest.raises(ValueError, match='gmm_backend'):
        build_strategy(dict(type='ADeADA', gmm_backend='cuda'), scope='pool')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_pool_rows_and_picks_stay_on_the_device():
    from mmseg_ext.active.region_pool import image_regions
    g = torch.Generator().manual_seed(0)
    logits, feats = torch.randn(4, 32, 48, generator=g), torch.randn(16, 32, 48, generator=g)
    seg = grid_segments(32, 48, 8, 8)
    cpu = image_regions(logits, seg, None, feats, grad=True)
    gpu = image_regions(logits.cuda(), seg, None, feats.cuda(), grad=True)
    for key, value in cpu.items():
        assert gpu[key].is_cuda, key
        torch.testing.assert_close(gpu[key].cpu(), value, rtol=1e-5, atol=1e-5)
    pool, source = make_pool(40, 0), make_pool(40, 1, blocked=False)
    dpool, dsource = _to(pool, 'cuda'), _to(source, 'cuda')
    budget = 0.05 * float(pool.size.sum())
    for name, opts in CASES:
        s = build_strategy(dict(type=name.replace('-flat', ''), **opts), scope='pool')
        want = s.select(pool, budget, 1, source, torch.Generator().manual_seed(3))
        got = s.select(dpool, budget, 1, dsource, torch.Generator().manual_seed(3))
        assert got.is_cuda, name
        if name not in ('ADeADA', 'ADeADA-flat'):  # GMMs: torch on CUDA, sklearn on CPU
            assert got.tolist() == want.tolist(), name


if __name__ == '__main__':  # prints BEFORE (run with PYTHONPATH at the old code: arg 'old')
    import sys
    print(picks_of_every_strategy(redal_option=len(sys.argv) < 2))
