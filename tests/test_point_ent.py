"""POINT-ENT acquisition (mmseg_ext.active.point_ent) against naive loop implementations written
here, and ADVENT's EntropyLoss."""
import math

import pytest
import torch

from mmseg_ext.active import point_ent
from mmseg_ext.ops.uncertainty import self_information


def _prob(c=19, h=32, w=64, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(c, h, w, generator=g) * scale).softmax(0)


def _gt(h=32, w=64, seed=1, classes=19):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, classes, (h, w), generator=g)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------- formulas, naive loops

def test_self_information_matches_a_loop():
    prob = _prob(c=5, h=3, w=4)[None].repeat(2, 1, 1, 1)
    prob[1, :, 0, 0] = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0])  # exact zeros: no NaN
    out = self_information(prob)
    assert out.shape == prob.shape and torch.isfinite(out).all()
    for n in range(2):
        for c in range(5):
            for i in range(3):
                for j in range(4):
                    p = float(prob[n, c, i, j])
                    want = -p * math.log2(p + 1e-30) / math.log2(5)
                    assert float(out[n, c, i, j]) == pytest.approx(want, abs=1e-7)
    assert float(out[1, 1, 0, 0]) == 0.0 and float(out[1, 0, 0, 0]) == 0.0


def test_self_information_bad_input():
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        self_information(torch.rand(3, 4, 5))
    with pytest.raises(ValueError, match='C >= 2'):
        self_information(torch.ones(1, 1, 4, 5))


def _naive_patch_entropy(prob, rows, cols):
    c, h, w = prob.shape
    ph, pw = h // rows, w // cols
    out = torch.zeros(rows, cols, dtype=torch.float64)
    for r in range(rows):
        for q in range(cols):
            total = 0.0
            for i in range(r * ph, (r + 1) * ph):
                for j in range(q * pw, (q + 1) * pw):
                    for k in range(c):
                        p = float(prob[k, i, j])
                        total -= p * math.log(p) if p > 0 else 0.0
            out[r, q] = total / (ph * pw)
    return out


def test_patch_entropy_matches_a_loop():
    prob = _prob(c=4, h=8, w=12)
    prob[:, 0, 0] = torch.tensor([0.0, 1.0, 0.0, 0.0])  # 0 log 0 = 0
    out = point_ent.patch_entropy(prob, (2, 3))
    assert out.shape == (2, 3)
    torch.testing.assert_close(out.double(), _naive_patch_entropy(prob, 2, 3), atol=1e-6,
                               rtol=1e-5)


def test_patch_entropy_row_chunks_and_threads_equal_one_op(monkeypatch):
    prob = _prob(c=19, h=64, w=128, seed=3)
    want = -torch.special.xlogy(prob, prob).sum(0).view(8, 8, 8, 16).mean((1, 3))
    monkeypatch.setattr(point_ent, '_CHUNK_ELEMS', 19 * 128 * 3)  # 3-row chunks, a ragged end
    torch.testing.assert_close(point_ent.patch_entropy(prob, (8, 8)), want)


def _naive_weak_labels(prob, gt, acq, rows, cols, pseudo):
    """Labels from the drawn points and the selected patches, pixel by pixel."""
    c, h, w = prob.shape
    ph, pw = h // rows, w // cols
    labels = torch.full((h, w), 255, dtype=torch.long)
    selected = set(acq.patches.tolist())
    for patch in range(rows * cols):
        r, q = divmod(patch, cols)
        if patch in selected:
            for flat in acq.points[patch].tolist():
                labels[flat // w, flat % w] = int(gt[flat // w, flat % w])
        elif pseudo == 'points':
            for flat in acq.points[patch].tolist():
                i, j = divmod(flat, w)
                labels[i, j] = int(prob[:, i, j].argmax())
        elif pseudo == 'dense':
            for i in range(r * ph, (r + 1) * ph):
                for j in range(q * pw, (q + 1) * pw):
                    labels[i, j] = int(prob[:, i, j].argmax())
    return labels


@pytest.mark.parametrize('pseudo', ['points', 'dense', 'none'])
@pytest.mark.parametrize('selection', ['entropy', 'random'])
def test_weak_labels_match_a_loop(selection, pseudo):
    prob, gt = _prob(h=32, w=64), _gt()
    rows, cols, k, n = 4, 8, 5, 3
    acq = point_ent.acquire(prob, gt, k, n, (rows, cols), selection, pseudo, _gen(7))
    labels, clicks = point_ent.weak_labels(prob, gt, k, n, (rows, cols), selection, pseudo,
                                           _gen(7))
    assert torch.equal(labels, acq.labels) and clicks == acq.clicks == k * n
    assert labels.dtype == torch.long and labels.shape == (32, 64)
    assert torch.equal(labels, _naive_weak_labels(prob, gt, acq, rows, cols, pseudo))
    # every point lies in its own patch, the N points of a patch are distinct
    ph, pw = 32 // rows, 64 // cols
    for patch in range(rows * cols):
        pts = acq.points[patch].tolist()
        assert len(set(pts)) == n
        r, q = divmod(patch, cols)
        assert all(r * ph <= p // 64 < (r + 1) * ph and q * pw <= p % 64 < (q + 1) * pw
                   for p in pts)
    # the masks: oracle = clicked pixels, pseudo = pseudo-labelled ones, disjoint
    assert int(acq.oracle.sum()) == clicks
    assert not (acq.oracle & acq.pseudo).any()
    assert torch.equal((labels != 255), acq.oracle | acq.pseudo)  # gt has no void here
    expected_pseudo = dict(points=(rows * cols - k) * n, dense=(rows * cols - k) * ph * pw,
                           none=0)[pseudo]
    assert int(acq.pseudo.sum()) == expected_pseudo
    assert acq.patches.numel() == k and len(set(acq.patches.tolist())) == k
    torch.testing.assert_close(acq.scores, point_ent.patch_entropy(prob, (rows, cols)))


def test_entropy_selection_is_the_top_k_patches_ties_to_lower_index():
    prob = _prob(c=3, h=8, w=8, scale=0.5)
    # patch scores by hand: make patches 3 and 1 (of a 2x2 grid) confident, 0 and 2 equal
    flat = torch.tensor([1.0, 0.0, 0.0])[:, None, None]
    prob[:, 0:4, 4:8] = flat
    prob[:, 4:8, 4:8] = flat
    prob[:, 4:8, 0:4] = prob[:, 0:4, 0:4]
    acq = point_ent.acquire(prob, _gt(8, 8, classes=3), 2, 1, (2, 2), generator=_gen())
    assert acq.patches.tolist() == [0, 2]  # equal scores: lower index first
    acq = point_ent.acquire(prob, _gt(8, 8, classes=3), 3, 1, (2, 2), generator=_gen())
    assert acq.patches.tolist() == [0, 2, 1]
    scores = point_ent.patch_entropy(_prob(), (4, 8)).flatten()
    acq = point_ent.acquire(_prob(), _gt(), 7, 2, (4, 8), generator=_gen())
    assert acq.patches.tolist() == scores.argsort(descending=True)[:7].tolist()


def test_seeded_reproducible_and_paired_across_options():
    prob, gt = _prob(), _gt()
    a = point_ent.acquire(prob, gt, 4, 5, (4, 8), generator=_gen(3))
    b = point_ent.acquire(prob, gt, 4, 5, (4, 8), generator=_gen(3))
    c = point_ent.acquire(prob, gt, 4, 5, (4, 8), generator=_gen(4))
    assert all(torch.equal(x, y) for x, y in zip(a, b) if torch.is_tensor(x))
    assert not torch.equal(a.points, c.points)
    # the same seed draws the same points whatever k, selection and pseudo are
    for kw in (dict(k=0), dict(k=32), dict(selection='random'), dict(pseudo='dense')):
        args = dict(k=4, points_per_patch=5, grid=(4, 8), selection='entropy', pseudo='points')
        args.update(kw)
        other = point_ent.acquire(prob, gt, generator=_gen(3), **args)
        assert torch.equal(other.points, a.points), kw
    # random selection: different seeds pick different patches; same seed the same
    r1 = point_ent.acquire(prob, gt, 4, 5, (4, 8), 'random', generator=_gen(1))
    r2 = point_ent.acquire(prob, gt, 4, 5, (4, 8), 'random', generator=_gen(1))
    picks = {tuple(sorted(point_ent.acquire(prob, gt, 4, 5, (4, 8), 'random',
                                            generator=_gen(s)).patches.tolist()))
             for s in range(6)}
    assert torch.equal(r1.patches, r2.patches) and len(picks) > 1
    # the global generator when none is given
    torch.manual_seed(11)
    g1 = point_ent.weak_labels(prob, gt, 4, 5, (4, 8))
    torch.manual_seed(11)
    assert torch.equal(g1[0], point_ent.weak_labels(prob, gt, 4, 5, (4, 8))[0])


def test_void_points_stay_void_but_count_as_clicks():
    prob = _prob()
    gt = torch.full((32, 64), 255, dtype=torch.long)
    gt[:, 32:] = 7
    acq = point_ent.acquire(prob, gt, 32, 4, (4, 8), pseudo='none', generator=_gen())
    assert acq.clicks == 32 * 4 and int(acq.oracle.sum()) == 128
    left = acq.labels[:, :32]
    assert (left == 255).all()  # every click there landed on void
    assert (acq.labels[:, 32:][acq.oracle[:, 32:]] == 7).all()
    assert int((acq.labels != 255).sum()) == 64


def test_k_zero_is_self_training_and_k_all_is_full_labelling():
    prob, gt = _prob(), _gt()
    argmax = prob.argmax(0)
    st, clicks = point_ent.weak_labels(prob, gt, 0, 5, (4, 8), generator=_gen())
    assert clicks == 0
    labelled = st != 255
    assert int(labelled.sum()) == 32 * 5 and torch.equal(st[labelled], argmax[labelled])
    dense, clicks = point_ent.weak_labels(prob, gt, 0, 5, (4, 8), pseudo='dense')
    assert clicks == 0 and torch.equal(dense, argmax)
    for pseudo in ('points', 'dense', 'none'):
        acq = point_ent.acquire(prob, gt, 32, 5, (4, 8), pseudo=pseudo, generator=_gen())
        assert acq.clicks == 160 and not acq.pseudo.any()
        assert torch.equal(acq.labels[acq.oracle], gt[acq.oracle])
        assert int((acq.labels != 255).sum()) == 160


def test_one_point_per_pixel_patch_and_every_pixel():
    prob, gt = _prob(h=8, w=8), _gt(8, 8)
    labels, clicks = point_ent.weak_labels(prob, gt, 4, 16, (2, 2), generator=_gen())
    assert clicks == 64 and torch.equal(labels, gt)  # N = patch pixels: every pixel


@pytest.mark.parametrize('kwargs, match', [
    (dict(grid=(5, 8)), r'grid \(5, 8\) does not divide the 32x64'),
    (dict(grid=(4, 7)), 'does not divide'),
    (dict(grid=(0, 8)), 'grid must be'),
    (dict(grid=4), 'grid must be'),
    (dict(k=-1), r'k=-1: expected an int in \[0, 32\]'),
    (dict(k=33), r'k=33: expected an int in \[0, 32\]'),
    (dict(k=2.0), 'k=2.0'),
    (dict(points_per_patch=0), r'points_per_patch=0: expected an int in \[1, 64\]'),
    (dict(points_per_patch=65), r'points_per_patch=65: expected an int in \[1, 64\]'),
    (dict(selection='entropyy'), "selection='entropyy'"),
    (dict(pseudo='full'), "pseudo='full'"),
])
def test_bad_input_one_line_value_error(kwargs, match):
    args = dict(prob=_prob(), gt=_gt(), k=3, points_per_patch=5, grid=(4, 8))
    args.update(kwargs)
    for fn in (point_ent.weak_labels, point_ent.acquire):
        with pytest.raises(ValueError, match=match) as err:
            fn(**args)
        assert '\n' not in str(err.value)


def test_bad_tensors():
    with pytest.raises(ValueError, match=r'floating \(C, H, W\)'):
        point_ent.weak_labels(_prob()[None], _gt(), 1, 1, (4, 8))
    with pytest.raises(ValueError, match=r'gt must be an \(32, 64\)'):
        point_ent.weak_labels(_prob(), _gt(16, 64), 1, 1, (4, 8))
    with pytest.raises(ValueError, match='does not divide'):
        point_ent.patch_entropy(_prob(), (3, 8))


# ----------------------------------------------------------------------- EntropyLoss

def test_entropy_loss_values():
    from mmseg.registry import MODELS

    from mmseg_ext.models.losses import EntropyLoss
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 3, 4, generator=g) * 2
    loss = EntropyLoss(loss_weight=0.5)
    assert loss.loss_name.startswith('loss_') and loss.loss_name == 'loss_ent'
    total = 0.0
    for n in range(2):
        for i in range(3):
            for j in range(4):
                p = torch.softmax(logits[n, :, i, j].double(), 0).tolist()
                total += sum(-q * math.log2(q + 1e-30) for q in p) / math.log2(5)
    assert float(loss(logits)) == pytest.approx(0.5 * total / 24, rel=1e-5)
    # uniform -> 1, one-hot -> 0, label and ignore_index accepted and unused
    assert float(EntropyLoss()(torch.zeros(1, 19, 2, 2))) == pytest.approx(1.0, rel=1e-6)
    hot = torch.full((1, 19, 2, 2), -1e4)
    hot[:, 3] = 1e4
    assert float(EntropyLoss()(hot, torch.zeros(1, 2, 2), ignore_index=0)) == 0.0
    w = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    assert float(EntropyLoss()(torch.zeros(1, 19, 2, 2), weight=w)) == pytest.approx(0.25)
    built = MODELS.build(dict(type='EntropyLoss', loss_weight=0.001))
    assert isinstance(built, EntropyLoss) and built.loss_weight == 0.001
    # gradient: minimising it sharpens the prediction
    x = torch.randn(1, 4, 2, 2, requires_grad=True)
    EntropyLoss()(x).backward()
    assert x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        EntropyLoss()(torch.zeros(19, 2, 2))
    with pytest.raises(ValueError, match="start with 'loss_'"):
        EntropyLoss(loss_name='ent')
