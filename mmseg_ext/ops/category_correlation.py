"""ADA-MCU's dynamic category correlation matrix (DCCM, Eq. 7-8 of paper 004; l. N = line N
of papers/004_1ecdab4497048225.txt): the batch confusion rates and their running average, used
by the ADA-MCU segmentor to weight the contrastive loss's negatives.

``R, present = confusion_rates(pred, label, num_classes, ignore_index=255)``  Eq. 7 (l. 486-502):
    R[u, v] = #(label == u and pred == v) / #(label == u) over the batch, (C, C) float64,
    rows of classes absent from label are 0 and present (C,) bool marks the others. The
    paper calls M^(u, v) "misclassified" pixels; the diagonal is kept here (R is the
    row-normalised confusion matrix, R[u, u] = recall of u), so every present row sums to
    1. Use W * (1 - eye(C)) if only the off-diagonal errors are wanted. pred / label:
    integer (N, H, W) (any integer dtype, not bool) on the same device; label values in
    [0, C) or ignore_index, pred values in [0, C). One bincount over u * C + v.

``dccm = CategoryCorrelation(num_classes, momentum)``  DCCM, Eq. 8 (l. 504-521), an nn.Module:
    ``dccm.weights`` (C, C) float32 buffer W, zeros at start (the paper gives no initial
    value), saved by state_dict / restored by load_state_dict, moved by .to(device) and
    cast by .double(). ``dccm.update(pred, label)`` computes R of the batch and sets, for
    the rows u of classes present in label,
        W[u] = momentum * W[u] + (1 - momentum) * R[u]    (momentum = the paper's beta);
    rows of absent classes are left unchanged (an absent class has no R row; averaging
    in zeros would decay what was learnt about it). R is computed on pred's device and
    moved to W's device and dtype. Returns (R, present). num_classes int >= 1,
    momentum in [0, 1). The paper updates W once per training iteration (step 14,
    l. 705-706; l. 504); its value for beta is not given.
"""
import torch
from torch import nn

from .checks import check_fraction, check_int, check_same_shape_and_device

IGNORE_INDEX = 255


def _check_labels(x, name, ndim=3):
    if not torch.is_tensor(x) or x.ndim != ndim:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f'{name} must be a {ndim}-D (N, H, W) integer tensor, got {shape}')
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise ValueError(f'{name} must hold integer class ids, got dtype {x.dtype}')


def confusion_rates(pred, label, num_classes, ignore_index=IGNORE_INDEX):
    """(C, C) float64 R[u, v] = #(label u, pred v) / #(label u) and (C,) bool present rows."""
    check_int('num_classes', num_classes, 1)
    _check_labels(pred, 'pred')
    _check_labels(label, 'label')
    check_same_shape_and_device(pred, label, 'pred', 'label')
    C = num_classes
    pred, label = pred.long(), label.long()
    keep = label != ignore_index
    lab, prd = label[keep], pred[keep]
    if lab.numel():
        if lab.min() < 0 or lab.max() >= C:
            raise ValueError(f'label values must be in [0, {C}) or {ignore_index}, '
                             f'got range [{int(lab.min())}, {int(lab.max())}]')
        if prd.min() < 0 or prd.max() >= C:
            raise ValueError(f'pred values must be in [0, {C}), '
                             f'got range [{int(prd.min())}, {int(prd.max())}]')
    counts = torch.bincount(lab * C + prd, minlength=C * C).view(C, C).double()
    rows = counts.sum(1)
    present = rows > 0
    return counts / rows.clamp_min(1).unsqueeze(1), present


class CategoryCorrelation(nn.Module):
    """Dynamic category correlation matrix W (Eq. 7-8), EMA of the batch confusion rates."""

    def __init__(self, num_classes, momentum):
        super().__init__()
        check_int('num_classes', num_classes, 1)
        check_fraction('momentum', momentum, low_open=False)
        self.num_classes = int(num_classes)
        self.momentum = float(momentum)
        self.register_buffer('weights', torch.zeros(self.num_classes, self.num_classes))

    def extra_repr(self):
        return f'num_classes={self.num_classes}, momentum={self.momentum}'

    @torch.no_grad()
    def update(self, pred, label):
        """W[u] = m * W[u] + (1 - m) * R[u] for classes u present in label; returns (R, present)."""
        R, present = confusion_rates(pred, label, self.num_classes)
        W = self.weights
        R_w = R.to(device=W.device, dtype=W.dtype)
        present_w = present.to(W.device)
        new = self.momentum * W + (1 - self.momentum) * R_w
        W.copy_(torch.where(present_w.unsqueeze(1), new, W))
        return R, present
