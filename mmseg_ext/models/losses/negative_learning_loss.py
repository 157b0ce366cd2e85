"""RIPU negative learning loss (reference: BIT-DA/RIPU ``NegativeLearningLoss``), used on
all target pixels with tau = 0.05 and weight alpha2 = 1.0.

``NegativeLearningLoss(threshold=0.05, loss_weight=1.0)(logits)``
    logits (N, C, H, W); p = softmax over C; M = (p < threshold), detached, per pixel
    and class; loss = loss_weight * sum(M * -log(1 - p + 1e-6)) / sum(M), over every
    pixel (nothing is ignored). Normalised by the number of (pixel, class) entries
    below the threshold, as the reference. An empty M gives 0 (with a graph), where
    the reference returns NaN.
"""
import torch
import torch.nn as nn
from mmseg.registry import MODELS


@MODELS.register_module()
class NegativeLearningLoss(nn.Module):

    def __init__(self, threshold=0.05, loss_weight=1.0, loss_name='loss_nl'):
        super().__init__()
        if not 0 < threshold < 1:
            raise ValueError(f'threshold must be in (0, 1), got {threshold!r}')
        if not loss_weight >= 0:
            raise ValueError(f'loss_weight must be >= 0, got {loss_weight!r}')
        self.threshold = threshold
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self):
        return self._loss_name

    def forward(self, logits):
        if logits.ndim != 4:
            raise ValueError(f'expected logits (N, C, H, W), got {tuple(logits.shape)}')
        low = logits.dtype in (torch.float16, torch.bfloat16)
        p = torch.softmax(logits.float() if low else logits, 1)
        mask = (p < self.threshold).detach()
        loss = torch.where(mask, -torch.log(1 - p + 1e-6), 0).sum() / mask.sum().clamp(min=1)
        return self.loss_weight * loss
