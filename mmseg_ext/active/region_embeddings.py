"""Per-region pooling of per-pixel maps for the region baselines of the ADeADA / D2ADA
supplement, section B (moved out of mmseg_ext.active.region_baselines, which re-exports both).

``emb = gradient_embeddings(probs, feats, segments, num_segments)``  (N, S, C*D)
    BADGE's last-layer gradient embedding with the hypothesised label y = argmax_c p_c (ties to
    the lowest class): per pixel g = (p - onehot(y)) outer f, flattened class-major (index
    c * D + d), averaged over the pixels of each superpixel id ("we produce the regional
    gradient embedding by averaging the value of all pixels within it"). NaN rows for ids
    without pixels. probs (N, C, H, W) softmax probabilities (checked: >= -1e-3 and summing to
    1 +- 1e-3 over C, so logits are refused), feats (N, D, H, W) pre-classifier features at the
    same resolution (resize before), segments (N, H, W) integer ids in [0, num_segments).
    Computed in closed form, one (C x n_s) @ (n_s x D) matmul per region on the pixels sorted
    by segment id (peak extra memory about one feats-sized tensor besides the (N, S, C*D)
    output; no (N*H*W, C, D) tensor), on the inputs' device. dtype float64 if probs or feats
    is float64, else float32.
    Choice: D2ADA's own BADGE (other_AL_baselines/badge.py) uses the rank-1 embedding
    (mean p - onehot(argmax mean p)) outer (mean f) of the region means, not the mean of the
    per-pixel outer products; the paper's text and this module average per pixel.

``frac = region_edge_fraction(edges, segments, num_segments)``  (N, S) float64
    Number of edge pixels / number of pixels per superpixel id; NaN for ids without pixels.
    edges must be a bool (N, H, W) tensor (e.g. stacked ``baselines.canny_edges``); a 0/255
    uint8 Canny map is refused rather than silently scaled. D2ADA's ReDAL edge map is
    cv2.Canny(grey, 50, 150) after a 5x5 Gaussian blur (data_preprocessing/edge_detection.py);
    ``baselines.canny_edges`` uses 100 / 200 without blur; the caller picks the edge map.

Both run on their inputs' device.
"""
import torch

from ..ops.checks import check_region_pool

_PROB_TOL = 1e-3


def _check_finite(x, name):
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f'{name} must be finite (no NaN/inf)')



@torch.no_grad()
def gradient_embeddings(probs, feats, segments, num_segments):
    """(N, S, C*D) region mean of (p - onehot(argmax p)) outer f; NaN rows for empty ids.

    Closed form of the per-pixel sum (last layer of a linear classifier): for a region s
    with pixels P_s, sum_{i in P_s} (p_i - y_i) f_i^T = W_s^T F_s with W_s (|P_s|, C) the rows
    p_i - onehot(y_i) and F_s (|P_s|, D) the features, i.e. one (C x |P_s|) @ (|P_s| x D)
    matmul per region after one stable sort of the pixels by segment id. Equal to the
    per-class scatter-add of the definition up to float summation order (checked to 1e-5 in
    tests/test_region_baselines.py). Runs on the inputs' device (feats / segments follow
    probs); extra memory: one sorted copy of the features and of p - onehot.
    """
    if not torch.is_tensor(probs) or probs.ndim != 4 or not probs.is_floating_point():
        raise ValueError('probs must be a floating (N, C, H, W) tensor')
    check_region_pool(probs, segments, num_segments, 'probs')
    if not torch.is_tensor(feats) or feats.ndim != 4 or not feats.is_floating_point():
        raise ValueError('feats must be a floating (N, D, H, W) tensor')
    N, C, H, W = probs.shape
    if feats.shape[0] != N or feats.shape[2:] != (H, W):
        raise ValueError(f'feats must have shape ({N}, D, {H}, {W}) matching probs, '
                         f'got {tuple(feats.shape)}')
    D, S = feats.shape[1], num_segments
    dtype = (torch.float64 if torch.float64 in (probs.dtype, feats.dtype) else torch.float32)
    device = probs.device
    p = probs.detach().to(dtype).reshape(N, C, H * W)
    f = feats.detach().to(device, dtype).reshape(N, D, H * W)
    _check_finite(p, 'probs')
    _check_finite(f, 'feats')
    if p.numel():
        sums = p.sum(1)
        if p.min() < -_PROB_TOL or (sums - 1).abs().max() > _PROB_TOL:
            raise ValueError(f'probs must be softmax probabilities over dim 1 (>= 0, summing '
                             f'to 1), got values >= {p.min().item():g} and sums in '
                             f'[{sums.min().item():g}, {sums.max().item():g}]')
    seg = segments.detach().to(device).reshape(N, H * W).long()
    out = torch.full((N, S, C, D), float('nan'), dtype=dtype, device=device)
    for n in range(N):
        w = p[n].clone()  # (C, HW): p - onehot(argmax p), first maximum on ties
        w.scatter_add_(0, p[n].argmax(0)[None], torch.full((1, H * W), -1.0, dtype=dtype,
                                                           device=device))
        by = torch.sort(seg[n], stable=True).indices
        ws, fs = w[:, by], f[n][:, by]  # pixels grouped by segment id
        counts = torch.bincount(seg[n], minlength=S)
        ends = torch.cumsum(counts, 0).tolist()
        for s, (size, end) in enumerate(zip(counts.tolist(), ends)):
            if size:
                a = end - size
                out[n, s] = (ws[:, a:end] @ fs[:, a:end].T) / size
    return out.reshape(N, S, C * D)  # class-major: c * D + d


@torch.no_grad()
def region_edge_fraction(edges, segments, num_segments):
    """(N, S) float64 fraction of edge pixels per segment id; NaN for empty ids."""
    if not torch.is_tensor(edges) or edges.ndim != 3 or edges.dtype != torch.bool:
        got = (f'{edges.dtype} {tuple(edges.shape)}' if torch.is_tensor(edges)
               else type(edges).__name__)
        raise ValueError(f'edges must be a bool (N, H, W) tensor, got {got}')
    N, H, W = edges.shape
    shape_only = torch.zeros((), dtype=torch.float32).expand(N, 1, H, W)  # no copy
    check_region_pool(shape_only, segments, num_segments, 'edges')
    offset = torch.arange(N, device=edges.device)[:, None] * num_segments
    flat = (segments.detach().to(edges.device).reshape(N, H * W).long() + offset).reshape(-1)
    total = torch.bincount(flat, minlength=N * num_segments).to(torch.float64)
    hits = torch.bincount(flat[edges.detach().reshape(-1)], minlength=N * num_segments)
    return (hits.to(torch.float64) / total).reshape(N, num_segments)
