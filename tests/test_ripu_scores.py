"""RIPU RA/PA scores against a straightforward conv2d version of the reference code."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmseg_ext.active import ripu
from mmseg_ext.ops import window


def ref_region_scores(logits, k, norm_classes=19):
    """BIT-DA/RIPU FloatingRegionScore, written out with depthwise conv2d."""
    C = logits.shape[0]
    s = 2 * k + 1
    p = torch.softmax(logits, 0)
    e = torch.sum(-p * torch.log(p + 1e-6), 0)[None, None] / math.log(norm_classes)
    esum = F.conv2d(e, torch.ones(1, 1, s, s, dtype=p.dtype), padding=k)
    onehot = F.one_hot(p.argmax(0), C).to(p.dtype).permute(2, 0, 1)[None]
    summary = F.conv2d(onehot, torch.ones(C, 1, s, s, dtype=p.dtype), padding=k, groups=C)
    count = summary.sum(1, keepdim=True)
    dist = summary / count
    imp = torch.sum(-dist * torch.log(dist + 1e-6), 1, keepdim=True) / math.log(norm_classes)
    unc = esum / count
    return (imp * unc)[0, 0], imp[0, 0], unc[0, 0]


def ref_pixel_scores(logits, k):
    """BIT-DA/RIPU PixelSelection scoring (SpatialPurity x unnormalised entropy)."""
    C = logits.shape[0]
    s = 2 * k + 1
    p = torch.softmax(logits, 0)
    e = torch.sum(-p * torch.log(p + 1e-6), 0)
    onehot = F.one_hot(p.argmax(0), C).to(p.dtype).permute(2, 0, 1)[None]
    summary = F.conv2d(onehot, torch.ones(C, 1, s, s, dtype=p.dtype), padding=k, groups=C)
    dist = summary / summary.sum(1, keepdim=True)
    return e * torch.sum(-dist * torch.log(dist + 1e-6), 1)[0]


def smooth_logits(C, H, W, seed, cell=4, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, C, H // cell + 2, W // cell + 2, generator=g) * scale
    return F.interpolate(coarse, size=(H, W), mode='bilinear', align_corners=False)[0]


def assert_close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


CASES = [  # C, H, W, k
    (19, 48, 64, 1), (19, 37, 53, 2), (5, 30, 41, 3), (19, 40, 60, 0), (3, 20, 30, 4),
    (19, 31, 29, 9), (2, 9, 70, 5), (7, 1, 1, 1), (4, 1, 25, 2), (6, 3, 4, 32), (19, 70, 70, 32),
]


@pytest.mark.parametrize('C,H,W,k', CASES)
@pytest.mark.parametrize('kind', ['smooth', 'noise'])
def test_region_scores_match_reference(C, H, W, k, kind):
    x = (smooth_logits(C, H, W, seed=H * W + k) if kind == 'smooth'
         else torch.randn(C, H, W, generator=torch.Generator().manual_seed(k)) * 2)
    for ours, ref in zip(ripu.region_scores(x, k), ref_region_scores(x, k)):
        assert ours.shape == (H, W) and ours.dtype == torch.float32
        assert_close(ours, ref)


@pytest.mark.parametrize('C,H,W,k', CASES)
def test_pixel_scores_match_reference(C, H, W, k):
    x = smooth_logits(C, H, W, seed=H + W + k)
    assert_close(ripu.pixel_scores(x, k), ref_pixel_scores(x, k))


def test_table_sparse_and_per_class_impurity_agree(monkeypatch):
    x = smooth_logits(19, 50, 80, seed=3)
    table = ripu.region_scores(x, 1)
    monkeypatch.setattr(ripu, '_LUT_MAX_K', 0)
    sparse = ripu.region_scores(x, 1)
    for a, b in zip(table, sparse):
        assert torch.equal(a, b)  # same float order (see test_ripu_scores_fast)
    monkeypatch.setattr(ripu, '_SPARSE_MAX_WINDOW', 0)
    per_class = ripu.region_scores(x, 1)
    for a, b in zip(table, per_class):
        assert_close(a, b)


def test_pure_windows_and_ties():
    # constant logits: argmax ties -> class 0 everywhere, every window pure
    x = torch.zeros(19, 6, 7)
    score, imp, unc = ripu.region_scores(x, 1)
    pure = -torch.log(torch.tensor(1.0) + 1e-6) / math.log(19)  # float32: about -3.24e-7
    assert torch.equal(imp, torch.full_like(imp, float(pure)))
    assert (score < 0).all() and torch.allclose(unc, torch.ones_like(unc), atol=1e-5)
    ref = ref_region_scores(x, 1)
    for a, b in zip((score, imp, unc), ref):
        assert_close(a, b)
    # tie between classes 3 and 5 at one pixel -> class 3, as argmax on p
    x = torch.zeros(6, 5, 5)
    x[3], x[5] = 2.0, 2.0
    x[5, 2, 2] = 3.0
    assert_close(ripu.region_scores(x, 1)[1], ref_region_scores(x, 1)[1])


def test_many_classes_and_dtypes():
    x = torch.randn(300, 9, 11, generator=torch.Generator().manual_seed(0))
    for a, b in zip(ripu.region_scores(x, 1), ref_region_scores(x, 1)):
        assert_close(a, b)
    x64 = smooth_logits(19, 20, 24, seed=1).double()
    out = ripu.region_scores(x64, 1)
    assert out[0].dtype == torch.float64
    for a, b in zip(out, ref_region_scores(x64, 1)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    half = ripu.pixel_scores(x64.half(), 1)
    assert half.dtype == torch.float32
    assert_close(half, ref_pixel_scores(x64.half().float(), 1))


def test_entropy_norm_classes():
    x = smooth_logits(16, 30, 30, seed=2)
    s16, i16, u16 = ripu.region_scores(x, 1, entropy_norm_classes=16)
    for a, b in zip((s16, i16, u16), ref_region_scores(x, 1, norm_classes=16)):
        assert_close(a, b)
    s19 = ripu.region_scores(x, 1)[0]
    f = math.log(16) / math.log(19)
    assert_close(s19, s16 * f * f)


@pytest.mark.parametrize('threads', [1, 2, 3])
def test_chunks_threads_and_grad_input(monkeypatch, threads):
    # many row chunks spread over Python threads; logits that require grad are fine
    monkeypatch.setattr(ripu, '_CHUNK_ELEMS', 5 * 40 * 3)
    x = smooth_logits(5, 31, 40, seed=0).requires_grad_()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out = ripu.region_scores(x, 1)
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
    for ours, ref in zip(out, ref_region_scores(x.detach(), 1)):
        assert not ours.requires_grad
        assert_close(ours, ref)


@pytest.mark.parametrize('bad,match', [
    (dict(logits=torch.zeros(1, 5, 4, 4)), r'\(C, H, W\)'),
    (dict(logits=torch.zeros(4, 4)), r'\(C, H, W\)'),
    (dict(logits=torch.zeros(5, 4, 4, dtype=torch.long)), 'floating'),
    (dict(k=-1), 'k must be'),
    (dict(k=1.0), 'k must be'),
    (dict(entropy_norm_classes=1), 'entropy_norm_classes'),
])
def test_validation(bad, match):
    args = dict(logits=torch.zeros(5, 4, 4), k=1)
    extra = {'entropy_norm_classes': bad.pop('entropy_norm_classes')} if (
        'entropy_norm_classes' in bad) else {}
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        ripu.region_scores(args['logits'], args['k'], **extra)
    if not extra:
        with pytest.raises(ValueError, match=match):
            ripu.pixel_scores(args['logits'], args['k'])


@pytest.mark.parametrize('r', [0, 1, 2, 3, 4, 7, 40])
@pytest.mark.parametrize('shape', [(13, 17), (1, 9), (5, 1), (2, 3, 8)])
def test_box_sum_and_count(r, shape):
    g = torch.Generator().manual_seed(r)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    s = 2 * r + 1
    flat = x.reshape(-1, 1, *shape[-2:])
    ref = F.conv2d(flat, torch.ones(1, 1, s, s, dtype=x.dtype), padding=r).reshape(shape)
    torch.testing.assert_close(window.box_sum(x, r), ref)
    xi = torch.randint(0, 3, shape, generator=g, dtype=torch.int32)
    assert torch.equal(window.box_sum(xi, r).double(), F.conv2d(
        xi.double().reshape(flat.shape), torch.ones(1, 1, s, s, dtype=torch.float64),
        padding=r).reshape(shape))
    ones = torch.ones(shape[-2:], dtype=torch.float64)[None, None]
    count = F.conv2d(ones, torch.ones(1, 1, s, s, dtype=torch.float64), padding=r)[0, 0]
    assert torch.equal(window.window_count(*shape[-2:], r).double(), count)
