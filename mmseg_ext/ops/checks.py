"""Argument checks shared by the acquisition layer: each raises one-line ``ValueError`` naming
the argument, what was expected and what it got."""
import math
import numbers
from typing import Any

import numpy as np
import torch


def is_int(value: Any, minimum: int = None) -> bool:
    """An integer (not a bool), >= ``minimum`` when given."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return ok and (minimum is None or value >= minimum)


def is_real(value: Any, minimum: float = None) -> bool:
    """A finite real number (not a bool), >= ``minimum`` when given."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    return ok and (minimum is None or value >= minimum)


def check_int(name: str, value: Any, minimum: int) -> None:
    if not is_int(value, minimum):
        raise ValueError(f'{name} must be an int >= {minimum}, got {value!r}')


def check_real(name: str, value: Any, minimum: float = 0.0) -> None:
    if not is_real(value, minimum):
        raise ValueError(f'{name} must be a finite number >= {minimum:g}, got {value!r}')


def check_fraction(name: str, value: Any, low_open: bool = True) -> None:
    """A number in (0, 1] (``low_open``) or in [0, 1)."""
    ok = is_real(value) and (0 < value <= 1 if low_open else 0 <= value < 1)
    if not ok:
        span = '(0, 1]' if low_open else '[0, 1)'
        raise ValueError(f'{name} must be a number in {span}, got {value!r}')


def check_choice(name: str, value: Any, choices) -> None:
    if value not in choices:
        raise ValueError(f'{name} must be one of {tuple(choices)}, got {value!r}')


def check_logits(logits: Any, name: str = 'logits') -> torch.Tensor:
    """A floating (C, H, W) tensor; half precision is returned as float32."""
    if not torch.is_tensor(logits) or logits.ndim != 3 or not logits.is_floating_point():
        raise ValueError(f'{name} must be a floating (C, H, W) tensor')
    return logits if logits.dtype in (torch.float32, torch.float64) else logits.float()


def check_same_shape_and_device(a: torch.Tensor, b: torch.Tensor, name_a: str,
                                name_b: str) -> None:
    """Two tensors of one shape on one device."""
    if a.shape != b.shape:
        raise ValueError(f'{name_a} and {name_b} must have the same shape, '
                         f'got {tuple(a.shape)} and {tuple(b.shape)}')
    if a.device != b.device:
        raise ValueError(f'{name_a} and {name_b} must be on one device, '
                         f'got {a.device} and {b.device}')


def as_rgb_numpy(image: Any) -> np.ndarray:
    """An (H, W, 3) uint8 RGB image (tensor or array) as a contiguous numpy array."""
    img = image.detach().cpu().numpy() if torch.is_tensor(image) else np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f'image must be (H, W, 3) uint8 RGB, got {img.shape} {img.dtype}')
    return np.ascontiguousarray(img)


def check_region_pool(x: Any, segments: Any, num_segments: int, what: str) -> None:
    """``x`` (N, D, H, W) floating and ``segments`` (N, H, W) integer ids in [0, num_segments)."""
    check_int('num_segments', num_segments, 1)
    if not torch.is_tensor(x) or x.ndim != 4:
        raise ValueError(f'{what} must be a (N, D, H, W) tensor')
    if not x.is_floating_point():
        raise ValueError(f'{what} must be floating point, got {x.dtype}')
    if not torch.is_tensor(segments) or segments.shape != (x.shape[0], *x.shape[2:]):
        shape = tuple(segments.shape) if torch.is_tensor(segments) else type(segments).__name__
        raise ValueError(f'segments must be a (N, H, W) tensor matching {what} '
                         f'{tuple(x.shape)}, got {shape}')
    if segments.dtype.is_floating_point or segments.dtype == torch.bool:
        raise ValueError(f'segments must hold integer ids, got {segments.dtype}')
    if segments.numel() and (segments.min() < 0 or segments.max() >= num_segments):
        raise ValueError(f'segment ids must be in [0, {num_segments})')
