"""The one forward of a segmentor's heads, shared by training (ADASegmentor.domain_forward)
and acquisition (mmseg_ext.hooks.inference)."""
from typing import NamedTuple, Optional

import torch


class HeadOutputs(NamedTuple):
    feats: tuple                       # backbone (+ neck) features
    logits: torch.Tensor               # (N, C, h, w) decode head, at the head's resolution
    aux_logits: Optional[torch.Tensor]  # the first auxiliary head's, None without one


def first_auxiliary_head(model):
    heads = model.auxiliary_head
    return heads[0] if isinstance(heads, torch.nn.ModuleList) else heads


def forward_heads(model, inputs: torch.Tensor, auxiliary: bool = False) -> HeadOutputs:
    """Backbone features, decode-head logits and (``auxiliary``) the first auxiliary head's."""
    feats = model.extract_feat(inputs)
    logits = model.decode_head.forward(feats)
    aux_logits = first_auxiliary_head(model).forward(feats) if auxiliary else None
    return HeadOutputs(feats, logits, aux_logits)
