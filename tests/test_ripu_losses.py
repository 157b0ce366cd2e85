"""RIPU local consistency and negative learning losses against the reference formulas."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmseg_ext.models.losses.local_consistency_loss import LocalConsistencyLoss
from mmseg_ext.models.losses.negative_learning_loss import NegativeLearningLoss


def ref_lcr(logits, label, ignore_index=255):
    """BIT-DA/RIPU LocalConsistentLoss (l1): depthwise conv mean + Laplacian boundary."""
    C = logits.shape[1]
    p = torch.softmax(logits, 1)
    mean = F.conv2d(F.pad(p, (1, 1, 1, 1), mode='replicate'),
                    torch.ones(C, 1, 3, 3, dtype=p.dtype) / 9, groups=C)
    d = torch.abs(p - mean).sum(1)
    lap = torch.tensor([[-1., -1., -1.], [-1., 8., -1.], [-1., -1., -1.]])[None, None]
    out = F.conv2d(label.float()[:, None], lap, padding=1).long()[:, 0]
    mask = (out != 0) & (label != ignore_index)
    return d[mask].mean()


def ref_nl(logits, threshold=0.05):
    """BIT-DA/RIPU NegativeLearningLoss applied to softmax(logits)."""
    p = torch.softmax(logits, 1)
    mask = (p < threshold).detach()
    return torch.sum(-1 * mask * torch.log(1 - p + 1e-6)) / torch.sum(mask)


def blob_label(N, H, W, C, seed, void=0.1):
    g = torch.Generator().manual_seed(seed)
    c = torch.randn(N, C, H // 4 + 2, W // 4 + 2, generator=g)
    lab = F.interpolate(c, size=(H, W), mode='bilinear').argmax(1)
    lab[torch.rand(N, H, W, generator=g) < void] = 255
    return lab


def grads(fn, x):
    x = x.clone().requires_grad_()
    loss = fn(x)
    loss.backward()
    return loss.detach(), x.grad


def test_lcr_matches_reference():
    g = torch.Generator().manual_seed(0)
    for N, C, H, W in [(2, 19, 24, 40), (1, 5, 7, 9), (3, 2, 1, 6)]:
        logits = torch.randn(N, C, H, W, generator=g) * 3
        label = blob_label(N, H, W, C, seed=H)
        ours = LocalConsistencyLoss(loss_weight=0.1)
        l1, g1 = grads(lambda x: ours(x, label), logits)
        l2, g2 = grads(lambda x: 0.1 * ref_lcr(x, label), logits)
        torch.testing.assert_close(l1, l2, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-8)


def test_lcr_region_all_and_ignore_index():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 4, 10, 12, generator=g)
    label = blob_label(2, 10, 12, 4, seed=1)
    p = torch.softmax(logits, 1)
    mean = F.avg_pool2d(F.pad(p, (1, 1, 1, 1), mode='replicate'), 3, stride=1)
    d = (p - mean).abs().sum(1)
    got = LocalConsistencyLoss(loss_weight=1.0, region='all')(logits, label)
    torch.testing.assert_close(got, d[label != 255].mean())
    # ignore_index is configurable: class 0 ignored, 255 counted as a class
    got = LocalConsistencyLoss(loss_weight=1.0, ignore_index=0)(logits, label)
    lap = 9 * label.float() - F.conv2d(label.float()[:, None], torch.ones(1, 1, 3, 3),
                                       padding=1)[:, 0]
    torch.testing.assert_close(got, d[(lap != 0) & (label != 0)].mean())


def test_lcr_boundary_semantics():
    # interior of a constant region (not 0) is excluded; image-border pixels are in
    label = torch.full((1, 6, 6), 3)
    logits = torch.randn(1, 4, 6, 6, generator=torch.Generator().manual_seed(2))
    loss = LocalConsistencyLoss(loss_weight=1.0)
    p = torch.softmax(logits, 1)
    mean = F.avg_pool2d(F.pad(p, (1, 1, 1, 1), mode='replicate'), 3, stride=1)
    d = (p - mean).abs().sum(1)[0]
    border = torch.ones(6, 6, dtype=torch.bool)
    border[1:-1, 1:-1] = False
    torch.testing.assert_close(loss(logits, label), d[border].mean())
    # label 0 everywhere: zero padding keeps the Laplacian at 0 -> empty mask -> 0, no NaN
    zero = loss(logits.requires_grad_(), torch.zeros(1, 6, 6, dtype=torch.long))
    assert zero.item() == 0 and zero.requires_grad
    zero.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))
    allvoid = LocalConsistencyLoss(region='all')(logits, torch.full((1, 6, 6), 255))
    assert allvoid.item() == 0


def test_nl_matches_reference():
    g = torch.Generator().manual_seed(3)
    for tau in (0.05, 0.2):
        logits = torch.randn(2, 19, 8, 10, generator=g) * 4
        l1, g1 = grads(lambda x: NegativeLearningLoss(threshold=tau)(x), logits)
        l2, g2 = grads(lambda x: ref_nl(x, tau), logits)
        torch.testing.assert_close(l1, l2, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-8)
    half = NegativeLearningLoss(loss_weight=2.0)(logits.half())
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, 2 * ref_nl(logits.half().float()), rtol=1e-3, atol=1e-5)


def test_nl_empty_mask():
    logits = torch.zeros(1, 2, 3, 3, requires_grad=True)  # p = 0.5 everywhere
    loss = NegativeLearningLoss(threshold=0.05)(logits)
    assert loss.item() == 0 and not torch.isnan(loss)
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_registry_and_names():
    lcr = MODELS.build(dict(type='LocalConsistencyLoss', loss_weight=0.5, region='all'))
    nl = MODELS.build(dict(type='NegativeLearningLoss', threshold=0.1))
    assert isinstance(lcr, LocalConsistencyLoss) and lcr.loss_weight == 0.5
    assert isinstance(nl, NegativeLearningLoss) and nl.threshold == 0.1
    assert lcr.loss_name == 'loss_lcr' and nl.loss_name == 'loss_nl'
    assert isinstance(lcr, torch.nn.Module) and isinstance(nl, torch.nn.Module)


@pytest.mark.parametrize('kwargs,match', [
    (dict(threshold=0), 'threshold'), (dict(threshold=1), 'threshold'),
    (dict(threshold=-0.1), 'threshold'), (dict(loss_weight=-1), 'loss_weight'),
])
def test_nl_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NegativeLearningLoss(**kwargs)


def test_lcr_validation():
    with pytest.raises(ValueError, match='region'):
        LocalConsistencyLoss(region='edges')
    with pytest.raises(ValueError, match='loss_weight'):
        LocalConsistencyLoss(loss_weight=-0.1)
    loss = LocalConsistencyLoss()
    with pytest.raises(ValueError, match='same size'):
        loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match='same size'):
        loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        NegativeLearningLoss()(torch.zeros(3, 4, 4))
