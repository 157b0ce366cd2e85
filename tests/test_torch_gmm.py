"""The torch full-covariance GMM (mmseg_ext.active.torch_gmm) against sklearn's, and ADeADA's
importance with gmm_backend='torch' against the default sklearn one."""
import numpy as np
import pytest
import torch

from mmseg_ext.active import adeada
from mmseg_ext.active.torch_gmm import fit_score


def _mixture(n, dim, centres, seed, spread=1.0):
    rng = np.random.default_rng(seed)
    c = rng.integers(0, len(centres), n)
    return torch.from_numpy(np.asarray(centres)[c] + spread * rng.standard_normal((n, dim)))


def test_fit_score_matches_sklearn_score_samples():
    from sklearn.mixture import GaussianMixture
    rng = np.random.default_rng(0)
    centres = 4 * rng.standard_normal((3, 6))
    fit_x = _mixture(600, 6, centres, 1)
    score_x = _mixture(200, 6, centres + 0.5, 2)
    for k in (1, 3):
        gmm = GaussianMixture(k, covariance_type='full', random_state=0, n_init=1,
                              max_iter=200).fit(fit_x.numpy())
        want = torch.from_numpy(gmm.score_samples(score_x.numpy()))
        got = fit_score(fit_x, score_x, k, seed=0)
        assert got.dtype == torch.float64 and got.shape == (200,)
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


def test_fit_score_checks_inputs():
    x = torch.randn(10, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match='n_components'):
        fit_score(x, x, 11)
    with pytest.raises(ValueError, match='share dims'):
        fit_score(x, x[:, :2], 2)
    with pytest.raises(ValueError, match='fit_x must be a floating'):
        fit_score(x.long(), x, 2)
    flat = torch.zeros(10, 3, dtype=torch.float64)  # covariance 0 + reg_covar: still PD
    assert torch.isfinite(fit_score(flat, flat, 1)).all()


def test_importance_torch_backend_agrees_with_sklearn_and_ranks_alike():
    rng = np.random.default_rng(3)
    C, D = 3, 8
    means = 3 * rng.standard_normal((C, D))
    ys = rng.integers(0, C, 900)
    yt = rng.integers(0, C, 700)
    xs = torch.from_numpy(means[ys] + rng.standard_normal((900, D)))
    shift = np.where(rng.random(700) < 0.2, 4.0, 0.0)[:, None]  # 20 % target regions off-source
    xt = torch.from_numpy(means[yt] + shift + rng.standard_normal((700, D)))
    yt[:1] = 2
    ys_t, yt_t = torch.from_numpy(ys), torch.from_numpy(yt)
    ref = adeada.importance(xs, ys_t, xt, yt_t, C, seed=0, n_jobs=1)
    got = adeada.importance(xs, ys_t, xt, yt_t, C, seed=0, gmm_backend='torch')
    assert got.dtype == ref.dtype and torch.equal(torch.isnan(got), torch.isnan(ref))
    torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-6, equal_nan=True)
    top = 100
    assert set(torch.argsort(got, descending=True)[:top].tolist()) == set(
        torch.argsort(ref, descending=True)[:top].tolist())
    with pytest.raises(ValueError, match='gmm_backend'):
        adeada.importance(xs, ys_t, xt, yt_t, C, gmm_backend='cuda')
    with pytest.raises(ValueError, match="torch tensor for gmm_backend='torch'"):
        adeada.importance(xs.numpy(), ys, xt.numpy(), yt, C, gmm_backend='torch')


def test_importance_torch_backend_skips_classes_like_sklearn():
    g = torch.Generator().manual_seed(0)
    xs = torch.randn(30, 4, generator=g, dtype=torch.float64)
    xt = torch.randn(20, 4, generator=g, dtype=torch.float64)
    ys = torch.tensor([0] * 29 + [1])  # class 1: one source region, K = 1 -> skip (< 2)
    yt = torch.tensor([0] * 10 + [1] * 9 + [2])  # class 2: one target region -> skip
    ref = adeada.importance(xs, ys, xt, yt, 3, n_jobs=1)
    got = adeada.importance(xs, ys, xt, yt, 3, gmm_backend='torch')
    assert torch.isnan(got[10:]).all() and torch.isnan(ref[10:]).all()
    torch.testing.assert_close(got[:10], ref[:10], rtol=1e-6, atol=1e-6)
