import math

import numpy as np
import pytest
import torch

from mmseg_ext.active.ripu import region_scores
from mmseg_ext.active.scores import segment_ripu_scores, segment_scores
from mmseg_ext.active.units import grid_segments, select_segments, slic_segments
from mmseg_ext.active.select import Selection


def _structured_image(h=48, w=96, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x > w // 3) * 200, (y > h // 2) * 180, ((x + y) > (h + w) // 3) * 150], -1)
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


def test_grid_segments_rectangles_and_border_cells():
    seg = grid_segments(10, 13, 4, 5)
    assert seg.shape == (10, 13) and seg.dtype == torch.long
    # 3 rows x 3 cols of cells; bottom/right cells are smaller
    assert int(seg.max()) == 8 and torch.equal(seg.unique(), torch.arange(9))
    assert seg[0, 0] == 0 and seg[3, 4] == 0 and seg[4, 5] == 4 and seg[9, 12] == 8
    sizes = torch.bincount(seg.flatten()).view(3, 3)
    assert sizes.tolist() == [[20, 20, 12], [20, 20, 12], [10, 10, 6]]
    with pytest.raises(ValueError, match='cell_w'):
        grid_segments(10, 13, 4, 0)


def test_slic_segments():
    img = _structured_image()
    seg = slic_segments(img, n_segments=64, compactness=10.0)
    assert seg.shape == img.shape[:2] and seg.dtype == torch.long
    assert int(seg.min()) == 0 and int(seg.unique().numel()) > 8
    assert torch.equal(slic_segments(torch.from_numpy(img), 64, 10.0), seg)  # tensor input
    with pytest.raises(ValueError, match='uint8'):
        slic_segments(img.astype(np.float32), 64, 10.0)


def test_segment_scores_equals_loop():
    g = torch.Generator().manual_seed(0)
    score = torch.randn(20, 30, generator=g)
    seg = torch.randint(0, 17, (20, 30), generator=g)
    seg[seg == 5] = 6  # id 5 empty
    got = segment_scores(score, seg)
    assert got.shape == (17,)
    for s in range(17):
        m = seg == s
        if m.any():
            assert got[s].item() == pytest.approx(score[m].double().mean().item(), abs=1e-6)
        else:
            assert math.isnan(got[s].item())
    assert segment_scores(score, seg, num_segments=20).shape == (20,)


def test_segment_ripu_scores_equals_loop():
    g = torch.Generator().manual_seed(1)
    C = 6
    logits = torch.randn(C, 24, 36, generator=g) * 3
    seg = torch.randint(0, 25, (24, 36), generator=g)
    score, imp, unc = segment_ripu_scores(logits, seg)
    p = torch.softmax(logits.double(), 0)
    ent = -(p * torch.log(p + 1e-6)).sum(0) / math.log(19)
    lab = logits.argmax(0)
    for s in range(25):
        m = seg == s
        hist = torch.tensor([int((lab[m] == c).sum()) for c in range(C)], dtype=torch.float64)
        q = hist / hist.sum()
        i = -(q * torch.log(q + 1e-6)).sum().item() / math.log(19)
        u = ent[m].mean().item()
        assert imp[s].item() == pytest.approx(i, abs=1e-6)
        assert unc[s].item() == pytest.approx(u, abs=1e-6)
        assert score[s].item() == pytest.approx(i * u, abs=1e-6)


def test_segment_ripu_on_3x3_grid_matches_ra_at_cell_centres():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(5, 12, 15, generator=g) * 2
    seg = grid_segments(12, 15, 3, 3)
    s_seg, _, _ = segment_ripu_scores(logits, seg)
    s_ra = region_scores(logits, 1)[0]
    centres = s_ra[1::3, 1::3].flatten()
    assert torch.allclose(s_seg, centres, atol=1e-6)


def _grid_case():
    seg = grid_segments(6, 8, 2, 2)  # 12 segments of 4 px, ids row-major (3 x 4)
    scores = torch.arange(12, dtype=torch.float32)  # higher id = better
    return seg, scores


def test_select_segments_budget_order_and_overshoot():
    seg, scores = _grid_case()
    sel = select_segments(scores, seg, 8)  # exactly two segments
    assert isinstance(sel, Selection)
    assert sel.centers.tolist() == [11, 10]
    assert int(sel.labelled.sum()) == 8
    assert torch.equal(sel.labelled, (seg == 11) | (seg == 10))
    assert torch.equal(sel.blocked, sel.labelled)
    sel = select_segments(scores, seg, 9)  # third segment overshoots by 3
    assert sel.centers.tolist() == [11, 10, 9] and int(sel.labelled.sum()) == 12
    sel = select_segments(scores, seg, 0)
    assert sel.centers.numel() == 0 and not sel.labelled.any()


def test_select_segments_ties_and_blocked():
    seg, _ = _grid_case()
    scores = torch.zeros(12)
    assert select_segments(scores, seg, 8).centers.tolist() == [0, 1]  # ties: lower id
    seg, scores = _grid_case()
    blocked = torch.zeros(6, 8, dtype=torch.bool)
    blocked[5, 7] = True  # one pixel of segment 11
    sel = select_segments(scores, seg, 8, blocked=blocked)
    assert sel.centers.tolist() == [10, 9]
    assert not (sel.labelled & blocked).any()
    assert torch.equal(sel.blocked, blocked | sel.labelled)
    # chained rounds never relabel
    sel2 = select_segments(scores, seg, 8, blocked=sel.blocked)
    assert sel2.centers.tolist() == [8, 7] and not (sel2.labelled & sel.labelled).any()


def test_select_segments_exhaustion():
    seg, scores = _grid_case()
    blocked = torch.zeros(6, 8, dtype=torch.bool)
    blocked[::2, ::2] = True  # touches every segment
    with pytest.raises(ValueError, match='budget'):
        select_segments(scores, seg, 1, blocked=blocked)
    with pytest.raises(ValueError, match='budget'):
        select_segments(scores, seg, 49)
    assert int(select_segments(scores, seg, 48).labelled.sum()) == 48
    with pytest.raises(ValueError, match='no score'):
        select_segments(scores[:5], seg, 4)
