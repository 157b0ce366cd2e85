"""The one entropy kernel: per-pixel entropy, ADVENT's self-information and ADA-MCU's two-head
uncertainty with its three groups. Tensor in, tensor out; used by `active/` (acquisition scores)
and `models/` (losses, discriminator inputs, the ADA-MCU segmentor) alike.

The epsilon differs between the papers' codes, so it is a parameter; each caller keeps its
code's convention and the exact operations it always had (so the same bits):
  ``RIPU_EPS`` 1e-6, added:     ``p log(p + 1e-6)``   RIPU's scores and impurity, the ENT /
                                region baselines (``active.scores``, ``active.ripu``)
  ``TINY_EPS`` 1e-30, clamped:  ``p log max(p, 1e-30)``   POINT-ENT's patch entropy (0 log 0 = 0)
  ``TINY_EPS`` 1e-30, added, log2 / log2(C):  ADVENT's self-information (POINT-ENT's
                                discriminator input and the MinEnt loss)
  no epsilon:                   ADA-MCU, logs from log_softmax, terms with p = 0 count as 0

``plogp(p, eps, clamp=False)``  elementwise p * log(p + eps) (or log max(p, eps)), computed in
    place on its one temporary.
``sum_plogp(p, dim, eps, clamp=False, out=None)``  its sum over ``dim`` (``out`` as torch.sum).
``entropy_of(probs, dim=0, eps=RIPU_EPS, clamp=False)``  -sum_c p_c log(p_c + eps).
``self_information(prob, eps=TINY_EPS)``  (N, C, H, W) -> (N, C, H, W):
    ``-p * log2(p + eps) / log2(C)``, every channel kept (ADVENT ``prob_2_entropy``; POINT-ENT
    Sec. 3.1, Eq. (2)-(3)).
``two_head_uncertainty(main_logits, aux_logits, gamma)``  (N, H, W), ADA-MCU Eq. 1-3 (l. N =
    line N of papers/004_1ecdab4497048225.txt, l. 291-326):
    p = softmax(main), q = softmax(aux) over C >= 2 classes (dim 1),
    u = -sum_c p_c log p_c / log(C) + gamma * sum_c p_c (log p_c - log q_c),
    i.e. the entropy normalised to [0, 1] (Eq. 2) plus gamma times KL(p || q) (Eq. 3, not
    normalised). Logs come from log_softmax (no epsilon); terms with p_c = 0 count as 0.
    The KL sum is clamped at 0 (rounding can leave -1e-8 where the heads agree; identical
    heads give exactly 0). Both logits must be floating (N, C, H, W) of the same shape:
    the paper's auxiliary head is DeepLab v2's conv4 classifier (l. 338-340, 622-624) at the main
    head's resolution; resize before if yours differs. float16/bfloat16 are computed in
    float32, float64 stays float64 (mixed float32/float64 inputs are promoted). gamma >= 0
    (the paper uses 0.5, l. 646, which cites "Eqn. (12)": read Eq. 1). Runs under no_grad.
``uncertainty_groups(u, pi_high, pi_low)``  long tensor of u's shape (l. 330-335):
    2 = high (u >= pi_high), 1 = medium (pi_low <= u < pi_high), 0 = low (u < pi_low).
    The paper does not say which side the boundaries fall on; a pixel exactly at a
    threshold goes to the higher group. Needs 0 <= pi_low <= pi_high (pi_low == pi_high
    leaves the medium group empty) and a NaN-free floating u (``check_thresholds``,
    ``check_scores``).
"""
import math

import torch

from .checks import check_real, check_same_shape_and_device, is_real

RIPU_EPS = 1e-6
TINY_EPS = 1e-30


def plogp(p, eps, clamp=False):
    """Elementwise p * log(p + eps), or p * log(max(p, eps)) with ``clamp`` (a new tensor)."""
    x = p.clamp_min(eps) if clamp else p + eps
    return x.log_().mul_(p)


def sum_plogp(p, dim, eps, clamp=False, out=None):
    """sum over ``dim`` of ``plogp(p, eps, clamp)`` (into ``out`` when given)."""
    return torch.sum(plogp(p, eps, clamp), dim, out=out)


def entropy_of(probs, dim=0, eps=RIPU_EPS, clamp=False):
    """-sum over ``dim`` of p log(p + eps) (or log max(p, eps) with ``clamp``)."""
    return sum_plogp(probs, dim, eps, clamp).neg_()


def self_information(prob, eps=TINY_EPS):
    """ADVENT's weighted self-information ``-p * log2(p + eps) / log2(C)`` of (N, C, H, W)
    probabilities, all C channels kept: the discriminator input of POINT-ENT Sec. 3.1."""
    if not torch.is_tensor(prob) or prob.ndim != 4:
        shape = tuple(prob.shape) if torch.is_tensor(prob) else type(prob).__name__
        raise ValueError(f'self_information: prob must be an (N, C, H, W) tensor, got {shape}')
    num_classes = prob.shape[1]
    if num_classes < 2:
        raise ValueError(f'self_information: needs C >= 2 classes, got C={num_classes}')
    return -prob * torch.log2(prob + eps) / math.log2(num_classes)


def _logits(x, name):
    if not torch.is_tensor(x) or x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f'{name} must be a floating (N, C, H, W) tensor, got '
                         f'{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}')
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


@torch.no_grad()
def two_head_uncertainty(main_logits, aux_logits, gamma):
    """(N, H, W) entropy(p) / log(C) + gamma * KL(p || p_aux) (ADA-MCU Eq. 1-3)."""
    main = _logits(main_logits, 'main_logits')
    aux = _logits(aux_logits, 'aux_logits')
    check_same_shape_and_device(main, aux, 'main_logits', 'aux_logits')
    C = main.shape[1]
    if C < 2:
        raise ValueError(f'uncertainty needs at least 2 classes (log C normalisation), got {C}')
    check_real('gamma', gamma)
    dtype = torch.promote_types(main.dtype, aux.dtype)
    log_p = torch.log_softmax(main.to(dtype), 1)
    p = log_p.exp()
    zero = ~(p > 0)  # 0 * log 0 = 0 also for -inf logits
    # in place where the values allow it (full-size maps: fewer temporaries); the same
    # operations on the same values as torch.where(p > 0, p * log_p, 0), so the same bits
    ent = (p * log_p).masked_fill_(zero, 0).sum(1).neg_().div_(math.log(C))
    if gamma == 0:
        return ent
    log_q = torch.log_softmax(aux.to(dtype), 1)
    kl = log_p.sub_(log_q).mul_(p).masked_fill_(zero, 0).sum(1).clamp_min_(0)
    return ent.add_(kl.mul_(gamma))


def check_thresholds(pi_high, pi_low):
    if not (is_real(pi_high) and is_real(pi_low) and 0 <= pi_low <= pi_high):
        raise ValueError(f'thresholds must satisfy 0 <= pi_low <= pi_high (finite), '
                         f'got pi_low={pi_low!r}, pi_high={pi_high!r}')


def check_scores(u, name='u'):
    if not torch.is_tensor(u) or not u.is_floating_point():
        raise ValueError(f'{name} must be a floating tensor, got '
                         f'{type(u).__name__ if not torch.is_tensor(u) else u.dtype}')
    if torch.isnan(u).any():
        raise ValueError(f'{name} must not contain NaN')


def uncertainty_groups(u, pi_high, pi_low):
    """Long tensor of u's shape: 2 high (u >= pi_high), 1 medium, 0 low (u < pi_low)."""
    check_thresholds(pi_high, pi_low)
    check_scores(u)
    return (u >= pi_low).long() + (u >= pi_high).long()
