"""RIPU local consistency regularisation (reference: BIT-DA/RIPU ``LocalConsistentLoss``,
``LCR_TYPE='l1'``), used on source images with weight alpha1 = 0.1.

``LocalConsistencyLoss(loss_weight=0.1, region='boundary', ignore_index=255)(logits, label)``
    logits (N, C, H, W), label (N, H, W) at the same resolution. p = softmax over C;
    d = sum_c |p_c - m_c| with m the 3x3 mean of p (weights 1/9, centre included,
    replicate padding); loss = loss_weight * mean of d over the region:
    'boundary' (reference): label != ignore_index and the 8-neighbour Laplacian of the
      label id map itself (ignore ids included, zero padding) is != 0, i.e. the 3x3
      label neighbourhood is not constant (this includes most image-border pixels of
      classes other than 0, as in the reference);
    'all': every label != ignore_index pixel.
    An empty region gives 0 (with a graph), where the reference returns NaN.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmseg_ext.ops.window import box_sum

_REGIONS = ('boundary', 'all')


@MODELS.register_module()
class LocalConsistencyLoss(nn.Module):

    def __init__(self, loss_weight=0.1, region='boundary', ignore_index=255,
                 loss_name='loss_lcr'):
        super().__init__()
        if region not in _REGIONS:
            raise ValueError(f'region must be one of {_REGIONS}, got {region!r}')
        if not loss_weight >= 0:
            raise ValueError(f'loss_weight must be >= 0, got {loss_weight!r}')
        self.loss_weight = loss_weight
        self.region = region
        self.ignore_index = ignore_index
        self._loss_name = loss_name

    @property
    def loss_name(self):
        return self._loss_name

    def forward(self, logits, label):
        if logits.ndim != 4 or label.ndim != 3 or label.shape != (
                logits.shape[0], *logits.shape[2:]):
            raise ValueError(f'expected logits (N, C, H, W) and label (N, H, W) of the same '
                             f'size, got {tuple(logits.shape)} and {tuple(label.shape)}')
        low = logits.dtype in (torch.float16, torch.bfloat16)
        p = torch.softmax(logits.float() if low else logits, 1)
        # the 3x3 mean as a depthwise convolution: 3x faster than avg_pool2d on CPU (fwd + bwd)
        C = p.shape[1]
        mean = F.conv2d(F.pad(p, (1, 1, 1, 1), mode='replicate'),
                        p.new_full((C, 1, 3, 3), 1 / 9), groups=C)
        d = (p - mean).abs().sum(1)
        mask = label != self.ignore_index
        if self.region == 'boundary':
            ids = label.float()
            mask &= (9 * ids - box_sum(ids, 1)) != 0  # Laplacian, exact on integer ids
        loss = torch.where(mask, d, 0).sum() / mask.sum().clamp(min=1)
        return self.loss_weight * loss
