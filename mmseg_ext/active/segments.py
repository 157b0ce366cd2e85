"""Fixed regions for acquisition (RIPU Table 6: fixed rectangles and superpixels vs the
floating k-square neighbourhoods of RA), scored per segment and bought whole.

``grid_segments(H, W, cell_h, cell_w)``  non-overlapping rectangles, row-major ids; cells at
    the bottom/right border are smaller when H, W are not multiples of the cell.
``slic_segments(image, n_segments, compactness)``  SLIC superpixels (skimage, start_label=0).
    The paper used SEEDS (opencv-contrib ``cv2.ximgproc``), which is not installable from
    PyPI alongside the plain opencv-python we depend on, so SLIC stands in for it.
``segment_scores(score_map, segments)``  mean of a pixel score per segment id.
``segment_ripu_scores(logits, segments)``  RA on a fixed region: (score, impurity, uncertainty).
``select_segments(seg_scores, segments, pixel_budget, blocked)``  whole segments by score.

Segment ids are >= 0; ids without pixels get a NaN mean and are never selected.
"""
import math

import numpy as np
import torch

from .baselines import _as_rgb_numpy, entropy
from .select import Selection

_EPS = 1e-6


def grid_segments(height, width, cell_h, cell_w, device=None):
    """(H, W) long ids of a grid of cell_h x cell_w rectangles."""
    for n, v in (('height', height), ('width', width), ('cell_h', cell_h), ('cell_w', cell_w)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f'{n} must be an int >= 1, got {v!r}')
    rows = torch.arange(height, device=device) // cell_h
    cols = torch.arange(width, device=device) // cell_w
    return rows[:, None] * (-(-width // cell_w)) + cols[None, :]


def slic_segments(image_rgb_uint8, n_segments=256, compactness=10.0):
    """(H, W) long ids from skimage.segmentation.slic (Lab SLIC, start_label=0).

    Stand-in for the paper's SEEDS superpixels (not available from PyPI for us).
    """
    from skimage.segmentation import slic
    img = _as_rgb_numpy(image_rgb_uint8)
    seg = slic(img, n_segments=int(n_segments), compactness=float(compactness),
               start_label=0, channel_axis=-1)
    return torch.from_numpy(seg.astype(np.int64))


def _check_segments(segments, shape):
    if (not torch.is_tensor(segments) or segments.is_floating_point()
            or segments.dtype == torch.bool):
        raise ValueError('segments must be an integer tensor')
    if tuple(segments.shape) != tuple(shape):
        raise ValueError(f'segments shape {tuple(segments.shape)} != {tuple(shape)}')
    if segments.numel() and int(segments.min()) < 0:
        raise ValueError('segment ids must be >= 0')
    return segments.flatten().long()


def _num(seg, num_segments):
    n = int(seg.max()) + 1 if seg.numel() else 0
    return n if num_segments is None else max(n, num_segments)


@torch.no_grad()
def segment_scores(score_map, segments, num_segments=None):
    """(S,) mean of score_map (H, W) per segment id (S = max id + 1; NaN for empty ids)."""
    seg = _check_segments(segments, score_map.shape)
    n = _num(seg, num_segments)
    size = torch.bincount(seg, minlength=n).double()
    total = torch.zeros(n, dtype=torch.float64, device=seg.device).index_add_(
        0, seg, score_map.flatten().double())
    return (total / size).to(score_map.dtype if score_map.is_floating_point() else torch.float32)


@torch.no_grad()
def segment_ripu_scores(logits, segments, entropy_norm_classes=19, num_segments=None):
    """RIPU RA on fixed regions, each (S,): (impurity * uncertainty, impurity, uncertainty).

    impurity = -sum_c q_c log(q_c + 1e-6) / log(entropy_norm_classes), q = histogram of the
    argmax class over the segment's pixels / its size; uncertainty = mean over the segment of
    the pixel entropy / log(entropy_norm_classes) (the reference's hard-coded log 19).
    """
    C = logits.shape[0]
    seg = _check_segments(segments, logits.shape[1:])
    n = _num(seg, num_segments)
    norm = math.log(entropy_norm_classes)
    lab = logits.argmax(0).flatten()
    size = torch.bincount(seg, minlength=n).double()
    q = torch.bincount(seg * C + lab, minlength=n * C).view(n, C).double() / size[:, None]
    impurity = -(q * (q + _EPS).log()).sum(1) / norm
    e = entropy(logits).flatten().double() / norm
    uncertainty = torch.zeros(n, dtype=torch.float64, device=seg.device).index_add_(0, seg, e)
    uncertainty /= size
    dt = logits.dtype if logits.dtype in (torch.float32, torch.float64) else torch.float32
    return (impurity * uncertainty).to(dt), impurity.to(dt), uncertainty.to(dt)


@torch.no_grad()
def select_segments(seg_scores, segments, pixel_budget, blocked=None):
    """Buy whole segments in descending score order until their pixels reach pixel_budget.

    A segment touching a blocked pixel, or without pixels, is not available. The last segment
    bought may overshoot the budget (at most by its own size minus one pixel). Ties go to the
    lower id. Returns a ``Selection`` whose ``centers`` are the bought segment ids (in buying
    order), ``labelled`` their pixels and ``blocked`` = blocked | labelled.
    Raises ValueError if the available segments hold fewer than pixel_budget pixels.
    """
    seg2d = segments
    seg = _check_segments(segments, segments.shape)
    n = seg_scores.numel()
    if seg.numel() and int(seg.max()) >= n:
        raise ValueError(f'segment id {int(seg.max())} has no score (only {n} scores)')
    size = torch.bincount(seg, minlength=n)
    avail = size > 0
    if blocked is not None:
        if tuple(blocked.shape) != tuple(segments.shape):
            raise ValueError(f'blocked shape {tuple(blocked.shape)} != {tuple(segments.shape)}')
        blocked = blocked.to(torch.bool)
        avail &= torch.bincount(seg[blocked.flatten()], minlength=n) == 0
    ids = avail.nonzero().flatten()
    s = seg_scores.flatten()[ids]
    if torch.isnan(s).any():
        raise ValueError('NaN score for an available segment')
    ids = ids[torch.sort(s, descending=True, stable=True).indices]
    cum = size[ids].cumsum(0)
    budget = int(math.ceil(pixel_budget))
    if budget <= 0:
        picked = ids[:0]
    else:
        total = int(cum[-1]) if cum.numel() else 0
        if total < budget:
            raise ValueError(f'available segments hold {total} pixels < budget {budget}')
        picked = ids[:int(torch.searchsorted(cum, budget)) + 1]
    chosen = torch.zeros(n, dtype=torch.bool, device=seg.device)
    chosen[picked] = True
    labelled = chosen[seg2d.long()]
    new_blocked = labelled if blocked is None else blocked | labelled
    return Selection(centers=picked, labelled=labelled, blocked=new_blocked)
