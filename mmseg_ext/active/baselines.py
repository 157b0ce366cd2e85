"""Baseline acquisition scores (RIPU appendix C/D): per-pixel maps from logits (C, H, W),
higher = picked first, and their region (window-mean) variants.

``entropy``           ENT  -sum_c p_c log(p_c + 1e-6) (natural log, not normalised;
                      a constant normalisation would not change the ranking).
``least_confidence``  SCONF 1 - max_c p_c.
``margin``            MAR  -(p_1 - p_2) (negated top-2 margin, so the smallest margin ranks first).
``random_scores``     RAND iid uniform scores (float64, so ties are practically absent).
``canny_edges``       Canny edge mask of an RGB uint8 image (cv2 on the grey image).
``window_mean``       mean of a map over the in-image pixels of the (2k+1)^2 window (zero
                      padding divided by the in-image count, as RIPU's RA uncertainty);
                      ``region_*`` apply it to the scores above ("regions with the largest
                      average score of all pixels in a region", RIPU appendix D).
"""
import cv2
import numpy as np
import torch

from .window import box_sum, window_count

_EPS = 1e-6


def _probs(logits):
    if not torch.is_tensor(logits) or logits.ndim != 3 or not logits.is_floating_point():
        raise ValueError('logits must be a floating (C, H, W) tensor')
    x = logits if logits.dtype in (torch.float32, torch.float64) else logits.float()
    return torch.softmax(x, 0)


@torch.no_grad()
def entropy(logits):
    """(H, W) pixel entropy -sum_c p_c log(p_c + 1e-6) (ENT)."""
    p = _probs(logits)
    return -(p * (p + _EPS).log()).sum(0)


@torch.no_grad()
def least_confidence(logits):
    """(H, W) 1 - max_c p_c (SCONF; larger = less confident)."""
    return 1 - _probs(logits).amax(0)


@torch.no_grad()
def margin(logits):
    """(H, W) negated margin -(p_top1 - p_top2) (MAR; larger = smaller margin)."""
    if logits.shape[0] < 2:
        raise ValueError('margin needs at least 2 classes')
    top = _probs(logits).topk(2, dim=0).values
    return top[1] - top[0]


def random_scores(shape, generator=None, device=None):
    """iid U[0, 1) float64 scores of the given shape (RAND); drawn on the generator's device."""
    gen_device = generator.device if generator is not None else 'cpu'
    r = torch.rand(tuple(shape), generator=generator, dtype=torch.float64, device=gen_device)
    return r if device is None else r.to(device)


def _as_rgb_numpy(image):
    img = image.detach().cpu().numpy() if torch.is_tensor(image) else np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f'image must be (H, W, 3) uint8 RGB, got {img.shape} {img.dtype}')
    return np.ascontiguousarray(img)


def canny_edges(image_rgb_uint8, low=100, high=200):
    """(H, W) bool tensor: cv2.Canny(grey image, low, high) != 0.

    The paper does not give thresholds; 100/200 are OpenCV's tutorial values.
    """
    grey = cv2.cvtColor(_as_rgb_numpy(image_rgb_uint8), cv2.COLOR_RGB2GRAY)
    return torch.from_numpy(cv2.Canny(grey, float(low), float(high)) != 0)


def window_mean(x, k):
    """Mean of x (..., H, W) over the in-image pixels of each (2k+1)^2 window."""
    H, W = x.shape[-2:]
    return box_sum(x, k) / window_count(H, W, k, device=x.device).to(x.dtype)


def region_entropy(logits, k):
    return window_mean(entropy(logits), k)


def region_least_confidence(logits, k):
    return window_mean(least_confidence(logits), k)


def region_margin(logits, k):
    return window_mean(margin(logits), k)
