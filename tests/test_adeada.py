"""ADeADA / D2ADA density acquisition: schedule, class budgets, per-class GMM importance,
region pooling (mmseg_ext.active.adeada)."""
import math

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from mmseg_ext.active import adeada

# ----------------------------------------------------------------------------- density_fraction


def test_density_fraction_paper_halves_each_round():
    got = [adeada.density_fraction(r, 1.0, 1.0) for r in (1, 2, 3, 4)]
    assert got == [1.0, 0.5, 0.25, 0.125]
    assert adeada.density_fraction(3, 0.8, 0.5, 'paper') == pytest.approx(0.8 * 2 ** -1.0)
    assert isinstance(adeada.density_fraction(1, 1, 1), float)


def test_density_fraction_reference_off_by_one():
    # the code starts at s = 0 with Lambda = alpha * 2**(beta * (1 - s))
    assert adeada.density_fraction(1, 1.0, 1.0, 'reference') == 2.0  # > 1, unclipped
    assert adeada.density_fraction(1, 0.3, 2.0, 'reference') == pytest.approx(0.3 * 2 ** 2.0)
    assert adeada.density_fraction(2, 0.3, 2.0, 'reference') == pytest.approx(0.3)
    for r in (1, 2, 5):  # reference round r is paper round r - 1
        ref = adeada.density_fraction(r + 1, 0.7, 1.5, 'reference')
        assert ref == pytest.approx(adeada.density_fraction(r, 0.7, 1.5, 'paper'))


def test_density_fraction_beta_zero_is_constant():
    for idx in ('paper', 'reference'):
        assert {adeada.density_fraction(r, 0.4, 0, idx) for r in (1, 2, 9)} == {0.4}


@pytest.mark.parametrize('args, match', [
    ((1, -0.1, 1.0), 'alpha'),
    ((1, 1.0, -1), 'beta'),
    ((0, 1.0, 1.0), 'round_index'),
    ((1.0, 1.0, 1.0), 'round_index'),
    ((1, float('nan'), 1.0), 'alpha'),
])
def test_density_fraction_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        adeada.density_fraction(*args)


def test_density_fraction_unknown_indexing():
    with pytest.raises(ValueError, match='indexing'):
        adeada.density_fraction(1, 1.0, 1.0, indexing='zero')

# ----------------------------------------------------------------------------- class_budgets


SIGMAS = ('reference', 'log', 'uniform')


def _check_budget_invariants(kl, total, b):
    kl = np.asarray(kl, dtype=np.float64)
    assert b.dtype == torch.long and b.shape == kl.shape
    b = b.numpy()
    assert b.sum() == total
    assert (b >= 0).all()
    assert (b[np.isnan(kl)] == 0).all()
    p = np.flatnonzero(~np.isnan(kl))
    for i in p:
        for j in p:
            if kl[i] > kl[j]:
                assert b[i] >= b[j], (kl, b)
            elif kl[i] == kl[j]:
                assert abs(b[i] - b[j]) <= 1, (kl, b)


def _log_weight(kl):
    return np.log1p(np.logaddexp(0.0, kl))  # log1p(softplus(KL)) without overflow


@pytest.mark.parametrize('sigma', SIGMAS)
def test_class_budgets_basic(sigma):
    kl = torch.tensor([0.5, float('nan'), 3.0, 40.0, 0.2, float('nan')])
    b = adeada.class_budgets(kl, 100, sigma)
    _check_budget_invariants(kl, 100, b)
    assert b[1] == 0 and b[5] == 0
    assert adeada.class_budgets(kl, 0, sigma).tolist() == [0] * 6


def test_class_budgets_reference_values():
    # weights max(int(log10 KL), 1): [1, 1, 2]; quotas 2.5, 2.5, 5 -> tie goes to larger KL
    kl = torch.tensor([5.0, 50.0, 500.0, float('nan')], dtype=torch.float64)
    assert adeada.class_budgets(kl, 10, 'reference').tolist() == [2, 3, 5, 0]
    # int(log10(2000)) = 3; KL <= 0 has no log: smallest weight 1
    kl = torch.tensor([-3.0, 0.0, 0.5, 50.0, 2000.0])
    assert adeada.class_budgets(kl, 70, 'reference').tolist() == [10, 10, 10, 10, 30]


def test_class_budgets_reference_small_kl_no_hang():
    # all int(log10(KL)) are 0 (or -0) for KL in (0.1, 10): the reference loops forever here
    kl = torch.tensor([0.11, 9.9, 1.0, 0.5, 5.0, 0.2, 2.0])
    b = adeada.class_budgets(kl, 23, 'reference')
    _check_budget_invariants(kl, 23, b)
    assert b.max() - b.min() <= 1  # equal weights
    assert b[1] == 4 and b[0] == 3  # the 2 extra units go to the two largest KL (9.9, 5.0)
    assert b[4] == 4


def test_class_budgets_uniform_ties_go_to_larger_kl():
    assert adeada.class_budgets(np.array([3.0, 1.0, 2.0]), 4, 'uniform').tolist() == [2, 1, 1]
    assert adeada.class_budgets(np.array([1.0, 3.0, 2.0]), 5, 'uniform').tolist() == [1, 2, 2]


def test_class_budgets_log_is_proportional_to_documented_weight():
    kl = np.array([0.3, 2.0, 7.0, -1.0, 15.0])
    total = 1000
    quota = total * _log_weight(kl) / _log_weight(kl).sum()
    b = adeada.class_budgets(kl, total, 'log').numpy()
    assert np.all(np.abs(b - quota) < 1)
    assert np.all(np.diff(b[np.argsort(kl)]) >= 0)


@pytest.mark.parametrize('sigma', SIGMAS)
def test_class_budgets_random_properties(sigma):
    rng = np.random.default_rng(0)
    for _ in range(300):
        C = int(rng.integers(1, 25))
        kl = rng.choice([-2.0, 0.0, 0.05, 0.5, 1.0, 9.0, 10.0, 99.0, 1e3, 1e5], size=C)
        kl = np.where(rng.random(C) < 0.5, kl * rng.random(C) * 3, kl)  # ties and non-ties
        kl[rng.random(C) < 0.2] = np.nan
        total = int(rng.integers(0, 500))
        if np.isnan(kl).all() and total > 0:
            kl[0] = 1.0
        b = adeada.class_budgets(torch.from_numpy(kl), total, sigma)
        _check_budget_invariants(kl, total, b)
        if sigma == 'log' and total:
            p = ~np.isnan(kl)
            quota = total * _log_weight(kl[p]) / _log_weight(kl[p]).sum()
            assert np.all(np.abs(b.numpy()[p] - quota) < 1)


@pytest.mark.parametrize('kwargs, match', [
    (dict(kl=torch.ones(3), total=-1), 'total'),
    (dict(kl=torch.ones(3), total=2.0), 'total'),
    (dict(kl=torch.ones(3), total=True), 'total'),
    (dict(kl=torch.ones(2, 3), total=5), 'kl must be 1-D'),
    (dict(kl=torch.ones(3), total=5, sigma='sqrt'), 'sigma'),
    (dict(kl=torch.full((3,), float('nan')), total=5), 'every class is absent'),
    (dict(kl=torch.tensor([1.0, float('inf')]), total=5), 'finite'),
    (dict(kl=[1.0, 2.0], total=5), 'torch tensor or numpy'),
])
def test_class_budgets_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        adeada.class_budgets(**kwargs)


def test_class_budgets_all_absent_zero_total():
    assert adeada.class_budgets(torch.full((3,), float('nan')), 0).tolist() == [0, 0, 0]

# ----------------------------------------------------------------------------- importance


def _problem(dtype=np.float64, seed=0):
    """Shuffled regions of 6 classes in 3-D with several small-class edge cases.

    class 0: 250 target (K=2), 300 source   class 1: 120 target (K=1), 4 source
    class 2: 1 target (skip: N_T < 2)       class 3: 40 target, no source (skip)
    class 4: 230 target (K=2), 1 source (skip: N_S < K)   class 5: absent
    """
    rng = np.random.default_rng(seed)
    n_t = {0: 250, 1: 120, 2: 1, 3: 40, 4: 230}
    n_s = {0: 300, 1: 4, 2: 7, 4: 1}

    def draw(counts, shift):
        cls = np.concatenate([np.full(n, c) for c, n in counts.items()])
        cls = cls[rng.permutation(len(cls))]
        centers = np.array([[0, 0, 0], [4, 0, 0], [0, 4, 0], [0, 0, 4], [4, 4, 4]], float)
        x = centers[cls] + shift * (cls[:, None] == 0) + rng.normal(size=(len(cls), 3))
        x[cls == 0] += rng.choice([-2.0, 2.0], size=(int((cls == 0).sum()), 1))  # 2 modes
        return x.astype(dtype), cls.astype(np.int64)

    xs, ys = draw(n_s, 0.0)
    xt, yt = draw(n_t, 0.5)
    return xs, ys, xt, yt


def _direct(xs, ys, xt, yt, c, k, seed=0):
    """The plain per-class sklearn computation of log d_T - log d_S (one BLAS thread, as
    documented: the thread count changes rounding)."""
    t = xt[yt == c]

    def gmm():
        return GaussianMixture(n_components=k, covariance_type='full', random_state=seed,
                               n_init=1, max_iter=200)
    with threadpool_limits(limits=1):
        return gmm().fit(t).score_samples(t) - gmm().fit(xs[ys == c]).score_samples(t)


@pytest.mark.parametrize('n_jobs', [1, 2])
def test_importance_equals_direct_sklearn(n_jobs):
    xs, ys, xt, yt = _problem()
    got = adeada.importance(xs, ys, xt, yt, num_classes=6, seed=3, n_jobs=n_jobs)
    assert isinstance(got, np.ndarray) and got.shape == (len(xt),) and got.dtype == np.float64
    np.testing.assert_array_equal(got[yt == 0], _direct(xs, ys, xt, yt, 0, 2, seed=3))
    np.testing.assert_array_equal(got[yt == 1], _direct(xs, ys, xt, yt, 1, 1, seed=3))
    assert np.isnan(got[np.isin(yt, [2, 3, 4])]).all()
    assert np.isfinite(got[np.isin(yt, [0, 1])]).all()


def test_importance_max_components_and_loky_backend():
    xs, ys, xt, yt = _problem(seed=1)
    got = adeada.importance(xs, ys, xt, yt, 6, max_components=1, n_jobs=2, backend='loky')
    np.testing.assert_array_equal(got[yt == 0], _direct(xs, ys, xt, yt, 0, 1))
    # K = clip(230 // 100, 1, 1) = 1 <= N_S = 1 but N_S < 2 still skips class 4
    assert np.isnan(got[yt == 4]).all()


def test_importance_same_for_any_n_jobs_and_backend():
    # 32-d, 4 classes of 320 regions (K=3): BLAS-sized fits, run in several workers
    rng = np.random.default_rng(2)
    xs, xt = rng.normal(size=(1280, 32)), rng.normal(size=(1280, 32)) + 0.3
    ys, yt = rng.permutation(np.arange(1280) % 4), rng.permutation(np.arange(1280) % 4)
    ref = adeada.importance(xs, ys, xt, yt, 4, seed=5, n_jobs=1)
    for kw in (dict(n_jobs=2), dict(n_jobs=-1), dict(n_jobs=2, backend='loky')):
        np.testing.assert_array_equal(adeada.importance(xs, ys, xt, yt, 4, seed=5, **kw), ref)
    np.testing.assert_array_equal(ref[yt == 3], _direct(xs, ys, xt, yt, 3, 3, seed=5))


def test_importance_shifted_class_scores_higher():
    # class 0 target is shifted from source, class 1 is not: larger KL(d_T || d_S)
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(400, 2))
    xt = rng.normal(size=(400, 2))
    ys = yt = np.repeat([0, 1], 200)
    xt[:200] += 3.0
    s = adeada.importance(xs, ys, xt, yt, 2)
    kl = adeada.class_kl(s, yt, 2)
    assert kl[0] > kl[1] + 1.0
    b = adeada.class_budgets(torch.from_numpy(kl), 10, 'log')
    assert b[0] > b[1] and b.sum() == 10


def test_importance_torch_float32_roundtrip():
    xs, ys, xt, yt = _problem(np.float32)
    got = adeada.importance(torch.from_numpy(xs), torch.from_numpy(ys),
                            torch.from_numpy(xt), torch.from_numpy(yt), 6, n_jobs=2)
    assert torch.is_tensor(got) and got.dtype == torch.float32 and got.shape == (len(xt),)
    np.testing.assert_array_equal(got.numpy()[yt == 0], _direct(xs, ys, xt, yt, 0, 2))
    assert torch.isnan(got[torch.from_numpy(yt) == 2]).all()


def test_importance_mixed_dtypes_use_common_type():
    xs, ys, xt, yt = _problem()
    got = adeada.importance(xs.astype(np.float32), ys, xt, yt, 6, n_jobs=1)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(
        got[yt == 1], _direct(xs.astype(np.float32).astype(np.float64), ys, xt, yt, 1, 1))


def test_importance_empty_and_all_skipped():
    xs, ys = np.zeros((0, 4)), np.zeros(0, np.int64)
    xt, yt = np.ones((3, 4)), np.array([0, 1, 2])
    got = adeada.importance(xs, ys, xt, yt, 3)
    assert got.shape == (3,) and np.isnan(got).all()
    assert adeada.importance(np.ones((5, 4)), np.zeros(5, int), np.zeros((0, 4)),
                             np.zeros(0, int), 3).shape == (0,)


@pytest.mark.parametrize('change, match', [
    (dict(tgt_feats=np.zeros((10, 4))), 'feature dims differ'),
    (dict(src_cls=np.full(20, 3)), r'src_cls class ids must be in \[0, 3\)'),
    (dict(tgt_cls=np.full(10, -1)), r'tgt_cls class ids must be in \[0, 3\)'),
    (dict(max_components=0), 'max_components'),
    (dict(num_classes=0), 'num_classes'),
    (dict(src_feats=np.zeros(20)), 'src_feats must be 2-D'),
    (dict(tgt_cls=np.zeros(9, int)), 'tgt_cls must be 1-D with 10'),
    (dict(tgt_cls=np.zeros(10)), 'integer class ids'),
    (dict(src_feats=np.full((20, 3), np.nan)), 'finite'),
    (dict(backend='dask'), 'backend'),
    (dict(n_jobs=0), 'n_jobs'),
])
def test_importance_bad_inputs(change, match):
    kwargs = dict(src_feats=np.zeros((20, 3)), src_cls=np.zeros(20, int),
                  tgt_feats=np.zeros((10, 3)), tgt_cls=np.zeros(10, int), num_classes=3)
    kwargs.update(change)
    with pytest.raises(ValueError, match=match):
        adeada.importance(**kwargs)

# ----------------------------------------------------------------------------- class_kl


def test_class_kl_means_finite_scores():
    s = np.array([1.0, 3.0, np.nan, 2.0, np.nan, -4.0])
    y = np.array([0, 0, 1, 2, 2, 2])
    kl = adeada.class_kl(s, y, 4)
    np.testing.assert_array_equal(kl, [2.0, np.nan, -1.0, np.nan])
    t = adeada.class_kl(torch.from_numpy(s.astype(np.float32)), torch.from_numpy(y), 4)
    assert torch.is_tensor(t) and t.dtype == torch.float32
    np.testing.assert_array_equal(t.numpy(), kl.astype(np.float32))

# ----------------------------------------------------------------------------- pooling


def _loop_means(feats, segments, S):
    N, D = feats.shape[:2]
    out = torch.full((N, S, D), float('nan'), dtype=feats.dtype)
    for n in range(N):
        for s in range(S):
            m = segments[n] == s
            if m.any():
                out[n, s] = feats[n][:, m].mean(1)
    return out


def test_region_means_and_classes_match_loops():
    g = torch.Generator().manual_seed(0)
    N, D, H, W, S = 2, 5, 6, 7, 9
    feats = torch.randn(N, D, H, W, generator=g, dtype=torch.float64)
    segments = torch.randint(0, S - 1, (N, H, W), generator=g)  # id S - 1 is empty
    segments[1, 0, 0] = S - 1  # ... except in image 1
    means = adeada.region_means(feats, segments, S)
    assert means.shape == (N, S, D)
    torch.testing.assert_close(means, _loop_means(feats, segments, S), equal_nan=True)
    assert torch.isnan(means[0, S - 1]).all() and not torch.isnan(means[1]).any()

    probs = torch.softmax(torch.randn(N, 4, H, W, generator=g, dtype=torch.float64), 1)
    cls = adeada.region_classes(probs, segments, S)
    expect = _loop_means(probs, segments, S).argmax(2)
    expect[0, S - 1] = -1
    assert cls.dtype == torch.long and torch.equal(cls, expect)


def test_region_classes_tie_goes_to_lowest_class():
    probs = torch.full((1, 3, 2, 2), 1 / 3)
    cls = adeada.region_classes(probs, torch.zeros(1, 2, 2, dtype=torch.long), 2)
    assert cls.tolist() == [[0, -1]]


@pytest.mark.parametrize('seg, match', [
    (torch.zeros(1, 3, 3, dtype=torch.long), 'segments must be a'),
    (torch.zeros(1, 4, 4), 'integer ids'),
    (torch.full((1, 4, 4), 5), r'segment ids must be in \[0, 5\)'),
])
def test_region_means_bad_segments(seg, match):
    with pytest.raises(ValueError, match=match):
        adeada.region_means(torch.zeros(1, 2, 4, 4), seg, 5)


def test_pooling_bad_inputs():
    with pytest.raises(ValueError, match='num_segments'):
        adeada.region_means(torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long), 0)
    with pytest.raises(ValueError, match='feats must be a'):
        adeada.region_means(torch.zeros(2, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long), 1)


def test_math_sanity_of_reference_weight():
    # the clamped reference weight is monotone in KL and never below 1
    kls = [-1.0, 0.0, 0.09, 0.5, 9.99, 10.0, 99.0, 100.0, 1e4]
    w = [max(int(math.log10(v)), 1) if v > 0 else 1 for v in kls]
    assert w == sorted(w) and min(w) == 1
    b = adeada.class_budgets(torch.tensor(kls, dtype=torch.float64), 1200, 'reference')
    _check_budget_invariants(kls, 1200, b)
