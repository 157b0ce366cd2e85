"""Benchmark the ADeADA density step (not a test; prints the figures of one run).

Synthetic region features: 19 classes, each a mixture of 8 Gaussian sub-clusters in D dims
(target: sub-cluster means shifted and spread wider), `--regions` regions per image x
`--images` images per domain, class ids uniform at random (~2100 regions per class for
1000 images -> K = 10 components). Timed, in one run:

1. pooling: region_means + region_classes on one batch of `--batch` images of (D, H, W)
   features / (19, H, W) probabilities with `--regions` grid superpixels, median of
   `--repeats`; extrapolated linearly to both domains (images x 2 / batch batches).
2. importance (all per-class GMM fits of both domains + scoring), default parallel
   settings (n_jobs=-1: threads, one BLAS thread each), and the class_kl + class_budgets.
3. baseline: the naive sequential per-class loop, plain sklearn GaussianMixture fit +
   score_samples with the default BLAS threads (`naive_importance` below), and
   importance(n_jobs=1) (sequential, one BLAS thread per fit, as every importance fit);
   importance results must be identical for all n_jobs / backends, the naive loop differs
   only by BLAS rounding (printed). Optional: backend='loky'.

seconds per region = (pooling + importance + kl/budgets) / (source + target regions).

    python benchmarks/bench_adeada_density.py --images 1000 [--loky] [--iters]

float32 features fail here (sklearn: ill-defined covariance; 256-d, ~200 regions per
component, reg_covar 1e-6), hence the float64 default.
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch

from mmseg_ext.active import adeada

REQUIRED_S_PER_REGION = 0.001
SUBCLUSTERS = 8


def synthetic_regions(n, num_classes, dim, rng, centers, shift, spread):
    """(n, dim) features and (n,) class ids; class c = mixture of SUBCLUSTERS Gaussians."""
    cls = rng.integers(0, num_classes, size=n)
    sub = rng.integers(0, SUBCLUSTERS, size=n)
    x = centers[cls, sub] + shift[cls, sub] + spread * rng.standard_normal((n, dim))
    return x, cls


def make_data(images, regions, num_classes, dim, dtype, seed):
    rng = np.random.default_rng(seed)
    class_means = 3.0 * rng.standard_normal((num_classes, 1, dim))
    centers = class_means + rng.standard_normal((num_classes, SUBCLUSTERS, dim))
    no_shift = np.zeros_like(centers)
    domain_shift = 0.5 * rng.standard_normal(centers.shape)
    n = images * regions
    xs, ys = synthetic_regions(n, num_classes, dim, rng, centers, no_shift, 0.5)
    xt, yt = synthetic_regions(n, num_classes, dim, rng, centers, domain_shift, 0.7)
    return xs.astype(dtype), ys, xt.astype(dtype), yt


def grid_ids(H, W, regions):
    """(H, W) ids of a rows x cols grid with rows * cols == regions (closest to square)."""
    rows = max(r for r in range(1, int(regions ** 0.5) + 1) if regions % r == 0)
    cols = regions // rows
    r = torch.arange(H) * rows // H
    c = torch.arange(W) * cols // W
    return r[:, None] * cols + c[None, :]


def time_pooling(batch, dim, H, W, regions, num_classes, repeats, dtype):
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(batch, dim, H, W, generator=g).to(dtype)
    probs = torch.softmax(torch.randn(batch, num_classes, H, W, generator=g), 1).to(dtype)
    segments = grid_ids(H, W, regions).expand(batch, H, W).contiguous()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        means = adeada.region_means(feats, segments, regions)
        cls = adeada.region_classes(probs, segments, regions)
        times.append(time.perf_counter() - t0)
    assert means.shape == (batch, regions, dim) and cls.shape == (batch, regions)
    return statistics.median(times)


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def naive_importance(xs, ys, xt, yt, num_classes, seed=0):
    """The naive reference loop: per class, plain sklearn fits in the default threading."""
    from sklearn.mixture import GaussianMixture
    out = np.full(len(xt), np.nan)
    for c in range(num_classes):
        t_idx = np.flatnonzero(yt == c)
        k = min(max(len(t_idx) // 100, 1), 10)
        if len(t_idx) < 2 or (ys == c).sum() < max(k, 2):
            continue
        t = xt[t_idx]
        gmm_t, gmm_s = (GaussianMixture(k, covariance_type='full', random_state=seed,
                                        n_init=1, max_iter=200) for _ in range(2))
        out[t_idx] = gmm_t.fit(t).score_samples(t) - gmm_s.fit(xs[ys == c]).score_samples(t)
    return out


def print_iterations(xs, ys, xt, yt, seed):
    """EM iterations of the class-0 fits (the cost driver), fitted directly with sklearn."""
    from sklearn.mixture import GaussianMixture
    t = xt[yt == 0]
    k = min(max(len(t) // 100, 1), 10)
    for name, x in (('target', t), ('source', xs[ys == 0])):
        gmm = GaussianMixture(k, covariance_type='full', random_state=seed, n_init=1,
                              max_iter=200).fit(x)
        print(f'class 0 {name} GMM: K={k}, {len(x)} regions, n_iter={gmm.n_iter_}, '
              f'converged={gmm.converged_}')


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--images', type=int, default=1000, help='images per domain')
    ap.add_argument('--regions', type=int, default=40, help='regions per image')
    ap.add_argument('--classes', type=int, default=19)
    ap.add_argument('--dim', type=int, default=256)
    ap.add_argument('--dtype', choices=('float32', 'float64'), default='float64')
    ap.add_argument('--batch', type=int, default=40, help='images per pooling batch')
    ap.add_argument('--hw', type=int, nargs=2, default=(64, 128), help='feature map H W')
    ap.add_argument('--repeats', type=int, default=3, help='pooling repeats (median)')
    ap.add_argument('--n-jobs', type=int, default=-1)
    ap.add_argument('--no-baseline', action='store_true', help='skip the sequential runs')
    ap.add_argument('--loky', action='store_true', help='also time backend="loky"')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--iters', action='store_true',
                    help='also fit class 0 directly and print its EM iteration counts')
    args = ap.parse_args()

    dtype = np.dtype(args.dtype)
    xs, ys, xt, yt = make_data(args.images, args.regions, args.classes, args.dim, dtype,
                               args.seed)
    n_regions = len(xs) + len(xt)
    per_class = np.bincount(yt, minlength=args.classes)
    print(f'cpus={os.cpu_count()} torch_threads={torch.get_num_threads()} dtype={args.dtype} '
          f'loadavg at start={os.getloadavg()[0]:.2f}')
    print(f'regions: {len(xs)} source + {len(xt)} target, D={args.dim}, '
          f'{args.classes} classes, target regions per class {per_class.min()}..'
          f'{per_class.max()} (K={min(max(per_class.min() // 100, 1), 10)}..'
          f'{min(max(per_class.max() // 100, 1), 10)})')

    H, W = args.hw
    t_batch = time_pooling(args.batch, args.dim, H, W, args.regions, args.classes,
                           args.repeats, getattr(torch, args.dtype))
    n_batches = 2 * args.images / args.batch
    t_pool = t_batch * n_batches
    print(f'pooling: {t_batch:.3f} s per batch of {args.batch} x ({args.dim}, {H}, {W}) '
          f'(median of {args.repeats}) x {n_batches:g} batches = {t_pool:.2f} s (extrapolated)')

    scores, t_imp = timed(adeada.importance, xs, ys, xt, yt, args.classes, n_jobs=args.n_jobs)
    t0 = time.perf_counter()
    kl = adeada.class_kl(scores, yt, args.classes)
    budgets = adeada.class_budgets(torch.from_numpy(kl.astype(np.float64)), 1000, 'log')
    t_kl = time.perf_counter() - t0
    print(f'importance (n_jobs={args.n_jobs}, threading): {t_imp:.2f} s; '
          f'class_kl + class_budgets: {t_kl * 1e3:.2f} ms; '
          f'NaN scores: {int(np.isnan(scores).sum())}')
    print(f'KL per class: {np.round(kl, 1).tolist()}')
    print(f'budgets (log, total 1000): {budgets.tolist()}')

    total = t_pool + t_imp + t_kl
    per_region = total / n_regions
    print(f'density step total {total:.2f} s / {n_regions} regions = {per_region:.6f} s per '
          f'region (required <= {REQUIRED_S_PER_REGION} s per region): '
          f'{"PASS" if per_region <= REQUIRED_S_PER_REGION else "FAIL"}')

    if args.iters:
        print_iterations(xs, ys, xt, yt, args.seed)
    if args.loky:
        s_loky, t_loky = timed(adeada.importance, xs, ys, xt, yt, args.classes,
                               n_jobs=args.n_jobs, backend='loky')
        print(f'importance backend=loky: {t_loky:.2f} s (threading {t_imp:.2f} s), '
              f'identical: {np.array_equal(s_loky, scores, equal_nan=True)}')
    if not args.no_baseline:
        s_seq, t_seq = timed(adeada.importance, xs, ys, xt, yt, args.classes, n_jobs=1)
        print(f'importance n_jobs=1 (sequential, 1 BLAS thread): {t_seq:.2f} s, '
              f'{(t_pool + t_seq + t_kl) / n_regions:.6f} s per region; '
              f'identical to n_jobs={args.n_jobs}: {np.array_equal(s_seq, scores, equal_nan=True)}')
        s_naive, t_naive = timed(naive_importance, xs, ys, xt, yt, args.classes, args.seed)
        base = (t_pool + t_naive + t_kl) / n_regions
        rel = np.nanmax(np.abs(s_naive - scores) / np.maximum(np.abs(scores), 1e-300))
        print(f'baseline naive sequential per-class sklearn loop (default BLAS threads): '
              f'{t_naive:.2f} s, {base:.6f} s per region; importance speed-up '
              f'{t_naive / t_imp:.2f}x; max relative difference {rel:.2e} '
              f'(same NaNs: {np.array_equal(np.isnan(s_naive), np.isnan(scores))})')

if __name__ == '__main__':
    main()
