"""Region-level acquisition baselines of the ADeADA / D2ADA supplement, section B (BADGE,
ReDAL, AADA, CLUE), with a superpixel of one target image as the unit ("region").

The caller pools per-region statistics over the target pool (``region_means`` /
``region_classes`` of ``adeada``, the per-pixel ``baselines.entropy`` averaged per region,
``region_edge_fraction`` of ``baselines.canny_edges``), keeps the M regions still available
and passes those rows here. The ``*_order`` functions return a dataset-wide ranking (LongTensor
of row indices, best first, no repeats, at most min(count, M) long); ``aada_scores`` returns
(M,) scores (higher = picked first). The caller buys regions in that order until its pixel
budget is spent and appends the remaining regions by entropy when an ordering is too short.
gradient_embeddings, region_edge_fraction and badge_order run on their inputs' device;
redal_order, aada_scores and clue_order take their (M, D) rows to the host once per call,
where sklearn does the k-means and the logistic regression, and return CPU tensors.

Sources checked (public code, read through the search tool): JordanAsh/badge
(query_strategies/badge_sampling.py, ``init_centers``); tsunghan-wu/ReDAL
(active_selection/diversity.py ``importance_reweight``, ReDAL.py, ReDAL_S3DIS.config,
ReDAL_SemanticKITTI.config); the ADeADA / D2ADA authors' own baselines, tsunghan-wu/D2ADA
(active_selection/other_AL_baselines/{badge,ReDAL,diversity,AADA,clue}.py,
active_selection/__init__.py, active_selection/utils.py, data_preprocessing/edge_detection.py);
virajprabhu/CLUE (sample.py: CLUESampling, AADASampling, BADGESampling;
adapt/solvers/adapt.py: DANNSolver domain labels).

``gradient_embeddings`` (BADGE's region gradient embeddings) and ``region_edge_fraction``
(ReDAL's edge term) live in mmseg_ext.active.region_embeddings and are re-exported here.

``order = badge_order(embeddings, count, seed=0)``  LongTensor (min(count, M),)
    BADGE's k-means++ seeding exactly as JordanAsh/badge ``init_centers``: first the row of
    largest Euclidean norm (ties to the lowest index), then each next centre drawn with
    probability proportional to D(x)^2, the squared Euclidean distance to the nearest chosen
    centre (the original takes sklearn's pairwise_distances and samples D2 ** 2 / sum(D2 ** 2)
    with scipy's rv_discrete). The draw is an inverse-CDF draw with one
    torch.rand(generator=torch.Generator().manual_seed(seed)) per pick over the float64
    cumulative sum of D^2, so only rows with D^2 > 0 can be drawn; chosen rows have D^2 = 0 and
    are never re-drawn (the original re-draws while the index is already chosen). When every
    remaining D^2 is 0 (only duplicates of chosen rows are left) the lowest unchosen index is
    taken (the original stops in pdb there). Distances are exact differences
    (torch.cdist without the matmul expansion, so duplicates are exactly 0), in the
    embeddings' dtype, squared in float64. Cost O(count * M * E), on the embeddings' device
    (the uniform draws come from a CPU generator, so picks do not depend on the device up
    to float rounding); returned on that device.
    Choice: D2ADA's BADGE (and CLUE's) use sklearn's greedy k-means++ variant instead
    (2 + log k candidate draws per step, keeping the one that lowers the potential most,
    RandomState(1234)) seeded with the largest norm of (p - onehot) only; the brief and the
    BADGE paper / code use plain D^2 sampling, done here.

``order = redal_order(entropy, edge, feats, count, edge_weight=1.0, decay=0.95,
n_clusters=None, seed=0)``  LongTensor (min(count, M),)
    ReDAL (Wu et al., ICCV'21) adapted as the supplement says ("replaced the 3D
    characteristics term as the 2D edge detection result and followed the rest"):
    region information score s = entropy + edge_weight * edge, then the diversity-aware
    selection of ReDAL Sec. 3.3.2: sklearn KMeans(n_clusters, random_state=seed, n_init=1,
    other arguments default) on the region features, then repeatedly take the highest-scoring
    remaining region and multiply the scores of the remaining regions of its cluster by decay.
    For s >= 0 and 0 < decay <= 1 that greedy equals one stable descending sort of the key
    s_i * decay ** r_i, r_i = the number of regions of i's cluster ranked above i by s (ties to
    the lower index), which is how it is computed (vectorised, O(M log M)); ties in the greedy
    go to the lower index. decay = 1 gives the plain descending score order. k-means is
    skipped where it cannot change the result (decay = 1, or a single cluster).
    Values and why:
    * entropy / edge are the caller's region means of the pixel entropy (baselines.entropy:
      natural log, summed over classes) and of the 0/1 edge map (region_edge_fraction), so s
      is the region mean of the per-pixel score entropy + edge_weight * edge, as in ReDAL
      (per-point alpha * entropy + beta * colour + gamma * structure, averaged per region).
    * edge_weight = 1.0 by default (the fixed signature). ReDAL's configs use alpha = 1 and
      gamma = 0.05 (structure), beta = 0.1 (S3DIS) / 0.0 (SemanticKITTI) with the entropy
      averaged over classes in bits; D2ADA's 2-D ReDAL uses mean_c(-p log2 p) + 0.05 * edge.
      In this module's units that ratio is edge_weight = 0.05 * C * ln 2 (0.66 for C = 19),
      assuming their edge map is 0/1 (the released code does not show how the 0/255 Canny PNG
      is scaled when loaded).
    * decay = 0.95: ReDAL's decay_rate in both configs and D2ADA's ReDALSelector(..., 0.95).
    * n_clusters None -> min(500, M): D2ADA runs its 2-D ReDAL with 500 clusters
      (active_selection/__init__.py, ReDALSelector(2, 2, 500, 0.95)) on GTA5/SYNTHIA ->
      Cityscapes superpixels; ReDAL's 3-D configs use 400 (S3DIS) and 150 (SemanticKITTI).
      An explicit n_clusters is also capped at M. min(M, count) was rejected because the
      caller asks for long rankings (count ~ M would make every region its own cluster).
    * n_init = 1 (sklearn's current default for k-means++ init); ReDAL calls
      KMeans(n_clusters, random_state=0), i.e. the sklearn default of its time (10 restarts),
      on the 2 shared CPU cores here one run is used. sklearn's ConvergenceWarning for fewer
      distinct rows than clusters is silenced (harmless here).
    * ReDAL's trim option (cluster only the top 10 % by score, SemanticKITTI) is not used;
      D2ADA's ReDAL runs with trim=False.
    * ReDAL's released importance_reweight applies the cluster labels of the score-sorted
      features to the unsorted score list (scores[i] with clusters[i]), so decays hit
      mismatched regions unless the input was already sorted; this implements the intended
      algorithm (the paper's) instead.
    Scores must be >= 0 (entropy >= 0, edge >= 0, edge_weight >= 0); decay in (0, 1].

``scores = aada_scores(src_feats, tgt_feats, entropy, seed=0)``  (M,) float64
    AADA (Su et al., WACV'20): s(x) = w(x) * H(x), w = (1 - G_d) / G_d with G_d the
    discriminator's probability that x is from the source (the optimal
    G_d* = p_S / (p_S + p_T) makes w = p_T / p_S, large for target regions unlike the
    source). virajprabhu/CLUE's AADASampling computes the same w as
    softmax(disc)[:, 0] / softmax(disc)[:, 1] with its DANN domain labels source = 1,
    target = 0, i.e. P(target) / P(source). AADA's discriminator is trained adversarially
    with the network; here it is fitted on the region features: sklearn StandardScaler
    fitted on all source + target rows, then LogisticRegression(class_weight='balanced',
    max_iter=1000, random_state=seed, other arguments default: L2, C = 1, lbfgs) with
    source = 0, target = 1. 'balanced' mirrors the equal-size source / target batches of
    DANN training, so w estimates p_T / p_S without the N_T / N_S prior factor (a constant
    factor either way). w = exp(logit of target) = (1 - p) / p with p = P(source | z)
    clipped to >= 1e-12 (logit <= ln(1e12 - 1)), so w is finite; score = w * entropy.
    entropy is the caller's region entropy (>= 0).
    Choices: CLUE's AADA reimplementation draws n at random from the top 2 % by s ("as
    recommended by authors"); the scores (a ranking) are returned here. D2ADA's region AADA
    (other_AL_baselines/AADA.py, RegionAADASelector) ranks regions by the region mean of
    AdaptSeg's output-space discriminator sigmoid alone (no entropy; the w transform is
    monotone anyway); the supplement says entropy and discriminator, so s = w * H as in AADA
    and in D2ADA's image-level ImportanceWeightSelector (w = D / (1 - D), D = sigmoid output
    = P(target)).
    Cost: one logistic regression on M_S + M rows.

``order = clue_order(feats, entropy, count, seed=0)``  LongTensor (<= min(count, M),)
    CLUE (Prabhu et al., ICCV'21): uncertainty-weighted k-means, sklearn
    KMeans(n_clusters=k, random_state=seed, n_init=1, other arguments default) with
    k = min(count, M) and sample_weight = entropy, then for each cluster its member nearest to
    the cluster centroid (Euclidean, ties to the lowest index). Picks are ordered by their
    cluster's total weight (sum of member weights, descending; ties to the lower region index),
    so the regions standing for the most uncertainty mass are bought first.
    Choices:
    * Weights: entropy, floored at 1e-8 * max(entropy) so every weight is positive (CLUE adds
      1e-8 to the probabilities before the entropy, which has the same effect; sklearn's
      weighted k-means++ with exact-zero weights returns fewer distinct clusters); all
      entropies 0 -> uniform weights (plain k-means).
    * Nearest member of its own cluster, not CLUE's nearest row overall with "next nearest"
      fill-in of duplicates; the clusters are disjoint so the picks are distinct. A cluster
      without members (only possible with fewer distinct rows than k) gives no pick, so the
      result can be shorter than min(count, M).
    * Order: CLUE's picks are an unordered set (list(set(...))); total cluster weight is the
      order chosen here. D2ADA's CLUE uses selection_count * 40 clusters and takes the nearest
      2 rows per centroid; its weights are mean_c(-p log2 p) of the region-mean probabilities
      (the caller decides which entropy to pass).
    * n_init = 1 (CLUE calls KMeans(n) with sklearn's default of its time, 10 restarts, and no
      seed).

Validation: every tensor must be a torch tensor of the documented shape (float features,
finite values; NaN rows of empty superpixels must be dropped by the caller); count an int
>= 0 (0 -> empty LongTensor), M = 0 -> empty result; a one-line ValueError names the argument
and the expected shape or range. float16 / bfloat16 inputs are computed in float32.
"""
import math
import numbers
import warnings

import numpy as np
import torch

from ..ops.checks import check_int, check_real
from .region_embeddings import gradient_embeddings, region_edge_fraction  # noqa: F401

_DEFAULT_REDAL_CLUSTERS = 500  # D2ADA: ReDALSelector(2, 2, 500, 0.95)
_MIN_SOURCE_P = 1e-12  # AADA: p = P(source | z) clipped to >= this
_WEIGHT_FLOOR = 1e-8  # CLUE: relative floor of the k-means sample weights
_LOGREG_MAX_ITER = 1000

# ----------------------------------------------------------------------------- validation


def _float(x):
    """x as float32 / float64 (half precision is computed in float32)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _check_finite(x, name):
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f'{name} must be finite (no NaN/inf)')


def _matrix(x, name, rows=None, cols=None, keep_device=False):
    """Finite floating (M, D) tensor (on the CPU unless keep_device); rows / cols fixed."""
    want = f'({"M" if rows is None else rows}, {"D" if cols is None else cols})'
    if not torch.is_tensor(x) or x.ndim != 2 or not x.is_floating_point():
        got = (f'{x.dtype} {tuple(x.shape)}' if torch.is_tensor(x) else type(x).__name__)
        raise ValueError(f'{name} must be a floating {want} tensor, got {got}')
    if (rows is not None and x.shape[0] != rows) or (cols is not None and x.shape[1] != cols):
        raise ValueError(f'{name} must have shape {want}, got {tuple(x.shape)}')
    x = _float(x.detach() if keep_device else x.detach().cpu())
    _check_finite(x, name)
    return x


def _vector(x, name, n, nonnegative=True):
    """Finite floating (n,) tensor, optionally >= 0."""
    if not torch.is_tensor(x) or x.ndim != 1 or not x.is_floating_point():
        got = (f'{x.dtype} {tuple(x.shape)}' if torch.is_tensor(x) else type(x).__name__)
        raise ValueError(f'{name} must be a floating ({n},) tensor, got {got}')
    if x.shape[0] != n:
        raise ValueError(f'{name} must have shape ({n},), got {tuple(x.shape)}')
    x = _float(x.detach().cpu())
    _check_finite(x, name)
    if nonnegative and x.numel() and bool((x < 0).any()):
        raise ValueError(f'{name} must be >= 0, got min {x.min().item():g}')
    return x


def _check_seed(seed):
    check_int('seed', seed, 0)


def _empty_order():
    return torch.empty(0, dtype=torch.long)

# ----------------------------------------------------------------------------- BADGE


def _sq_dist(x, row):
    """(M,) float64 squared Euclidean distances of the rows of x to row (exact differences)."""
    d = torch.cdist(x, row[None], compute_mode='donot_use_mm_for_euclid_dist')[:, 0]
    return d.to(torch.float64) ** 2


@torch.no_grad()
def badge_order(embeddings, count, seed=0):
    """BADGE k-means++ seeding order: largest norm first, then D^2 sampling."""
    x = _matrix(embeddings, 'embeddings', keep_device=True)
    check_int('count', count, 0)
    _check_seed(seed)
    M = x.shape[0]
    k = min(int(count), M)
    if k == 0:
        return _empty_order().to(x.device)
    gen = torch.Generator().manual_seed(int(seed))  # the draws: on the CPU on any device
    first = int(torch.linalg.vector_norm(x, dim=1).argmax())
    order = [first]
    chosen = torch.zeros(M, dtype=torch.bool, device=x.device)
    chosen[first] = True
    d2 = _sq_dist(x, x[first])
    d2[first] = 0.0
    for _ in range(1, k):
        cum = torch.cumsum(d2, 0)
        total = cum[-1]
        if total > 0:
            u = (torch.rand((), generator=gen, dtype=torch.float64) * total).to(cum.device)
            ind = min(int(torch.searchsorted(cum, u, right=True)), M - 1)  # first cum > u
        else:  # only duplicates of chosen rows left
            ind = int((~chosen).nonzero()[0])
        order.append(ind)
        chosen[ind] = True
        d2 = torch.minimum(d2, _sq_dist(x, x[ind]))
        d2[chosen] = 0.0
    return torch.tensor(order, dtype=torch.long, device=x.device)

# ----------------------------------------------------------------------------- k-means


def _kmeans(x, n_clusters, seed, sample_weight=None):
    """sklearn KMeans(n_clusters, random_state=seed, n_init=1) fitted on x (numpy)."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    km = KMeans(n_clusters=n_clusters, random_state=seed, n_init=1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)  # fewer distinct rows than k
        km.fit(x, sample_weight=sample_weight)
    return km

# ----------------------------------------------------------------------------- ReDAL


def _decayed_order(score, labels, decay):
    """(M,) order of ReDAL's greedy: key score * decay ** (rank within cluster), descending.

    Equal to repeatedly taking the highest remaining score (lowest index on ties) and
    multiplying its cluster's remaining scores by decay, for score >= 0 and 0 < decay <= 1.
    """
    M = score.shape[0]
    by_score = torch.sort(score, descending=True, stable=True).indices
    grouped = by_score[torch.sort(labels[by_score], stable=True).indices]  # cluster, score
    glabels = labels[grouped]
    counts = torch.bincount(glabels, minlength=int(labels.max()) + 1)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(M) - starts[glabels]
    key = torch.empty(M, dtype=torch.float64)
    key[grouped] = score[grouped] * torch.pow(torch.tensor(float(decay), dtype=torch.float64),
                                              rank.to(torch.float64))
    return torch.sort(key, descending=True, stable=True).indices


@torch.no_grad()
def redal_order(entropy, edge, feats, count, edge_weight=1.0, decay=0.95, n_clusters=None,
                seed=0):
    """ReDAL ranking: score = entropy + edge_weight * edge, cluster-wise decayed greedy."""
    x = _matrix(feats, 'feats')
    M = x.shape[0]
    ent = _vector(entropy, 'entropy', M)
    edg = _vector(edge, 'edge', M)
    check_int('count', count, 0)
    check_real('edge_weight', edge_weight)
    ok = (isinstance(decay, numbers.Real) and not isinstance(decay, bool)
          and math.isfinite(decay) and 0 < decay <= 1)
    if not ok:
        raise ValueError(f'decay must be a number in (0, 1], got {decay!r}')
    if n_clusters is not None:
        check_int('n_clusters', n_clusters, 1)
    _check_seed(seed)
    k = min(int(count), M)
    if k == 0:
        return _empty_order()
    score = ent.to(torch.float64) + float(edge_weight) * edg.to(torch.float64)
    K = min(_DEFAULT_REDAL_CLUSTERS if n_clusters is None else int(n_clusters), M)
    if K == 1 or decay == 1:  # no clustering needed: one cluster / no decay
        labels = torch.zeros(M, dtype=torch.long) if decay != 1 else torch.arange(M)
    else:
        labels = torch.from_numpy(_kmeans(x.numpy(), K, int(seed)).labels_.astype(np.int64))
    return _decayed_order(score, labels, decay)[:k]

# ----------------------------------------------------------------------------- AADA


@torch.no_grad()
def aada_scores(src_feats, tgt_feats, entropy, seed=0):
    """(M,) float64 AADA scores w * entropy, w = (1 - p) / p, p = P(source | target region)."""
    xs = _matrix(src_feats, 'src_feats')
    xt = _matrix(tgt_feats, 'tgt_feats', cols=xs.shape[1])
    M = xt.shape[0]
    ent = _vector(entropy, 'entropy', M)
    _check_seed(seed)
    if M == 0:
        return torch.empty(0, dtype=torch.float64)
    if xs.shape[0] == 0:
        raise ValueError('src_feats must have at least 1 row to train the domain discriminator')
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    z = np.concatenate([xs.numpy().astype(np.float64), xt.numpy().astype(np.float64)])
    dom = np.r_[np.zeros(xs.shape[0]), np.ones(M)]  # source = 0, target = 1
    z = StandardScaler().fit_transform(z)
    clf = LogisticRegression(class_weight='balanced', max_iter=_LOGREG_MAX_ITER,
                             random_state=int(seed))
    clf.fit(z, dom)
    logit = clf.decision_function(z[xs.shape[0]:])  # log P(target) / P(source)
    max_logit = math.log((1 - _MIN_SOURCE_P) / _MIN_SOURCE_P)  # p >= 1e-12
    w = np.exp(np.minimum(logit, max_logit))
    return torch.from_numpy(w) * ent.to(torch.float64)

# ----------------------------------------------------------------------------- CLUE


@torch.no_grad()
def clue_order(feats, entropy, count, seed=0):
    """CLUE: entropy-weighted k-means, the member nearest each centroid, heaviest cluster first."""
    x = _matrix(feats, 'feats')
    M = x.shape[0]
    ent = _vector(entropy, 'entropy', M)
    check_int('count', count, 0)
    _check_seed(seed)
    k = min(int(count), M)
    if k == 0:
        return _empty_order()
    w = ent.to(torch.float64).numpy()
    top = w.max()
    w = np.maximum(w, _WEIGHT_FLOOR * top) if top > 0 else np.ones(M)
    xn = x.numpy()
    km = _kmeans(xn, k, int(seed), sample_weight=w)
    labels = km.labels_.astype(np.int64)
    diff = xn.astype(np.float64) - km.cluster_centers_.astype(np.float64)[labels]
    dist = np.einsum('ij,ij->i', diff, diff)
    idx = np.arange(M)
    by = np.lexsort((idx, dist, labels))  # per cluster: nearest first, lowest index on ties
    ls = labels[by]
    first = np.r_[True, ls[1:] != ls[:-1]]
    picks, pick_labels = by[first], ls[first]
    mass = np.bincount(labels, weights=w, minlength=k)
    order = np.lexsort((picks, -mass[pick_labels]))
    return torch.from_numpy(picks[order].astype(np.int64))
