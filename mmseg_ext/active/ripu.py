"""RIPU acquisition scores (Xie et al., CVPR'22) with the semantics of the reference
code (BIT-DA/RIPU ``FloatingRegionScore`` / ``SpatialPurity``), computed faster.

``score, impurity, uncertainty = region_scores(logits, k, entropy_norm_classes=19)`` (RA)
    logits (C, H, W) at label resolution; p = softmax over C; pixel entropy
    e = -sum_c p_c log(p_c + 1e-6) / log(entropy_norm_classes); y = argmax_c p;
    n_c = count of class c in the (2k+1)^2 window (zero padding), count = in-image
    pixels of the window; impurity = -sum_c q_c log(q_c + 1e-6) / log(entropy_norm_classes)
    with q_c = n_c / count; uncertainty = (window sum of e) / count;
    score = impurity * uncertainty. All three are (H, W).
    ``entropy_norm_classes`` defaults to 19 because the reference hard-codes log(19)
    (also for C = 16); it is a constant factor and does not change the ranking.
    Pure windows get impurity -log(1 + 1e-6) / log(19) < 0, as in the reference.

``score = pixel_scores(logits, k)`` (PA)
    impurity and entropy as above but without the log(19) division and without
    window averaging of the entropy: score = e * impurity.

The argmax is taken on p with ties to the lowest class index, as torch.argmax. Both
functions run under no_grad and return tensors of the logits' float dtype (float32 for
half precision input); they match the reference to float rounding (summation order).
On CPU the softmax/entropy row chunks run on torch.get_num_threads() Python threads,
each op with one intra-op thread (see window.one_intraop_thread).
"""
import math
from concurrent.futures import ThreadPoolExecutor

import torch

from .window import box_max, box_min, box_sum, one_intraop_thread, window_count

_EPS = 1e-6
_CHUNK_ELEMS = 1 << 19  # softmax/entropy in row chunks that stay in cache (CPU)
_SPARSE_MAX_WINDOW = 49  # impure-pixels-only impurity for windows up to 7x7


def _check(logits, k):
    if not torch.is_tensor(logits) or logits.ndim != 3:
        shape = tuple(logits.shape) if torch.is_tensor(logits) else type(logits).__name__
        raise ValueError(f'logits must be a (C, H, W) tensor, got {shape}')
    if not logits.is_floating_point():
        raise ValueError(f'logits must be floating point, got {logits.dtype}')
    if not isinstance(k, int) or isinstance(k, bool) or k < 0:
        raise ValueError(f'k must be an int >= 0 (window 2k+1), got {k!r}')


def _entropy_and_label(logits, workers=1):
    """Pixel entropy -sum p log(p + eps) (H, W) and argmax_c p (H, W, uint8 or int64)."""
    x = logits.detach()  # worker threads do not inherit no_grad
    x = x if x.dtype in (torch.float32, torch.float64) else x.float()
    C, H, W = x.shape
    e = torch.empty((H, W), dtype=x.dtype, device=x.device)
    small = C < 256
    lab = torch.empty((H, W), dtype=torch.uint8 if small else torch.int64, device=x.device)
    # torch.argmax over a non-innermost dim is very slow on CPU: take the max of
    # (p == max) * (C - c) instead, which keeps argmax's first-index tie-break.
    rev = torch.arange(C, 0, -1, dtype=lab.dtype, device=x.device)[:, None, None]
    rows = H if x.device.type != 'cpu' else max(1, _CHUNK_ELEMS // (C * W))

    def work(starts):
        for r0 in starts:
            p = torch.softmax(x[:, r0:r0 + rows], 0)
            torch.amax((p == p.amax(0)).to(lab.dtype).mul_(rev), 0, out=lab[r0:r0 + rows])
            torch.sum((p + _EPS).log_().mul_(p), 0, out=e[r0:r0 + rows])

    starts = list(range(0, H, rows))
    if workers > 1 and len(starts) > 1:  # independent row chunks on Python threads
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, [starts[i::workers] for i in range(workers)]))
    else:
        work(starts)
    return e.neg_(), lab.neg_().add_(C)


def _neg_sum_qlogq(lab, C, k, count):
    """-sum_c q_c log(q_c + eps), q_c = n_c / count (window class histogram)."""
    s2 = (2 * k + 1) ** 2
    if s2 > _SPARSE_MAX_WINDOW or lab.dtype != torch.uint8:
        out = torch.zeros_like(count)
        present = torch.bincount(lab.flatten().long(), minlength=C).nonzero().flatten().tolist()
        for c in present:  # absent classes add exactly +0 in the reference
            q = box_sum(lab == c, k).div(count)  # exact int32 counts
            out.sub_((q + _EPS).log_().mul_(q))
        return out
    # Small windows: pure windows (q = one-hot) all have the same value; the class
    # histogram is built only at impure pixels, from the gathered window labels.
    one = torch.ones((), dtype=count.dtype, device=count.device)
    out = torch.full_like(count, float(-(one + _EPS).log_().mul_(one)))
    idx = (box_max(lab, k) != box_min(lab, k)).flatten().nonzero().squeeze(1)
    if idx.numel() == 0:
        return out
    H, W = lab.shape
    padded = torch.nn.functional.pad(lab[None], (k, k, k, k), value=C)[0].flatten()
    d = torch.arange(2 * k + 1, device=lab.device)
    offs = (d[:, None] * (W + 2 * k) + d[None, :]).flatten()
    win = padded[((idx // W) * (W + 2 * k) + idx % W)[:, None] + offs].long()
    hist = torch.zeros((idx.numel(), C + 1), dtype=count.dtype, device=count.device)
    hist.scatter_add_(1, win, one.expand(win.shape))
    q = hist[:, :C].div_(count.flatten()[idx, None])
    out.view(-1)[idx] = (q + _EPS).log_().mul_(q).sum(1).neg_()
    return out


@torch.no_grad()
def region_scores(logits, k, entropy_norm_classes=19):
    """RA score (RIPU region impurity x region uncertainty); see module docstring."""
    _check(logits, k)
    if not isinstance(entropy_norm_classes, int) or entropy_norm_classes < 2:
        raise ValueError(f'entropy_norm_classes must be an int >= 2, got {entropy_norm_classes!r}')
    norm = math.log(entropy_norm_classes)
    C, H, W = logits.shape
    with one_intraop_thread(logits.device) as workers:
        e, lab = _entropy_and_label(logits, workers)
        count = window_count(H, W, k, device=e.device).to(e.dtype)
        uncertainty = box_sum(e / norm, k).div_(count)
        impurity = _neg_sum_qlogq(lab, C, k, count) / norm
        return impurity * uncertainty, impurity, uncertainty


@torch.no_grad()
def pixel_scores(logits, k):
    """PA score (RIPU pixel entropy x region impurity, unnormalised); see module docstring."""
    _check(logits, k)
    C, H, W = logits.shape
    with one_intraop_thread(logits.device) as workers:
        e, lab = _entropy_and_label(logits, workers)
        count = window_count(H, W, k, device=e.device).to(e.dtype)
        return e * _neg_sum_qlogq(lab, C, k, count)
