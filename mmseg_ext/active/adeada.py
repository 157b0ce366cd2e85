"""ADeADA / D2ADA density-aware acquisition (Wu et al., ECCV'22): per-class GMM densities of
region features in both domains, their log ratio per target region, and the class budgets.

``f = density_fraction(round_index, alpha, beta, indexing='paper')``
    Share of a round's budget bought by density (the rest by uncertainty). round_index is
    1-based. 'paper': alpha * 2**(-beta * (round_index - 1)) (1, .5, .25, ... for
    alpha = beta = 1). 'reference': the public code's off-by-one, s = round_index - 1 and
    alpha * 2**(beta * (1 - s)), so the first round gives alpha * 2**beta. The value is
    returned unclipped (it can exceed 1, as in the code); callers clip it to [0, 1] when
    splitting a budget, e.g. round(min(f, 1.0) * budget).

``scores = importance(src_feats, src_cls, tgt_feats, tgt_cls, num_classes, max_components=10,
seed=0, *, n_jobs=-1, backend=None, gmm_backend='sklearn')``  (N_T,) log d_T(z) - log d_S(z)
per target region.
    For each class c with N_T target and N_S source regions: K = clip(N_T // 100, 1,
    max_components); sklearn GaussianMixture(K, covariance_type='full', random_state=seed,
    n_init=1, max_iter=200, other arguments default) fitted on the class's target regions and
    (same K) on its source regions, rows in input order; both score the class's target
    regions (score_samples). A class is skipped, NaN for its target regions, when N_T < 2
    (the reference fits only if N_T > 1) or N_S < max(K, 2) (too few to fit K components).
    The reference computes log d_S - log d_T and sorts ascending; the sign here is flipped,
    so a descending sort gives the same order. Features are passed to sklearn as given
    (float32 stays float32, float64 stays float64; only when the domains differ are both
    cast to their common type); the result has that float dtype. float32 is fragile here:
    with 256-d features and ~100-200 regions per component the covariances are singular
    up to reg_covar = 1e-6 and sklearn's float32 Cholesky fails; pass float64 then.
    Every fit runs with one BLAS/OpenMP thread (threadpoolctl), so the result is identical
    for any n_jobs / backend and to a plain sklearn fit + score_samples under
    threadpool_limits(1). (The BLAS thread count changes rounding, which the near-singular
    covariances amplify to ~1e-12..1e-9 relative. Default-threaded OpenBLAS was also slower
    for these fits on 2 cores: 1.4x idle, 5x with other processes busy.) The fits, one
    per (class, domain), run on n_jobs joblib workers: the 'threading' backend by default
    (numpy/BLAS release the GIL; loky processes measured 1.3-2x slower), or backend='loky';
    n_jobs=1 is a plain sequential loop. A failed sklearn fit (e.g. an
    ill-defined covariance) raises ValueError naming the class.
    gmm_backend='torch' fits the same GMMs (same K, init, reg_covar, tol, max_iter, same
    skips) with mmseg_ext.active.torch_gmm on tgt_feats' device (torch tensors only; the
    k-means init runs in sklearn on the host, as sklearn's). It agrees with 'sklearn' to float
    rounding, not bit for bit (tests/test_torch_gmm.py); 'sklearn' (default) is unchanged.

``kl = class_kl(scores, tgt_cls, num_classes)``  (C,) Monte-Carlo KL(d_T || d_S) per class:
    the mean of the finite scores of the class's target regions; NaN without any.

``budgets = class_budgets(kl, total, sigma='log')``  (C,) long, sums to total.
    Classes with NaN KL are absent and get 0. Present classes share total in proportion to
    a weight w(KL): 'reference' max(int(log10(KL)), 1) (the code's int(log10(KL)),
    truncated toward 0, with weights clamped to >= 1 because the reference loops forever on
    weights <= 0; KL <= 0 has no log and gets the smallest weight, 1); 'log'
    log1p(softplus(KL)) = log(1 + log(1 + exp(KL))), i.e. log1p(KL) made positive and
    defined for the negative values a Monte-Carlo estimate can take (it differs from
    log1p(KL) by < exp(-KL) / (1 + KL) for KL > 0); 'uniform' 1. Rounding is largest
    remainder with ties broken toward the larger KL, so a larger KL never gets a smaller
    budget and equal KL differ by at most 1. total > 0 with every class absent raises.

``means = region_means(feats, segments, num_segments)``  (N, S, D) mean of (N, D, H, W)
    features over each superpixel id of (N, H, W) segments; NaN rows for empty ids.
``cls = region_classes(probs, segments, num_segments)``  (N, S) long argmax of the mean
    softmax (N, C, H, W) per superpixel (ties to the lowest class); -1 for empty ids.
    Both need features/probabilities at the segments' resolution (resize before).
"""
import math
import numbers

import numpy as np
import torch

from ..ops.checks import check_int, check_real, check_region_pool

INDEXINGS = ('paper', 'reference')
SIGMAS = ('reference', 'log', 'uniform')
_BACKENDS = ('threading', 'loky')
_MAX_ITER = 200
_REGIONS_PER_COMPONENT = 100  # reference: K_c = clip(|T_c| // 100, 1, 10)


# ----------------------------------------------------------------------------- validation

def _to_numpy(x, name):
    if torch.is_tensor(x):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    raise ValueError(f'{name} must be a torch tensor or numpy array, got {type(x).__name__}')


def _features(x, name):
    a = _to_numpy(x, name)
    if a.ndim != 2:
        raise ValueError(f'{name} must be 2-D (regions, dims), got shape {a.shape}')
    if not np.all(np.isfinite(a)):
        raise ValueError(f'{name} must be finite (no NaN/inf)')
    return a


def _class_ids(x, name, n, num_classes):
    a = _to_numpy(x, name)
    if a.ndim != 1 or a.shape[0] != n:
        raise ValueError(f'{name} must be 1-D with {n} entries, got shape {a.shape}')
    if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f'{name} must hold integer class ids, got dtype {a.dtype}')
    if a.size and (a.min() < 0 or a.max() >= num_classes):
        raise ValueError(f'{name} class ids must be in [0, {num_classes}), '
                         f'got range [{a.min()}, {a.max()}]')
    return a.astype(np.int64, copy=False)


# ----------------------------------------------------------------------------- schedule

def density_fraction(round_index, alpha, beta, indexing='paper'):
    """Density share of round round_index (1-based); unclipped float, see module docstring."""
    check_int('round_index', round_index, 1)
    check_real('alpha', alpha)
    check_real('beta', beta)
    if indexing == 'paper':
        return float(alpha * 2.0 ** (-beta * (round_index - 1)))
    if indexing == 'reference':
        s = round_index - 1  # the code counts rounds from 0 but uses 1 - s
        return float(alpha * 2.0 ** (beta * (1 - s)))
    raise ValueError(f'indexing must be one of {INDEXINGS}, got {indexing!r}')


# ----------------------------------------------------------------------------- densities

def _components(n_target, max_components):
    return int(min(max(n_target // _REGIONS_PER_COMPONENT, 1), max_components))


def _fit_score(fit_x, score_x, n_components, seed, cls):
    """score_samples(score_x) of a GaussianMixture fitted on fit_x (sklearn defaults)."""
    from sklearn.mixture import GaussianMixture
    gmm = GaussianMixture(n_components=n_components, covariance_type='full',
                          random_state=seed, n_init=1, max_iter=_MAX_ITER)
    try:
        gmm.fit(fit_x)
    except (ValueError, np.linalg.LinAlgError) as e:
        msg = ' '.join(str(e).split())
        raise ValueError(f'class {cls}: GaussianMixture(n_components={n_components}) fit on '
                         f'{len(fit_x)} regions failed: {msg}') from e
    return gmm.score_samples(score_x)


def _fit_score_one_thread(*task):
    """_fit_score with one BLAS/OpenMP thread (inside a loky worker process)."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1):
        return _fit_score(*task)


def _run_tasks(tasks, n_jobs, backend):
    """Run the _fit_score argument tuples, each with one BLAS thread; results in task order."""
    from threadpoolctl import threadpool_limits
    if n_jobs == 1 or len(tasks) <= 1:
        with threadpool_limits(limits=1):
            return [_fit_score(*t) for t in tasks]
    from joblib import Parallel, delayed
    # Largest fits first so the last worker is not left alone with a big one.
    order = sorted(range(len(tasks)), key=lambda i: -len(tasks[i][0]))
    if backend == 'loky':
        jobs = (delayed(_fit_score_one_thread)(*tasks[i]) for i in order)
        out = Parallel(n_jobs=n_jobs, backend='loky')(jobs)
    else:
        # Limits are process-wide, so they are set once around all worker threads.
        jobs = (delayed(_fit_score)(*tasks[i]) for i in order)
        with threadpool_limits(limits=1):
            out = Parallel(n_jobs=n_jobs, backend='threading')(jobs)
    results = [None] * len(tasks)
    for i, r in zip(order, out):
        results[i] = r
    return results


def importance(src_feats, src_cls, tgt_feats, tgt_cls, num_classes, max_components=10, seed=0,
               *, n_jobs=-1, backend=None, gmm_backend='sklearn'):
    """(N_T,) log d_T(z) - log d_S(z) per target region, NaN for skipped classes.

    Per-class GMMs as in the module docstring; returns a torch tensor (on tgt_feats' device)
    for a torch tgt_feats, else a numpy array. backend None means 'threading'.
    gmm_backend='torch': the same GMMs fitted by mmseg_ext.active.torch_gmm on tgt_feats'
    device (torch tensors in, fits one after another; n_jobs / backend unused).
    """
    if gmm_backend == 'torch':
        return _importance_torch(src_feats, src_cls, tgt_feats, tgt_cls, num_classes,
                                 max_components, seed)
    if gmm_backend != 'sklearn':
        raise ValueError(f"gmm_backend must be 'sklearn' or 'torch', got {gmm_backend!r}")
    check_int('num_classes', num_classes, 1)
    check_int('max_components', max_components, 1)
    if seed is not None:
        check_int('seed', seed, 0)
    if not isinstance(n_jobs, numbers.Integral) or isinstance(n_jobs, bool) or n_jobs == 0:
        raise ValueError(f'n_jobs must be a nonzero int (joblib semantics), got {n_jobs!r}')
    backend = 'threading' if backend is None else backend
    if backend not in _BACKENDS:
        raise ValueError(f'backend must be None or one of {_BACKENDS}, got {backend!r}')
    xs, xt = _features(src_feats, 'src_feats'), _features(tgt_feats, 'tgt_feats')
    if xs.shape[1] != xt.shape[1]:
        raise ValueError(f'feature dims differ: src_feats {xs.shape[1]}, tgt_feats {xt.shape[1]}')
    ys = _class_ids(src_cls, 'src_cls', xs.shape[0], num_classes)
    yt = _class_ids(tgt_cls, 'tgt_cls', xt.shape[0], num_classes)
    if xs.dtype != xt.dtype:  # one GMM scores the other domain's rows: one dtype
        common = np.result_type(xs.dtype, xt.dtype)
        xs, xt = xs.astype(common, copy=False), xt.astype(common, copy=False)

    tasks, rows = [], []
    for c in range(num_classes):
        t_idx, s_idx = np.flatnonzero(yt == c), np.flatnonzero(ys == c)
        k = _components(len(t_idx), max_components)
        if len(t_idx) < 2 or len(s_idx) < max(k, 2):
            continue  # NaN: too few regions to fit (documented skip)
        t = xt[t_idx]
        tasks += [(t, t, k, seed, c), (xs[s_idx], t, k, seed, c)]
        rows.append(t_idx)
    results = _run_tasks(tasks, n_jobs, backend)

    dtype = results[0].dtype if results else (
        xt.dtype if xt.dtype in (np.float32, np.float64) else np.float64)
    out = np.full(xt.shape[0], np.nan, dtype=dtype)
    for i, t_idx in enumerate(rows):
        out[t_idx] = results[2 * i] - results[2 * i + 1]
    if torch.is_tensor(tgt_feats):
        return torch.from_numpy(out).to(tgt_feats.device)
    return out


def _importance_torch(src_feats, src_cls, tgt_feats, tgt_cls, num_classes, max_components,
                      seed):
    """importance with torch_gmm.fit_score on tgt_feats' device (same classes, K, skips)."""
    from .torch_gmm import fit_score
    check_int('num_classes', num_classes, 1)
    check_int('max_components', max_components, 1)
    if seed is not None:
        check_int('seed', seed, 0)
    for name, x in (('src_feats', src_feats), ('tgt_feats', tgt_feats)):
        if not torch.is_tensor(x) or x.ndim != 2 or not x.is_floating_point():
            raise ValueError(f"{name} must be a floating 2-D torch tensor for gmm_backend="
                             f"'torch'")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f'{name} must be finite (no NaN/inf)')
    if src_feats.shape[1] != tgt_feats.shape[1]:
        raise ValueError(f'feature dims differ: src_feats {src_feats.shape[1]}, '
                         f'tgt_feats {tgt_feats.shape[1]}')
    device = tgt_feats.device
    dtype = torch.promote_types(src_feats.dtype, tgt_feats.dtype)
    xs, xt = src_feats.to(device, dtype), tgt_feats.to(device, dtype)
    ys = torch.as_tensor(_class_ids(src_cls, 'src_cls', xs.shape[0], num_classes),
                         device=device)
    yt = torch.as_tensor(_class_ids(tgt_cls, 'tgt_cls', xt.shape[0], num_classes),
                         device=device)
    out = torch.full((xt.shape[0],), float('nan'), dtype=dtype, device=device)
    counts_t = torch.bincount(yt, minlength=num_classes).tolist()
    counts_s = torch.bincount(ys, minlength=num_classes).tolist()
    for c in range(num_classes):
        k = _components(counts_t[c], max_components)
        if counts_t[c] < 2 or counts_s[c] < max(k, 2):
            continue  # NaN: too few regions to fit (documented skip)
        t_idx = torch.nonzero(yt == c).flatten()
        t = xt[t_idx]
        try:
            log_t = fit_score(t, t, k, seed, cls=c)
            log_s = fit_score(xs[ys == c], t, k, seed, cls=c)
        except ValueError as e:
            raise ValueError(f'class {c}: torch GMM (n_components={k}) fit failed: {e}') from e
        out[t_idx] = log_t - log_s
    return out


def class_kl(scores, tgt_cls, num_classes):
    """(C,) mean of the finite scores per class (Monte-Carlo KL(d_T||d_S)); NaN without any.

    Same kind (torch/numpy) and float dtype as scores.
    """
    check_int('num_classes', num_classes, 1)
    s = _to_numpy(scores, 'scores')
    if s.ndim != 1:
        raise ValueError(f'scores must be 1-D, got shape {s.shape}')
    y = _class_ids(tgt_cls, 'tgt_cls', s.shape[0], num_classes)
    finite = np.isfinite(s)
    sums = np.bincount(y[finite], weights=s[finite].astype(np.float64), minlength=num_classes)
    counts = np.bincount(y[finite], minlength=num_classes)
    with np.errstate(invalid='ignore', divide='ignore'):
        kl = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    dtype = s.dtype if s.dtype in (np.float32, np.float64) else np.float64
    kl = kl.astype(dtype)
    if torch.is_tensor(scores):
        return torch.from_numpy(kl).to(scores.device)
    return kl


# ----------------------------------------------------------------------------- budgets

def _weights(kl, sigma):
    """Positive float64 weights of the present (finite) KL values."""
    if sigma == 'uniform':
        return np.ones_like(kl)
    if sigma == 'log':
        return np.log1p(np.logaddexp(0.0, kl))  # log1p(softplus(KL)) > 0 for every real KL
    # reference: int(log10(KL)) truncates toward 0; clamped to >= 1 (see module docstring)
    return np.array([max(int(math.log10(v)), 1) if v > 0 else 1 for v in kl.tolist()],
                    dtype=np.float64)


def _largest_remainder(weights, keys, total):
    """Integer split of total proportional to weights; remainder ties go to larger keys."""
    quota = total * (weights / weights.sum())
    base = np.floor(quota)
    left = max(int(total - base.sum()), 0)
    # sort by (remainder desc, key desc, index asc)
    order = np.lexsort((np.arange(len(keys)), -keys, -(quota - base)))
    base[order[:left]] += 1
    return base.astype(np.int64)


def class_budgets(kl, total, sigma='log'):
    """(C,) long budgets summing to total; 0 for NaN (absent) classes; see module docstring."""
    if sigma not in SIGMAS:
        raise ValueError(f'sigma must be one of {SIGMAS}, got {sigma!r}')
    if not isinstance(total, numbers.Integral) or isinstance(total, bool) or total < 0:
        raise ValueError(f'total must be an int >= 0, got {total!r}')
    k = _to_numpy(kl, 'kl')
    if k.ndim != 1:
        raise ValueError(f'kl must be 1-D (num_classes,), got shape {k.shape}')
    k = k.astype(np.float64)
    if np.isinf(k).any():
        raise ValueError('kl must be finite or NaN (absent class), got inf')
    present = np.flatnonzero(~np.isnan(k))
    out = torch.zeros(k.shape[0], dtype=torch.long)
    if total == 0:
        return out
    if present.size == 0:
        raise ValueError(f'cannot split total={total}: every class is absent (all KL NaN)')
    kp = k[present]
    order = np.argsort(kp, kind='stable')
    w = np.empty_like(kp)
    # running max over ascending KL: monotone weights even if float rounding is not
    w[order] = np.maximum.accumulate(_weights(kp[order], sigma))
    out[torch.from_numpy(present)] = torch.from_numpy(_largest_remainder(w, kp, int(total)))
    return out


# ----------------------------------------------------------------------------- pooling

def _segment_sums(x, segments, num_segments):
    """(N, S, D) sums and (N, S) pixel counts over segment ids."""
    N, D = x.shape[:2]
    seg = segments.reshape(N, 1, -1).long()
    sums = x.new_zeros((N, D, num_segments))
    sums.scatter_add_(2, seg.expand(N, D, seg.shape[2]), x.reshape(N, D, -1))
    counts = torch.zeros((N, num_segments), dtype=torch.long, device=x.device)
    counts.scatter_add_(1, seg[:, 0], torch.ones_like(seg[:, 0]))
    return sums.transpose(1, 2), counts


@torch.no_grad()
def region_means(feats, segments, num_segments):
    """(N, S, D) mean feature per segment id; NaN rows for ids without pixels."""
    check_region_pool(feats, segments, num_segments, 'feats')
    sums, counts = _segment_sums(feats, segments, num_segments)
    return sums / counts[..., None].to(sums.dtype)  # 0 / 0 = NaN for empty ids


@torch.no_grad()
def region_classes(probs, segments, num_segments):
    """(N, S) long argmax of the mean probability per segment id; -1 for empty ids."""
    check_region_pool(probs, segments, num_segments, 'probs')
    sums, counts = _segment_sums(probs, segments, num_segments)
    means = sums / counts.clamp(min=1)[..., None].to(sums.dtype)
    return means.argmax(2).masked_fill_(counts == 0, -1)
