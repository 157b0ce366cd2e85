"""A full-covariance Gaussian mixture fitted by EM in torch, on the data's device: the same
model and the same EM as sklearn's ``GaussianMixture(n_components=K, covariance_type='full',
random_state=seed, n_init=1, max_iter=200)`` with its defaults (tol=1e-3, reg_covar=1e-6,
init_params='kmeans'), which ADeADA / D2ADA fit per class and domain (paper 001, Sec. 3.2,
Eq. 2-4; reference ``gmm_scoring.py``).

``log_density = fit_score(fit_x, score_x, n_components, seed=0, max_iter=200, tol=1e-3,
reg_covar=1e-6)``  (M,) log-likelihood of each row of score_x (sklearn's ``score_samples``)
under the mixture fitted on fit_x (N, D); both floating torch tensors on one device; the
result has their dtype and device.

Steps, as sklearn 1.x does them:
1. init: responsibilities = one-hot labels of sklearn ``KMeans(n_clusters=K, n_init=1,
   random_state=seed)`` on fit_x (the only step on the CPU: the class's rows go to the host
   once per fit, so the init is the very same as sklearn's); then one M-step with weights
   nk / N.
2. EM: E-step log responsibilities (log N(x | mu_k, Sigma_k) + log pi_k, normalised with
   logsumexp), M-step nk = sum resp + 10 eps, means, covariances + reg_covar on the diagonal,
   Cholesky factors of the precisions; stop when the mean log-likelihood changes by < tol,
   or after max_iter iterations (sklearn then warns; so does this, once per fit).
3. score: logsumexp_k (log pi_k + log N(x | mu_k, Sigma_k)).
A covariance that is not positive definite raises ValueError (as sklearn's fit).
The results agree with sklearn's to float rounding, not bit for bit (other summation order;
near-singular covariances amplify that); tests/test_torch_gmm.py checks scores and rankings.
"""
import math
import warnings

import numpy as np
import torch

MAX_ITER, TOL, REG_COVAR = 200, 1e-3, 1e-6


def _kmeans_labels(x, n_components, seed):
    from sklearn.cluster import KMeans
    km = KMeans(n_clusters=n_components, n_init=1, random_state=seed)
    return torch.from_numpy(km.fit(x.detach().cpu().numpy()).labels_.astype(np.int64))


def _m_step(x, resp, reg_covar, cls):
    """weights (unnormalised nk), means, precision Cholesky factors (K, D, D)."""
    N, D = x.shape
    nk = resp.sum(0) + 10 * torch.finfo(resp.dtype).eps
    means = (resp.T @ x) / nk[:, None]
    eye = torch.eye(D, dtype=x.dtype, device=x.device)
    covs = torch.empty((means.shape[0], D, D), dtype=x.dtype, device=x.device)
    for k in range(means.shape[0]):
        diff = x - means[k]
        covs[k] = ((resp[:, k] * diff.T) @ diff) / nk[k]
    covs += reg_covar * eye
    chol, info = torch.linalg.cholesky_ex(covs)
    if bool((info != 0).any()):
        raise ValueError(f'{cls}fitting the mixture model failed because some components have '
                         'ill-defined empirical covariance (not positive definite)')
    prec_chol = torch.linalg.solve_triangular(chol, eye.expand_as(chol), upper=False)
    return nk, means, prec_chol.transpose(1, 2)


def _weighted_log_prob(x, weights, means, prec_chol):
    """(N, K) log pi_k + log N(x | mu_k, Sigma_k) (sklearn's _estimate_weighted_log_prob)."""
    N, D = x.shape
    K = means.shape[0]
    log_det = torch.log(torch.diagonal(prec_chol, dim1=1, dim2=2)).sum(1)
    log_prob = torch.empty((N, K), dtype=x.dtype, device=x.device)
    for k in range(K):
        y = x @ prec_chol[k] - means[k] @ prec_chol[k]
        log_prob[:, k] = (y * y).sum(1)
    return -0.5 * (D * math.log(2 * math.pi) + log_prob) + log_det + torch.log(weights)


@torch.no_grad()
def fit_score(fit_x, score_x, n_components, seed=0, max_iter=MAX_ITER, tol=TOL,
              reg_covar=REG_COVAR, cls=None):
    """(M,) log-likelihood of score_x under a GMM fitted on fit_x (see the module docstring)."""
    for name, t in (('fit_x', fit_x), ('score_x', score_x)):
        if not torch.is_tensor(t) or t.ndim != 2 or not t.is_floating_point():
            raise ValueError(f'{name} must be a floating (rows, dims) torch tensor')
    if fit_x.shape[1] != score_x.shape[1] or fit_x.device != score_x.device:
        raise ValueError(f'fit_x {tuple(fit_x.shape)} on {fit_x.device} and score_x '
                         f'{tuple(score_x.shape)} on {score_x.device} must share dims and device')
    N = fit_x.shape[0]
    if not (isinstance(n_components, int) and 1 <= n_components <= N):
        raise ValueError(f'n_components must be an int in [1, {N}] (the fitted rows), got '
                         f'{n_components!r}')
    where = '' if cls is None else f'class {cls}: '
    x = fit_x
    labels = _kmeans_labels(x, n_components, seed).to(x.device)
    resp = torch.zeros((N, n_components), dtype=x.dtype, device=x.device)
    resp[torch.arange(N, device=x.device), labels] = 1
    weights, means, prec_chol = _m_step(x, resp, reg_covar, where)
    weights = weights / N
    lower_bound, converged = -math.inf, False
    for _ in range(max_iter):
        prev = lower_bound
        wlp = _weighted_log_prob(x, weights, means, prec_chol)
        norm = torch.logsumexp(wlp, 1)
        resp = torch.exp(wlp - norm[:, None])
        weights, means, prec_chol = _m_step(x, resp, reg_covar, where)
        weights = weights / weights.sum()
        lower_bound = float(norm.mean())
        if abs(lower_bound - prev) < tol:
            converged = True
            break
    if not converged and max_iter > 0:
        warnings.warn(f'{where}torch GMM (K={n_components}) did not converge in {max_iter} '
                      'iterations')
    return torch.logsumexp(_weighted_log_prob(score_x, weights, means, prec_chol), 1)
