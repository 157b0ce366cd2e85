"""Every per-pixel (and per-region) acquisition score, once; tensor in, tensor out. Higher
scores are bought first. Image-scope strategies, pool-scope strategies and the hooks all take
their scores from here.

Pixel scores from logits (C, H, W) (the ``*_of`` forms take probabilities, softmax over dim 0):
  ``entropy``           ENT  -sum_c p_c log(p_c + 1e-6) (natural log, not normalised: a
                        constant normalisation would not change the ranking; RIPU app. D)
  ``least_confidence``  SCONF / CONF 1 - max_c p_c
  ``margin``            MAR  -(p_1 - p_2): the smallest top-2 margin ranks first
  ``random_scores``     RAND iid U[0, 1) float64 (ties practically absent)
  ``region_scores``     RIPU RA (Eq. 5-7: region impurity x window-mean uncertainty;
                        implemented in ``ripu``), ``pixel_scores`` RIPU PA
  ``two_head_uncertainty``  ADA-MCU (Eq. 1-3): entropy / log C + gamma KL(main || aux)
                        (``entropy_of`` and it are the entropy kernel's, mmseg_ext.ops.uncertainty)
Windows and regions:
  ``window_mean``       mean over the in-image pixels of each (2k+1)^2 window (zero padding
                        divided by the in-image count, as RIPU's RA uncertainty); ``region_*``
                        apply it to ENT / SCONF / MAR ("regions with the largest average score
                        of all pixels in a region", RIPU app. D)
  ``segment_scores``    mean of a pixel score per segment id
  ``segment_ripu_scores``  RA on fixed segments (RIPU Table 6)
Image features:
  ``canny_edges``       Canny edge mask of an RGB uint8 image (RIPU app. C)
"""
import math

import cv2
import torch

from ..ops.checks import as_rgb_numpy, check_logits
from ..ops.uncertainty import RIPU_EPS
from ..ops.uncertainty import entropy_of  # noqa: F401  (re-exported: the pixel scores' catalogue)
from ..ops.uncertainty import two_head_uncertainty  # noqa: F401  (re-exported)
from ..ops.window import box_sum, window_count
from .ripu import pixel_scores, region_scores  # noqa: F401  (re-exported)


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the classes of (C, H, W) logits (half precision in float32)."""
    return torch.softmax(check_logits(logits), 0)


def least_confidence_of(probs: torch.Tensor, dim: int = 0) -> torch.Tensor:
    return 1 - probs.amax(dim)


def margin_of(probs: torch.Tensor, dim: int = 0) -> torch.Tensor:
    if probs.shape[dim] < 2:
        raise ValueError('margin needs at least 2 classes')
    top = probs.topk(2, dim=dim).values
    return top.select(dim, 1) - top.select(dim, 0)


@torch.no_grad()
def entropy(logits: torch.Tensor) -> torch.Tensor:
    """(H, W) pixel entropy -sum_c p_c log(p_c + 1e-6) (ENT)."""
    return entropy_of(probabilities(logits))


@torch.no_grad()
def least_confidence(logits: torch.Tensor) -> torch.Tensor:
    """(H, W) 1 - max_c p_c (SCONF; larger = less confident)."""
    return least_confidence_of(probabilities(logits))


@torch.no_grad()
def margin(logits: torch.Tensor) -> torch.Tensor:
    """(H, W) negated margin -(p_top1 - p_top2) (MAR; larger = smaller margin)."""
    if logits.shape[0] < 2:
        raise ValueError('margin needs at least 2 classes')
    return margin_of(probabilities(logits))


def random_scores(shape, generator: torch.Generator = None, device=None) -> torch.Tensor:
    """iid U[0, 1) float64 scores of the given shape (RAND); drawn on the generator's device."""
    gen_device = generator.device if generator is not None else 'cpu'
    r = torch.rand(tuple(shape), generator=generator, dtype=torch.float64, device=gen_device)
    return r if device is None else r.to(device)


def canny_edges(image_rgb_uint8, low: float = 100, high: float = 200) -> torch.Tensor:
    """(H, W) bool tensor: cv2.Canny(grey image, low, high) != 0.

    The paper does not give thresholds; 100/200 are OpenCV's tutorial values.
    """
    grey = cv2.cvtColor(as_rgb_numpy(image_rgb_uint8), cv2.COLOR_RGB2GRAY)
    return torch.from_numpy(cv2.Canny(grey, float(low), float(high)) != 0)


def window_mean(x: torch.Tensor, k: int) -> torch.Tensor:
    """Mean of x (..., H, W) over the in-image pixels of each (2k+1)^2 window."""
    H, W = x.shape[-2:]
    return box_sum(x, k) / window_count(H, W, k, device=x.device).to(x.dtype)


def region_entropy(logits: torch.Tensor, k: int) -> torch.Tensor:
    return window_mean(entropy(logits), k)


def region_least_confidence(logits: torch.Tensor, k: int) -> torch.Tensor:
    return window_mean(least_confidence(logits), k)


def region_margin(logits: torch.Tensor, k: int) -> torch.Tensor:
    return window_mean(margin(logits), k)


def flat_segment_ids(segments: torch.Tensor, shape) -> torch.Tensor:
    """Checked (H, W) integer segment ids >= 0, flattened to long."""
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
def segment_scores(score_map: torch.Tensor, segments: torch.Tensor,
                   num_segments: int = None) -> torch.Tensor:
    """(S,) mean of score_map (H, W) per segment id (S = max id + 1; NaN for empty ids)."""
    seg = flat_segment_ids(segments, score_map.shape)
    n = _num(seg, num_segments)
    size = torch.bincount(seg, minlength=n).double()
    total = torch.zeros(n, dtype=torch.float64, device=seg.device).index_add_(
        0, seg, score_map.flatten().double())
    return (total / size).to(score_map.dtype if score_map.is_floating_point() else torch.float32)


@torch.no_grad()
def segment_ripu_scores(logits: torch.Tensor, segments: torch.Tensor,
                        entropy_norm_classes: int = 19, num_segments: int = None):
    """RIPU RA on fixed regions (Table 6), each (S,): (impurity * uncertainty, impurity,
    uncertainty).

    impurity = -sum_c q_c log(q_c + 1e-6) / log(entropy_norm_classes), q = histogram of the
    argmax class over the segment's pixels / its size; uncertainty = mean over the segment of
    the pixel entropy / log(entropy_norm_classes) (the reference's hard-coded log 19).
    """
    C = logits.shape[0]
    seg = flat_segment_ids(segments, logits.shape[1:])
    n = _num(seg, num_segments)
    norm = math.log(entropy_norm_classes)
    lab = logits.argmax(0).flatten()
    size = torch.bincount(seg, minlength=n).double()
    q = torch.bincount(seg * C + lab, minlength=n * C).view(n, C).double() / size[:, None]
    impurity = entropy_of(q, 1, RIPU_EPS) / norm
    e = entropy(logits).flatten().double() / norm
    uncertainty = torch.zeros(n, dtype=torch.float64, device=seg.device).index_add_(0, seg, e)
    uncertainty /= size
    dt = logits.dtype if logits.dtype in (torch.float32, torch.float64) else torch.float32
    return (impurity * uncertainty).to(dt), impurity.to(dt), uncertainty.to(dt)
