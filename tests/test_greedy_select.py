"""greedy_select against the reference's sequential loop (one full-map max per pick)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmseg_ext.active import select
from mmseg_ext.ops import window

INF = float('inf')


def sequential_select(score, num, label_radius, suppress_radius, blocked=None):
    """The reference loop of BIT-DA/RIPU build.py (plus our exhaustion guard), in numpy
    for speed: argmax of the transposed map = the reference's max over rows per column,
    then over columns (smallest column, then smallest row); see test_reference_tie_break.

    num=None: pick until exhausted and return everything."""
    s = score.double().numpy().copy()
    H, W = s.shape
    blk = np.zeros((H, W), bool) if blocked is None else blocked.numpy().copy()
    s[blk] = -INF
    lab = np.zeros((H, W), bool)
    centers = []
    for _ in range(H * W if num is None else num):
        j = int(np.argmax(s.T))
        w, h = divmod(j, H)
        if s[h, w] == -INF:
            if num is None:
                break
            raise ValueError('exhausted')
        centers.append((h, w))
        r, q = suppress_radius, label_radius
        s[max(h - r, 0):h + r + 1, max(w - r, 0):w + r + 1] = -INF
        blk[max(h - r, 0):h + r + 1, max(w - r, 0):w + r + 1] = True
        lab[max(h - q, 0):h + q + 1, max(w - q, 0):w + q + 1] = True
    return (torch.tensor(centers, dtype=torch.long).reshape(-1, 2), torch.from_numpy(lab),
            torch.from_numpy(blk))


def test_reference_tie_break():
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        s = torch.randint(0, 3, (7, 9), generator=g).float()
        values, rows = torch.max(s, 0)
        _, col = torch.max(values, 0)
        w = col.item()
        h = rows[w].item()
        assert divmod(int(np.argmax(s.double().numpy().T)), 7) == (w, h)


def pickable(score, suppress_radius, blocked=None):
    """How many picks the sequential greedy can make before exhaustion."""
    return len(sequential_select(score, None, 0, suppress_radius, blocked)[0])


@pytest.fixture(params=['sparse', 'dense'])
def path(request, monkeypatch):
    if request.param == 'dense':
        monkeypatch.setattr(select, '_SPARSE_LIMIT', 0)
    return request.param


def check(score, num, lr, sr, blocked=None):
    try:
        ref = sequential_select(score, num, lr, sr, blocked)
    except ValueError:
        with pytest.raises(ValueError, match='larger than the pool'):
            select.greedy_select(score, num, lr, sr, blocked)
        return False
    sel = select.greedy_select(score, num, lr, sr, blocked)
    assert sel.centers.dtype == torch.long and sel.centers.shape == (num, 2)
    assert sel.labelled.dtype == torch.bool and sel.blocked.dtype == torch.bool
    assert torch.equal(sel.centers, ref[0])
    assert torch.equal(sel.labelled, ref[1])
    assert torch.equal(sel.blocked, ref[2])
    return True


def random_map(kind, H, W, g):
    if kind == 'uniform':
        return torch.rand(H, W, generator=g)
    if kind == 'int':  # many ties
        return torch.randint(0, 3, (H, W), generator=g).float()
    if kind == 'const':
        return torch.zeros(H, W)
    if kind == 'neginf':
        s = torch.randint(0, 4, (H, W), generator=g).float()
        s[torch.rand(H, W, generator=g) < 0.3] = -INF
        return s
    if kind == 'smooth':  # long monotone runs: many rounds
        c = torch.rand(1, 1, H // 6 + 2, W // 6 + 2, generator=g)
        return F.interpolate(c, size=(H, W), mode='bilinear')[0, 0]
    if kind == 'ramp':  # worst case for the rounds: one dependency chain
        return -torch.arange(H * W, dtype=torch.float32).reshape(H, W).t().reshape(H, W)
    raise KeyError(kind)


KINDS = ['uniform', 'int', 'const', 'neginf', 'smooth', 'ramp']


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('sr,lr', [(0, 0), (1, 0), (2, 1), (1, 1), (3, 2), (5, 0), (2, 4)])
def test_matches_sequential_random(path, kind, sr, lr):
    g = torch.Generator().manual_seed(KINDS.index(kind) * 100 + sr * 10 + lr)
    for trial in range(12):
        H, W = (int(v) for v in torch.randint(1, 30, (2,), generator=g))
        score = random_map(kind, H, W, g)
        blocked = torch.rand(H, W, generator=g) < 0.25 if trial % 2 else None
        for num in (1, 2, 7, 25, 60):
            check(score, num, lr, sr, blocked)


@pytest.mark.parametrize('kind', ['uniform', 'int', 'const', 'neginf'])
def test_exhaustion_boundary(path, kind):
    g = torch.Generator().manual_seed(7)
    for sr in (0, 1, 2):
        score = random_map(kind, 11, 13, g)
        blocked = torch.rand(11, 13, generator=g) < 0.2
        n = pickable(score, sr, blocked)
        if n:
            assert check(score, n, 1, sr, blocked)  # up to exhaustion
        with pytest.raises(ValueError, match=f'num={n + 1} is larger than the pool'):
            select.greedy_select(score, n + 1, 1, sr, blocked)


def test_large_radius_and_border(path):
    g = torch.Generator().manual_seed(1)
    score = random_map('smooth', 70, 90, g)
    for sr, lr, num in [(32, 0, 4), (32, 32, 3), (20, 5, 12), (0, 32, 5)]:
        check(score, num, lr, sr)
    corner = torch.zeros(40, 40)
    corner[0, 0] = corner[39, 39] = corner[0, 39] = corner[39, 0] = 1.0
    check(corner, 6, 3, 2)


def test_medium_map_ra_like(path):
    # RA setting (label radius k, suppression 2k) on a realistic-size map with structure
    from mmseg_ext.active import ripu
    c = torch.randn(1, 19, 9, 17, generator=torch.Generator().manual_seed(0)) * 4
    logits = F.interpolate(c, size=(128, 256), mode='bilinear', align_corners=True)[0]
    score = ripu.region_scores(logits, 1)[0]
    assert check(score, 300, 1, 2)
    pa = ripu.pixel_scores(logits, 8)
    assert check(pa, 20, 0, 8)


def test_prefix_growth_and_integer_scores():
    g = torch.Generator().manual_seed(5)
    # a plateau of identical top scores forces the candidate prefix to grow
    score = torch.rand(40, 50, generator=g)
    score[5:25, 5:45] += 10
    check(score, 80, 0, 3)
    iscore = torch.randint(0, 5, (25, 30), generator=g)
    check(iscore, 20, 1, 1)


def test_no_mutation_and_blocked_output():
    score = torch.rand(10, 12, generator=torch.Generator().manual_seed(0))
    blocked = torch.zeros(10, 12, dtype=torch.bool)
    blocked[0] = True
    s0, b0 = score.clone(), blocked.clone()
    threads = torch.get_num_threads()
    sel = select.greedy_select(score, 3, 1, 2, blocked)
    assert torch.equal(score, s0) and torch.equal(blocked, b0)
    with pytest.raises(ValueError):
        select.greedy_select(score, 1000, 1, 2, blocked)
    assert torch.get_num_threads() == threads  # the single-thread CPU section restores it
    assert sel.blocked[0].all() and not sel.labelled[0].any()
    assert isinstance(sel, tuple) and sel._fields == ('centers', 'labelled', 'blocked')


@pytest.mark.parametrize('args,match', [
    ((torch.zeros(2, 3, 4), 1, 0, 0), r'\(H, W\)'),
    ((torch.zeros(5), 1, 0, 0), r'\(H, W\)'),
    ((torch.zeros(4, 4, dtype=torch.bool), 1, 0, 0), 'real-valued'),
    ((torch.zeros(4, 4), 0, 0, 0), 'num must be'),
    ((torch.zeros(4, 4), 2.0, 0, 0), 'num must be'),
    ((torch.zeros(4, 4), 1, -1, 0), 'label_radius'),
    ((torch.zeros(4, 4), 1, 0, -2), 'suppress_radius'),
    ((torch.zeros(4, 4), 1, 0, 0, torch.zeros(4, 5, dtype=torch.bool)), 'blocked'),
    ((torch.zeros(4, 4), 1, 0, 0, torch.zeros(4, 4)), 'blocked'),
    ((torch.full((4, 4), float('nan')), 1, 0, 0), 'NaN'),
    ((torch.full((4, 4), -INF), 1, 0, 0), 'larger than the pool'),
    ((torch.zeros(4, 4), 17, 0, 0), 'num=17 is larger than the pool'),
])
def test_validation(args, match):
    with pytest.raises(ValueError, match=match):
        select.greedy_select(*args)


@pytest.mark.parametrize('r', [0, 1, 2, 3, 6, 33])
@pytest.mark.parametrize('shape', [(13, 17), (1, 9), (6, 1), (2, 8, 5)])
def test_box_max_min(r, shape):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(r))
    flat = x.reshape(-1, 1, *shape[-2:])
    k = 2 * r + 1
    ref_max = F.max_pool2d(F.pad(flat, (r, r, r, r), value=-INF), k, stride=1).reshape(shape)
    ref_min = -F.max_pool2d(F.pad(-flat, (r, r, r, r), value=-INF), k, stride=1).reshape(shape)
    assert torch.equal(window.box_max(x, r), ref_max)
    assert torch.equal(window.box_min(x, r), ref_min)
    b = x > 1
    ref_b = F.max_pool2d(F.pad(b.reshape(flat.shape).float(), (r, r, r, r)), k, stride=1)
    assert torch.equal(window.box_max(b, r), ref_b.reshape(shape).bool())
