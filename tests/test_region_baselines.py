"""Region-level BADGE / ReDAL / AADA / CLUE baselines (mmseg_ext.active.region_baselines)."""
import numpy as np
import pytest
import torch

from mmseg_ext.active import region_baselines as rb
from mmseg_ext.active.scores import canny_edges


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _blobs(centres, per, spread, seed=0, dtype=torch.float64):
    """Tight Gaussian blobs: (len(centres) * per, D) rows, blob b at rows b*per .. b*per+per-1."""
    c = torch.as_tensor(centres, dtype=dtype)
    noise = torch.randn(len(c) * per, c.shape[1], generator=_gen(seed), dtype=dtype)
    return c.repeat_interleave(per, 0) + spread * noise


def _blob_of(idx, per):
    return sorted(int(i) // per for i in idx)

# ----------------------------------------------------------------------------- gradient_embeddings


def _naive_embeddings(probs, feats, segments, S):
    N, C, H, W = probs.shape
    D = feats.shape[1]
    sums = np.zeros((N, S, C * D))
    counts = np.zeros((N, S))
    for n in range(N):
        for i in range(H):
            for j in range(W):
                p = probs[n, :, i, j].numpy()
                onehot = np.zeros(C)
                onehot[int(np.argmax(p))] = 1.0  # first maximum
                s = int(segments[n, i, j])
                sums[n, s] += np.outer(p - onehot, feats[n, :, i, j].numpy()).reshape(-1)
                counts[n, s] += 1
    with np.errstate(invalid='ignore'):
        return sums / counts[..., None]


def test_gradient_embeddings_match_naive_loop_and_nan_for_empty_ids():
    g = _gen(1)
    N, C, D, H, W, S = 2, 3, 4, 5, 6, 8
    probs = torch.softmax(3 * torch.randn(N, C, H, W, generator=g, dtype=torch.float64), 1)
    probs[0, :, 0, 0] = 1.0 / 3  # exact tie -> class 0
    feats = torch.randn(N, D, H, W, generator=g, dtype=torch.float64)
    segments = torch.randint(0, 6, (N, H, W), generator=g)  # ids 6, 7 empty
    segments[1, 0, 0] = 7  # id 7 present in image 1 only
    got = rb.gradient_embeddings(probs, feats, segments, S)
    want = _naive_embeddings(probs, feats, segments, S)
    assert got.shape == (N, S, C * D) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    empty = torch.isnan(got).all(2)
    assert empty[:, 6].all() and bool(empty[0, 7]) and not bool(empty[1, 7])
    assert not torch.isnan(got[:, :6]).any()
    # tie pixel: its own region, hypothesised label 0 -> first block (c = 0) is (1/3 - 1) f
    seg = torch.full((1, 1, 1), 0)
    one = rb.gradient_embeddings(probs[:1, :, :1, :1], feats[:1, :, :1, :1], seg, 1)[0, 0]
    f0 = feats[0, :, 0, 0]
    torch.testing.assert_close(one[:D], (1.0 / 3 - 1) * f0)
    torch.testing.assert_close(one[D:2 * D], f0 / 3)


def test_gradient_embeddings_float32_and_mixed_dtypes():
    g = _gen(2)
    probs = torch.softmax(torch.randn(1, 4, 6, 6, generator=g), 1)
    feats = torch.randn(1, 5, 6, 6, generator=g)
    segments = torch.randint(0, 4, (1, 6, 6), generator=g)
    e32 = rb.gradient_embeddings(probs, feats, segments, 4)
    assert e32.dtype == torch.float32
    e64 = rb.gradient_embeddings(probs, feats.double(), segments, 4)
    assert e64.dtype == torch.float64
    torch.testing.assert_close(e32.double(), e64, rtol=1e-5, atol=1e-6)


def _scatter_embeddings(probs, feats, segments, S):
    """The former implementation: one scatter-add per class of (p_c - [y == c]) f."""
    N, C, H, W = probs.shape
    D = feats.shape[1]
    p, f = probs.reshape(N, C, H * W), feats.reshape(N, D, H * W)
    seg = segments.reshape(N, 1, H * W).long()
    y = p.argmax(1)
    out = torch.zeros((N, C, D, S), dtype=p.dtype)
    for c in range(C):
        w = p[:, c] - (y == c).to(p.dtype)
        out[:, c].scatter_add_(2, seg.expand(N, D, H * W), f * w[:, None])
    counts = torch.zeros((N, S), dtype=p.dtype)
    counts.scatter_add_(1, seg[:, 0], torch.ones((N, H * W), dtype=p.dtype))
    return out.permute(0, 3, 1, 2).reshape(N, S, C * D) / counts[..., None]


def test_gradient_embeddings_closed_form_equals_scatter_add_float32():
    g = _gen(11)
    N, C, D, H, W, S = 2, 19, 32, 48, 64, 45
    probs = torch.softmax(2 * torch.randn(N, C, H, W, generator=g), 1)
    feats = torch.relu(torch.randn(N, D, H, W, generator=g))
    segments = torch.randint(0, 40, (N, H, W), generator=g)  # ids 40..44 empty
    got = rb.gradient_embeddings(probs, feats, segments, S)
    want = _scatter_embeddings(probs, feats, segments, S)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5, equal_nan=True)
    assert torch.isnan(got[:, 40:]).all() and not torch.isnan(got[:, :40]).any()


def test_gradient_embeddings_bad_inputs():
    g = _gen(3)
    probs = torch.softmax(torch.randn(1, 3, 4, 4, generator=g), 1)
    feats = torch.randn(1, 2, 4, 4, generator=g)
    seg = torch.zeros(1, 4, 4, dtype=torch.long)
    with pytest.raises(ValueError, match='softmax'):
        rb.gradient_embeddings(torch.randn(1, 3, 4, 4, generator=g), feats, seg, 1)  # logits
    with pytest.raises(ValueError, match=r'feats must have shape \(1, D, 4, 4\)'):
        rb.gradient_embeddings(probs, feats[..., :3], seg, 1)
    with pytest.raises(ValueError, match='segment ids'):
        rb.gradient_embeddings(probs, feats, seg + 1, 1)
    with pytest.raises(ValueError, match='segments'):
        rb.gradient_embeddings(probs, feats, seg[:, :3], 1)
    bad = feats.clone()
    bad[0, 0, 0, 0] = float('nan')
    with pytest.raises(ValueError, match='feats must be finite'):
        rb.gradient_embeddings(probs, bad, seg, 1)
    with pytest.raises(ValueError, match=r'probs must be a floating \(N, C, H, W\)'):
        rb.gradient_embeddings(probs[0], feats, seg, 1)

# ----------------------------------------------------------------------------- region_edge_fraction


def test_region_edge_fraction_matches_naive():
    g = _gen(4)
    edges = torch.rand(2, 7, 5, generator=g) > 0.6
    segments = torch.randint(0, 4, (2, 7, 5), generator=g)
    got = rb.region_edge_fraction(edges, segments, 6)
    assert got.shape == (2, 6) and got.dtype == torch.float64
    for n in range(2):
        for s in range(6):
            mask = segments[n] == s
            if mask.any():
                assert got[n, s].item() == pytest.approx(edges[n][mask].double().mean().item())
            else:
                assert torch.isnan(got[n, s])


def test_region_edge_fraction_with_canny_edges():
    img = np.zeros((32, 32, 3), np.uint8)
    img[8:24, 4:12] = 255  # a bright box in the left half
    edges = canny_edges(img)[None]
    segments = torch.zeros(1, 32, 32, dtype=torch.long)
    segments[0, :, 16:] = 1  # right half: flat
    frac = rb.region_edge_fraction(edges, segments, 2)[0]
    assert frac[0] > 0.05 and frac[1] == 0


def test_region_edge_fraction_bad_inputs():
    seg = torch.zeros(1, 4, 4, dtype=torch.long)
    with pytest.raises(ValueError, match='edges must be a bool'):
        rb.region_edge_fraction(torch.full((1, 4, 4), 255, dtype=torch.uint8), seg, 1)
    with pytest.raises(ValueError, match='segments'):
        rb.region_edge_fraction(torch.zeros(1, 4, 5, dtype=torch.bool), seg, 1)
    with pytest.raises(ValueError, match='segment ids'):
        rb.region_edge_fraction(torch.zeros(1, 4, 4, dtype=torch.bool), seg - 1, 1)

# ----------------------------------------------------------------------------- badge_order


def test_badge_first_is_largest_norm_no_duplicates_deterministic():
    x = torch.randn(40, 6, generator=_gen(5))
    x[17] *= 10
    order = rb.badge_order(x, 12, seed=3)
    assert order.dtype == torch.long and order.shape == (12,)
    assert int(order[0]) == 17
    assert len(set(order.tolist())) == 12
    assert torch.equal(order, rb.badge_order(x, 12, seed=3))
    assert not torch.equal(order, rb.badge_order(x, 12, seed=4))
    full = rb.badge_order(x, 100)  # count > M: a permutation of all rows
    assert sorted(full.tolist()) == list(range(40))


def test_badge_spreads_over_separated_blobs():
    x = _blobs([[0, 0, 0], [50, 0, 0], [0, 50, 0], [0, 0, 50]], per=10, spread=0.05)
    for seed in range(5):
        order = rb.badge_order(x, 4, seed=seed)
        assert _blob_of(order, 10) == [0, 1, 2, 3]


def test_badge_samples_proportional_to_squared_distance():
    # row 0 has the largest norm; rows 1 and 2 lie at distance 1 and 2 from it:
    # D^2 sampling draws row 2 with probability 4 / 5 (distance sampling would give 2 / 3)
    x = torch.tensor([[10.0, 0.0], [9.0, 0.0], [8.0, 0.0]])
    picks = [int(rb.badge_order(x, 2, seed=s)[1]) for s in range(400)]
    share = picks.count(2) / 400
    assert 0.75 < share < 0.85


def test_badge_duplicates_fall_back_to_lowest_unchosen():
    x = torch.tensor([[1.0, 1.0], [1.0, 1.0], [3.0, 0.0], [1.0, 1.0]])
    # largest norm is row 2; then only the duplicates remain at distance > 0 -> D^2 picks
    # one of them, after that everything left has distance 0 -> lowest unchosen index
    order = rb.badge_order(x, 4).tolist()
    assert order[0] == 2 and order[1] in (0, 1, 3)
    rest = sorted({0, 1, 3} - {order[1]})
    assert order[2:] == rest
    same = torch.ones(3, 2)
    assert rb.badge_order(same, 3).tolist() == [0, 1, 2]


def test_badge_empty_and_bad_inputs():
    x = torch.randn(5, 3, generator=_gen(6))
    assert rb.badge_order(x, 0).shape == (0,)
    assert rb.badge_order(x, 0).dtype == torch.long
    assert rb.badge_order(torch.empty(0, 3), 4).shape == (0,)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match='count'):
            rb.badge_order(x, bad)
    bad = x.clone()
    bad[1, 1] = float('nan')
    with pytest.raises(ValueError, match='embeddings must be finite'):
        rb.badge_order(bad, 2)
    with pytest.raises(ValueError, match=r'embeddings must be a floating \(M, D\)'):
        rb.badge_order(x[0], 2)

# ----------------------------------------------------------------------------- redal_order


def _naive_greedy(score, labels, decay, count):
    s = score.numpy().astype(np.float64).copy()
    lab = labels.numpy()
    left = np.ones(len(s), bool)
    out = []
    for _ in range(count):
        i = int(np.argmax(np.where(left, s, -np.inf)))
        out.append(i)
        left[i] = False
        s[left & (lab == lab[i])] *= decay
    return out


def test_redal_decayed_order_equals_literal_greedy():
    g = _gen(7)
    score = torch.rand(60, generator=g, dtype=torch.float64)
    score[:5] = 0.0  # zero scores and exact ties
    score[10] = score[11]
    labels = torch.randint(0, 5, (60,), generator=g)
    for decay in (1.0, 0.9, 0.5, 0.1):
        got = rb._decayed_order(score, labels, decay).tolist()
        assert got == _naive_greedy(score, labels, decay, 60)


def test_redal_decay_one_is_plain_score_order():
    g = _gen(8)
    feats = torch.randn(30, 4, generator=g)
    ent, edge = torch.rand(30, generator=g), torch.rand(30, generator=g)
    order = rb.redal_order(ent, edge, feats, 30, edge_weight=0.5, decay=1.0, n_clusters=3)
    want = torch.sort(ent.double() + 0.5 * edge.double(), descending=True, stable=True).indices
    assert torch.equal(order, want)
    # default n_clusters = min(500, M): every region its own cluster -> the same order
    assert torch.equal(rb.redal_order(ent, edge, feats, 30, edge_weight=0.5), want)
    assert torch.equal(rb.redal_order(ent, edge, feats, 7, edge_weight=0.5), want[:7])


def test_redal_small_decay_spreads_over_clusters():
    feats = _blobs([[0, 0], [40, 0]], per=10, spread=0.1, dtype=torch.float32)
    ent = torch.cat([torch.linspace(1.0, 0.9, 10), torch.linspace(0.6, 0.5, 10)])
    edge = torch.zeros(20)
    plain = rb.redal_order(ent, edge, feats, 4, decay=1.0, n_clusters=2)
    assert _blob_of(plain, 10) == [0, 0, 0, 0]
    spread = rb.redal_order(ent, edge, feats, 4, decay=0.5, n_clusters=2)
    assert _blob_of(spread, 10) == [0, 0, 1, 1]
    assert spread.tolist() == [0, 10, 1, 11]  # 1.0, 0.6 > 0.99 * 0.5, 0.99 * 0.5 > 0.6 * 0.5


def test_redal_edge_weight_raises_edge_heavy_regions():
    feats = torch.randn(3, 2, generator=_gen(9))
    ent = torch.tensor([1.0, 0.8, 0.7])
    edge = torch.tensor([0.0, 0.5, 0.1])
    assert rb.redal_order(ent, edge, feats, 3, edge_weight=0.0).tolist() == [0, 1, 2]
    assert rb.redal_order(ent, edge, feats, 3, edge_weight=1.0).tolist() == [1, 0, 2]


def test_redal_empty_and_bad_inputs():
    feats = torch.randn(4, 2, generator=_gen(10))
    ent, edge = torch.rand(4), torch.rand(4)
    assert rb.redal_order(ent, edge, feats, 0).shape == (0,)
    assert rb.redal_order(torch.empty(0), torch.empty(0), torch.empty(0, 2), 3).shape == (0,)
    with pytest.raises(ValueError, match=r'entropy must have shape \(4,\)'):
        rb.redal_order(ent[:3], edge, feats, 2)
    with pytest.raises(ValueError, match=r'edge must be a floating \(4,\) tensor'):
        rb.redal_order(ent, edge[:, None], feats, 2)
    with pytest.raises(ValueError, match='entropy must be >= 0'):
        rb.redal_order(-ent, edge, feats, 2)
    for decay in (0, 1.5, float('nan')):
        with pytest.raises(ValueError, match='decay'):
            rb.redal_order(ent, edge, feats, 2, decay=decay)
    with pytest.raises(ValueError, match='n_clusters'):
        rb.redal_order(ent, edge, feats, 2, n_clusters=0)
    with pytest.raises(ValueError, match='edge_weight'):
        rb.redal_order(ent, edge, feats, 2, edge_weight=-1.0)
    bad = ent.clone()
    bad[0] = float('nan')
    with pytest.raises(ValueError, match='entropy must be finite'):
        rb.redal_order(bad, edge, feats, 2)

# ----------------------------------------------------------------------------- aada_scores


def test_aada_target_like_regions_outrank_source_like():
    g = _gen(11)
    src = torch.randn(80, 5, generator=g)
    near = torch.randn(30, 5, generator=g)  # source-like target regions
    far = torch.randn(30, 5, generator=g) + torch.tensor([8.0, 0, 0, 0, 0])
    tgt = torch.cat([near, far])
    ent = torch.ones(60)
    s = rb.aada_scores(src, tgt, ent)
    assert s.shape == (60,) and s.dtype == torch.float64 and torch.isfinite(s).all()
    assert s[30:].min() > s[:30].max()
    assert s[:30].median() < 1 < s[30:].median()  # w = p_T / p_S estimate: < 1 near source
    # the weight depends on the features only: scores scale with the entropy
    ent2 = torch.rand(60, generator=g, dtype=torch.float64)
    torch.testing.assert_close(rb.aada_scores(src, tgt, ent2), s * ent2)
    assert torch.equal(rb.aada_scores(src, tgt, ent), s)  # deterministic


def test_aada_far_target_stays_finite():
    src = torch.zeros(10, 2, dtype=torch.float64) + 0.01 * torch.randn(10, 2, generator=_gen(12),
                                                                        dtype=torch.float64)
    tgt = src + 1e4
    s = rb.aada_scores(src, tgt, torch.ones(10, dtype=torch.float64))
    assert torch.isfinite(s).all() and (s > 1).all()


def test_aada_empty_and_bad_inputs():
    src, tgt = torch.randn(6, 3), torch.randn(4, 3)
    assert rb.aada_scores(src, torch.empty(0, 3), torch.empty(0)).shape == (0,)
    with pytest.raises(ValueError, match=r'tgt_feats must have shape \(M, 3\)'):
        rb.aada_scores(src, torch.randn(4, 2), torch.ones(4))
    with pytest.raises(ValueError, match=r'entropy must have shape \(4,\)'):
        rb.aada_scores(src, tgt, torch.ones(5))
    with pytest.raises(ValueError, match='src_feats must have at least 1 row'):
        rb.aada_scores(torch.empty(0, 3), tgt, torch.ones(4))
    bad = src.clone()
    bad[2, 2] = float('inf')
    with pytest.raises(ValueError, match='src_feats must be finite'):
        rb.aada_scores(bad, tgt, torch.ones(4))

# ----------------------------------------------------------------------------- clue_order


def test_clue_one_pick_per_blob_heaviest_first():
    feats = _blobs([[0, 0], [30, 0], [0, 30]], per=8, spread=0.2)
    ent = torch.cat([torch.full((8,), 0.5), torch.full((8,), 2.0), torch.full((8,), 1.0)])
    ent = ent.double() + 0.01 * torch.rand(24, generator=_gen(13), dtype=torch.float64)
    order = rb.clue_order(feats, ent, 3)
    assert [int(i) // 8 for i in order] == [1, 2, 0]  # total entropy 2.0 > 1.0 > 0.5
    for i in order.tolist():  # each pick is its blob's member nearest the weighted centroid
        b = slice(i // 8 * 8, i // 8 * 8 + 8)
        w = ent[b]
        centre = (w[:, None] * feats[b]).sum(0) / w.sum()
        assert i == b.start + int(((feats[b] - centre) ** 2).sum(1).argmin())


def test_clue_entropy_weights_move_the_centroid():
    feats = torch.tensor([[0.0], [1.0], [2.0], [3.0], [10.0]])
    # unweighted mean 3.2 -> nearest row 3; the heavy row 4 pulls the centroid to ~10
    assert rb.clue_order(feats, torch.tensor([0.01, 0.01, 0.01, 0.01, 5.0]), 1).tolist() == [4]
    assert rb.clue_order(feats, torch.zeros(5), 1).tolist() == [3]  # all 0 -> uniform
    assert rb.clue_order(feats, torch.ones(5), 1).tolist() == [3]


def test_clue_count_at_least_m_orders_every_region_by_weight():
    feats = torch.randn(6, 3, generator=_gen(14))
    ent = torch.tensor([0.3, 0.9, 0.1, 0.5, 0.7, 0.2])
    assert rb.clue_order(feats, ent, 10).tolist() == [1, 4, 3, 0, 5, 2]


def test_clue_empty_and_bad_inputs():
    feats = torch.randn(5, 2, generator=_gen(15))
    assert rb.clue_order(feats, torch.ones(5), 0).shape == (0,)
    assert rb.clue_order(torch.empty(0, 2), torch.empty(0), 3).shape == (0,)
    with pytest.raises(ValueError, match=r'entropy must have shape \(5,\)'):
        rb.clue_order(feats, torch.ones(4), 2)
    with pytest.raises(ValueError, match='entropy must be >= 0'):
        rb.clue_order(feats, -torch.ones(5), 2)
    with pytest.raises(ValueError, match='count'):
        rb.clue_order(feats, torch.ones(5), -2)
    with pytest.raises(ValueError, match=r'entropy must be a floating \(5,\)'):
        rb.clue_order(feats, torch.ones(5, dtype=torch.long), 2)
    with pytest.raises(ValueError, match='seed'):
        rb.clue_order(feats, torch.ones(5), 2, seed=-1)
