"""RIPU RA/PA scores: the dense table path of the impurity is bit-identical (torch.equal)
to the scores before it (an oracle copy of that code below) and to a straightforward
reference of RIPU Eq. (4)-(6) written with the same float operations, on smooth and on
realistic (ragged-boundary) logits, k = 0..3, ties, entropy_norm_classes; greedy picks
are identical."""
import math
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
import torch.nn.functional as F

from mmseg_ext.active import ripu, select
from mmseg_ext.ops.window import (box_max, box_min, box_sum, one_intraop_thread,
                                     window_count)

# ---- oracle: mmseg_ext/active/ripu.py as it was before the table path (verbatim) ----
_EPS = 1e-6
_CHUNK_ELEMS = 1 << 19
_SPARSE_MAX_WINDOW = 49


def _old_entropy_and_label(logits, workers=1):
    x = logits.detach()
    x = x if x.dtype in (torch.float32, torch.float64) else x.float()
    C, H, W = x.shape
    e = torch.empty((H, W), dtype=x.dtype, device=x.device)
    small = C < 256
    lab = torch.empty((H, W), dtype=torch.uint8 if small else torch.int64, device=x.device)
    rev = torch.arange(C, 0, -1, dtype=lab.dtype, device=x.device)[:, None, None]
    rows = H if x.device.type != 'cpu' else max(1, _CHUNK_ELEMS // (C * W))

    def work(starts):
        for r0 in starts:
            p = torch.softmax(x[:, r0:r0 + rows], 0)
            torch.amax((p == p.amax(0)).to(lab.dtype).mul_(rev), 0, out=lab[r0:r0 + rows])
            torch.sum((p + _EPS).log_().mul_(p), 0, out=e[r0:r0 + rows])

    starts = list(range(0, H, rows))
    if workers > 1 and len(starts) > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, [starts[i::workers] for i in range(workers)]))
    else:
        work(starts)
    return e.neg_(), lab.neg_().add_(C)


def _old_neg_sum_qlogq(lab, C, k, count):
    s2 = (2 * k + 1) ** 2
    if s2 > _SPARSE_MAX_WINDOW or lab.dtype != torch.uint8:
        out = torch.zeros_like(count)
        present = torch.bincount(lab.flatten().long(), minlength=C).nonzero().flatten().tolist()
        for c in present:
            q = box_sum(lab == c, k).div(count)
            out.sub_((q + _EPS).log_().mul_(q))
        return out
    one = torch.ones((), dtype=count.dtype, device=count.device)
    out = torch.full_like(count, float(-(one + _EPS).log_().mul_(one)))
    idx = (box_max(lab, k) != box_min(lab, k)).flatten().nonzero().squeeze(1)
    if idx.numel() == 0:
        return out
    H, W = lab.shape
    padded = torch.nn.functional.pad(lab[None], (k, k, k, k), value=C)[0].flatten()
    d = torch.arange(2 * k + 1, device=lab.device)
    offs = (d[:, None] * (W + 2 * k) + d[None, :]).flatten()
    win = padded[((idx // W) * (W + 2 * k) + idx % W)[:, None] + offs].long()
    hist = torch.zeros((idx.numel(), C + 1), dtype=count.dtype, device=count.device)
    hist.scatter_add_(1, win, one.expand(win.shape))
    q = hist[:, :C].div_(count.flatten()[idx, None])
    out.view(-1)[idx] = (q + _EPS).log_().mul_(q).sum(1).neg_()
    return out


@torch.no_grad()
def old_region_scores(logits, k, entropy_norm_classes=19):
    norm = math.log(entropy_norm_classes)
    C, H, W = logits.shape
    with one_intraop_thread(logits.device) as workers:
        e, lab = _old_entropy_and_label(logits, workers)
        count = window_count(H, W, k, device=e.device).to(e.dtype)
        uncertainty = box_sum(e / norm, k).div_(count)
        impurity = _old_neg_sum_qlogq(lab, C, k, count) / norm
        return impurity * uncertainty, impurity, uncertainty


@torch.no_grad()
def old_pixel_scores(logits, k):
    C, H, W = logits.shape
    with one_intraop_thread(logits.device) as workers:
        e, lab = _old_entropy_and_label(logits, workers)
        count = window_count(H, W, k, device=e.device).to(e.dtype)
        return e * _old_neg_sum_qlogq(lab, C, k, count)
# ---- end of the oracle ----


@torch.no_grad()
def ref_region_scores(logits, k, norm_classes=19):
    """RIPU Eq. (4)-(6) in the float order of the implementation, written out plainly:
    window class counts n_c from a depthwise conv of the one-hot argmax (exact integers),
    q = n / count, P = -(sum over classes with torch.sum of q log(q + 1e-6)) / log(19)
    (windows up to 7x7; for larger ones a subtraction per class in class order),
    pixel entropy -sum_c p log(p + 1e-6), U = window sum of it / log(19) / count (the
    window sum with window.box_sum, whose order test_ripu_scores checks), A = P * U."""
    C, H, W = logits.shape
    x = logits.detach().float() if logits.dtype not in (torch.float32, torch.float64) \
        else logits.detach()
    # entropy: the same row chunks and one intra-op thread as the implementation, since
    # torch's softmax / log / sum round a few elements differently depending on how a
    # kernel splits its work (vectorised body vs tail); this part is not what is tested
    rows = max(1, ripu._CHUNK_ELEMS // (C * W))
    with one_intraop_thread():
        p = torch.cat([torch.softmax(x[:, r0:r0 + rows], 0) for r0 in range(0, H, rows)], 1)
        e = torch.cat([torch.sum((p[:, r0:r0 + rows] + 1e-6).log_().mul_(p[:, r0:r0 + rows]), 0)
                       for r0 in range(0, H, rows)]).neg_()
    s = 2 * k + 1
    onehot = F.one_hot(p.argmax(0), C).to(torch.float64).permute(2, 0, 1)[None]
    n = F.conv2d(onehot, torch.ones(C, 1, s, s, dtype=torch.float64), padding=k,
                 groups=C)[0].round().to(x.dtype)  # (C, H, W), exact counts
    count = n.sum(0, keepdim=True).round()
    q = (n / count).permute(1, 2, 0).contiguous()  # (H, W, C)
    terms = (q + 1e-6).log_().mul_(q)
    if s * s <= 49:
        imp = terms.sum(2).neg_()
    else:
        imp = torch.zeros((H, W), dtype=x.dtype)
        for c in range(C):
            imp.sub_(terms[..., c])
    norm = math.log(norm_classes)
    imp = imp / norm
    unc = box_sum(e / norm, k).div_(count[0])
    return imp * unc, imp, unc


def smooth_logits(C, H, W, seed, cell=8, scale=4.0):
    """Bilinear upsampling of a coarse random map (as the benchmark's smooth input)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, C, max(2, H // cell), max(2, W // cell), generator=g) * scale
    return F.interpolate(coarse, size=(H, W), mode='bilinear', align_corners=True)[0]


def realistic_logits(C, H, W, seed, noise=0.3):
    """Smooth regions plus per-pixel noise: a random 1/8-resolution map upsampled x4 and
    then to full size, plus N(0, noise), so that the argmax has ragged boundaries."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, C, max(1, H // 8), max(1, W // 8), generator=g) * 4
    x = F.interpolate(coarse, scale_factor=4, mode='bilinear', align_corners=False)
    x = F.interpolate(x, size=(H, W), mode='bilinear', align_corners=False)[0]
    return x + torch.randn(x.shape, generator=g) * noise


KINDS = {'smooth': smooth_logits, 'realistic': realistic_logits}


def assert_same(ours, ref):
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert torch.equal(a, b), f'{int((a != b).sum())} values differ'


def test_table_path_is_used():
    # the tests below would pass trivially if the dense path never ran
    for C in (2, 5, 16, 19):
        for k in (1, 2, 3):
            assert ripu._lut_plan(C, k, torch.float32) is not None, (C, k)


CASES = [  # C, H, W
    (19, 96, 130), (19, 40, 64), (16, 57, 83), (5, 33, 47), (2, 30, 41), (7, 25, 31),
    (24, 20, 36), (19, 1, 1), (19, 1, 40), (19, 30, 1), (3, 2, 5), (19, 6, 7),
]


@pytest.mark.parametrize('kind', sorted(KINDS))
@pytest.mark.parametrize('C,H,W', CASES)
@pytest.mark.parametrize('k', [0, 1, 2, 3])
def test_region_scores_bit_identical(kind, C, H, W, k):
    x = KINDS[kind](C, H, W, seed=C * H + W + k)
    ours = ripu.region_scores(x, k)
    assert_same(ours, old_region_scores(x, k))
    assert_same(ours, ref_region_scores(x, k))
    assert torch.equal(ripu.pixel_scores(x, k), old_pixel_scores(x, k))


@pytest.mark.parametrize('kind', sorted(KINDS))
@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_full_size_image(kind):
    # the benchmark's case: one 19x1024x2048 image, RA k = 1, and the other radii
    x = KINDS[kind](19, 1024, 2048, seed=1)
    for k in (1, 2, 3):
        assert_same(ripu.region_scores(x, k), old_region_scores(x, k))


@pytest.mark.parametrize('norm', [16, 19, 2, 150])
def test_entropy_norm_classes(norm):
    x = realistic_logits(16, 40, 56, seed=norm)
    ours = ripu.region_scores(x, 1, entropy_norm_classes=norm)
    assert_same(ours, old_region_scores(x, 1, norm))
    assert_same(ours, ref_region_scores(x, 1, norm))


def test_ties_and_pure_windows():
    x = torch.zeros(19, 9, 11)  # all classes tie -> class 0 everywhere, all windows pure
    for k in range(4):
        assert_same(ripu.region_scores(x, k), old_region_scores(x, k))
    # duplicated channels: ties between classes at many pixels, also after softmax
    g = torch.Generator().manual_seed(0)
    x = realistic_logits(19, 48, 64, seed=3)
    x[7] = x[3]
    x[18] = x[0]
    x[5] = x[5].round()
    x[6] = x[5]
    x = x.round(decimals=1)  # many exact ties in the logits
    x[:, 10:20, 10:30] = torch.randint(0, 2, (19, 1, 1), generator=g).float()
    for k in range(4):
        ours = ripu.region_scores(x, k)
        assert_same(ours, old_region_scores(x, k))
        assert_same(ours, ref_region_scores(x, k))


def test_every_class_present_in_one_window():
    # 3x3 ... 7x7 windows holding many classes (worst case for the sum order)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(19, 40, 50, generator=g) * 5  # independent labels per pixel
    for k in (1, 2, 3):
        assert_same(ripu.region_scores(x, k), old_region_scores(x, k))
        assert_same(ripu.pixel_scores(x, k)[None], old_pixel_scores(x, k)[None])


def test_large_windows_and_many_classes_use_the_old_paths():
    x = realistic_logits(19, 40, 60, seed=4)
    for k in (4, 9):
        assert_same(ripu.region_scores(x, k), old_region_scores(x, k))
        assert_same(ripu.region_scores(x, k), ref_region_scores(x, k))
    x = torch.randn(300, 9, 11, generator=torch.Generator().manual_seed(0))
    assert_same(ripu.region_scores(x, 1), old_region_scores(x, 1))


def test_float64_and_half():
    x = realistic_logits(19, 30, 44, seed=5)
    for dtype in (torch.float64, torch.half):
        xd = x.to(dtype)
        for k in (1, 2):
            ours = ripu.region_scores(xd, k)
            assert_same(ours, old_region_scores(xd, k))
            assert torch.equal(ripu.pixel_scores(xd, k), old_pixel_scores(xd, k))


def test_fallback_when_the_sum_order_is_unknown(monkeypatch):
    x = realistic_logits(19, 37, 50, seed=6)
    monkeypatch.setattr(ripu, '_LUT_PLANS', {})
    monkeypatch.setattr(ripu, '_probe_sum_tree', lambda C, dtype: None)
    monkeypatch.setattr(ripu, '_SUM_TREES', {})
    assert ripu._lut_plan(19, 1, torch.float32) is None
    assert_same(ripu.region_scores(x, 1), old_region_scores(x, 1))


def test_sum_tree_reproduces_torch_sum():
    g = torch.Generator().manual_seed(7)
    for C in (1, 2, 5, 16, 19, 24):
        tree = ripu._sum_tree(C, torch.float32)
        assert tree is not None
        v = torch.randn(5000, C, generator=g) * torch.rand(5000, C, generator=g).pow(6) * 1e3
        v[torch.rand(5000, C, generator=g) < 0.4] = -0.0
        assert torch.equal(ripu._eval_tree(tree, lambda c: v[:, c])[0], v.sum(1))


def test_log_table_does_not_depend_on_layout():
    # the tables hold t = q log(q + eps); the sparse path computes these inside big
    # tensors, so torch.log must give them the same value wherever an element sits
    g = torch.Generator().manual_seed(8)
    for k in (1, 2, 3):
        B = (2 * k + 1) ** 2 + 1
        t = ripu._lut_plan(19, k, torch.float32).lut1.view(B, B)
        cnt = torch.randint(1, B, (100003,), generator=g)
        n = torch.minimum((torch.rand(100003, generator=g) * (cnt + 1)).long(), cnt)
        for threads in (1, 2):
            before = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                for sl in (slice(None), slice(1, None), slice(5, None, 3), slice(7, 40)):
                    c, m = cnt[sl], n[sl]
                    q = m.float() / c.float()
                    assert torch.equal((q + 1e-6).log_().mul_(q), t[c, m])
                    q = torch.zeros(len(c), 20).scatter_(1, m[:, None] % 20, m[:, None].float())
                    q = q[:, :19].div_(c.float()[:, None])  # the sparse path's layout
                    hit = torch.arange(19) == m[:, None] % 20
                    want = t[c[:, None], torch.where(hit, m[:, None], 0)]
                    assert torch.equal((q + 1e-6).log_().mul_(q), want)
            finally:
                torch.set_num_threads(before)


@pytest.mark.parametrize('threads', [1, 2, 3])
def test_chunks_and_threads(monkeypatch, threads):
    monkeypatch.setattr(ripu, '_LUT_CHUNK_ELEMS', 1)  # one row per chunk
    x = realistic_logits(19, 23, 40, seed=9).requires_grad_()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        ours = ripu.region_scores(x, 2)
    finally:
        torch.set_num_threads(before)
    assert not ours[0].requires_grad
    assert_same(ours, old_region_scores(x.detach(), 2))


@pytest.mark.parametrize('kind', sorted(KINDS))
def test_greedy_picks_identical(kind):
    x = KINDS[kind](19, 256, 512, seed=10)
    for k in (1, 2):
        new, old = ripu.region_scores(x, k)[0], old_region_scores(x, k)[0]
        a = select.greedy_select(new, 200, k, 2 * k)
        b = select.greedy_select(old, 200, k, 2 * k)
        for u, v in zip(a, b):
            assert torch.equal(u, v)
