"""ADVENT's MinEnt loss (Vu et al., CVPR'19; the "MinEnt" row of POINT-ENT's Table 1), as the
reference code's ``entropy_loss`` (valeoai/ADVENT ``advent/utils/loss.py``).

``EntropyLoss(loss_weight=1.0)(logits)``
    logits (N, C, H, W), as mmseg losses take them; p = softmax over C (in float32 for half
    precision input); loss = loss_weight * mean over the N * H * W pixels of
    ``sum_c -p * log2(p + 1e-30) / log2(C)``, i.e. the class sum of
    ``mmseg_ext.ops.uncertainty.self_information``, in [0, 1]. Every pixel counts (nothing is
    ignored: MinEnt runs on unlabelled target images). A second positional argument (a label, as
    mmseg passes one) and ``ignore_index`` are accepted and unused; ``weight`` (N, H, W), when
    given, multiplies the per-pixel entropy before the mean (mmseg's weight_reduce_loss).
ADVENT's weights: 0.001 on the main head, 0.0002 on the auxiliary one (upsampled to the input
size first); AdversarialSegmentor(alignment='minent') applies them per level.
"""
import torch
import torch.nn as nn
from mmseg.registry import MODELS

from mmseg_ext.ops.uncertainty import self_information


@MODELS.register_module()
class EntropyLoss(nn.Module):

    def __init__(self, loss_weight=1.0, loss_name='loss_ent'):
        super().__init__()
        if not loss_weight >= 0:
            raise ValueError(f'EntropyLoss: loss_weight must be >= 0, got {loss_weight!r}')
        if not isinstance(loss_name, str) or not loss_name.startswith('loss_'):
            raise ValueError(f"EntropyLoss: loss_name must start with 'loss_', got {loss_name!r}")
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self):
        return self._loss_name

    def forward(self, logits, label=None, weight=None, ignore_index=255, **kwargs):
        if not torch.is_tensor(logits) or logits.ndim != 4:
            shape = tuple(logits.shape) if torch.is_tensor(logits) else type(logits).__name__
            raise ValueError(f'EntropyLoss: expected logits (N, C, H, W), got {shape}')
        low = logits.dtype in (torch.float16, torch.bfloat16)
        p = torch.softmax(logits.float() if low else logits, 1)
        entropy = self_information(p).sum(1)  # (N, H, W)
        if weight is not None:
            entropy = entropy * weight
        return self.loss_weight * entropy.mean()
