"""The model's outputs on target images at label size, for every acquisition hook.

``label_size_outputs(model, batch, features=False, auxiliary=False)`` runs the heads once
(``mmseg_ext.models.head_forward``) on a batch of ``PoolImages`` and returns, per image at its
original (label) size, the decode head's logits, the first auxiliary head's logits and the
decode head's pre-classifier features (the input of its ``conv_seg``). Each map is bilinearly
resized to the padded input size (what mmseg's whole-image predict does), the padding is
cropped, and it is resized to ``ori_shape`` (one resize per run of images with the same
geometry): the logits equal mmseg's predict ``seg_logits``.
"""
from contextlib import contextmanager
from typing import List, NamedTuple, Optional

import torch
from mmcv.transforms import Compose
from mmseg.models.utils import resize

from ..models.head_forward import forward_heads


class PoolImages(torch.utils.data.Dataset):
    """Target images to score: data infos through a test-like pipeline (no labels)."""

    def __init__(self, infos, pipeline):
        self.infos, self.pipeline = infos, Compose(pipeline)

    def __len__(self):
        return len(self.infos)

    def __getitem__(self, i):
        info = self.infos[i]
        return dict(self.pipeline(dict(img_path=info['img_path'], seg_fields=[])), index=i)


class LabelSizeOutputs(NamedTuple):
    logits: List[torch.Tensor]                  # (C, h, w) per image
    aux_logits: Optional[List[torch.Tensor]]    # (C, h, w) per image, when asked
    feats: Optional[List[torch.Tensor]]         # (D, h, w) per image, when asked


def label_size_outputs(model, batch, features: bool = False,
                       auxiliary: bool = False) -> LabelSizeOutputs:
    """The model's outputs on a pool batch at label size (see the module docstring)."""
    data = model.data_preprocessor(batch, False)
    metas = [sample.metainfo for sample in data['data_samples']]
    inputs = data['inputs']
    captured, handle = [], None
    if features:
        classifier = getattr(model.decode_head, 'conv_seg', None)
        if classifier is None:
            raise ValueError(f'{type(model.decode_head).__name__} has no conv_seg, so no '
                             'pre-classifier features (DeepLabV2Head: set feature_channels=256)')
        handle = classifier.register_forward_pre_hook(lambda _, args: captured.append(args[0]))
    try:
        heads = forward_heads(model, inputs, auxiliary)
    finally:
        if handle is not None:
            handle.remove()

    def at_label_size(x):
        x = resize(x, size=inputs.shape[2:], mode='bilinear', align_corners=model.align_corners,
                   warning=False)
        return label_size(model, x, metas)

    return LabelSizeOutputs(at_label_size(heads.logits),
                            at_label_size(heads.aux_logits) if auxiliary else None,
                            at_label_size(captured[0]) if features else None)


def label_size_logits(model, batch) -> List[torch.Tensor]:
    """The decode head's logits of a pool batch, each (C, h, w) at its label size."""
    return label_size_outputs(model, batch).logits


def label_size(model, maps: torch.Tensor, metas) -> List[torch.Tensor]:
    """(N, C, H, W) at the padded input size -> list of (C, h, w) at each ori_shape."""
    H, W = maps.shape[-2:]
    groups = []  # [meta, first row, last row] of consecutive images with the same geometry
    for row, meta in enumerate(metas):
        if meta.get('flip'):
            raise ValueError('the pool pipeline must not flip images')
        if groups and _same_geometry(groups[-1][0], meta):
            groups[-1][2] = row
        else:
            groups.append([meta, row, row])
    result = []
    for meta, first, last in groups:
        left, right, top, bottom = meta.get('img_padding_size', meta.get('padding_size', [0] * 4))
        group = maps[first:last + 1, :, top:H - bottom, left:W - right]
        if tuple(group.shape[-2:]) != tuple(meta['ori_shape'][:2]):
            group = resize(group, size=meta['ori_shape'], mode='bilinear',
                           align_corners=model.align_corners, warning=False)
        result.extend(group.unbind(0))
    return result


def _same_geometry(a, b):
    keys = ('ori_shape', 'img_padding_size', 'padding_size')
    return all(tuple(a.get(k) or ()) == tuple(b.get(k) or ()) for k in keys)


def model_device(model) -> torch.device:
    """The device of the model's first parameter (or buffer); the CPU for none."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device('cpu')


def to_numpy(mask: torch.Tensor):
    """A (small-dtype) map as a numpy array on the CPU: the one place where an acquisition
    result leaves its device (pick masks, pseudo classes, bought indices)."""
    return mask.detach().cpu().numpy()


def checkpoint_state(path: str) -> dict:
    """The model state dict of an mmengine checkpoint file (CPU, memory-mapped)."""
    checkpoint = torch.load(path, map_location='cpu', mmap=True, weights_only=True)
    return checkpoint.get('state_dict', checkpoint)


def check_classes(model, path: str, owner: str) -> None:
    """The checkpoint's decode head predicts as many classes as the model's; one-line
    ValueError otherwise (a warm-up of another benchmark or class set)."""
    key = 'decode_head.conv_seg.weight'
    theirs = checkpoint_state(path).get(key)
    ours = model.state_dict().get(key)
    if theirs is not None and ours is not None and theirs.shape[0] != ours.shape[0]:
        raise ValueError(f'{owner}: checkpoint {path} predicts {theirs.shape[0]} classes, the '
                         f"config's model {ours.shape[0]} ({key})")


@contextmanager
def weights_of(model, path: Optional[str]):
    """Inside the block the model has the weights of checkpoint `path` (None: its own); its own
    weights and buffers are restored afterwards, bit for bit."""
    if path is None:
        yield model
        return
    own = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(checkpoint_state(path), strict=False)
    try:
        yield model
    finally:
        model.load_state_dict(own)
