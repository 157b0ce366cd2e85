"""Argument checks of ``MultiLevelContrastiveLoss`` (one-line ``ValueError`` naming the argument,
what was expected and what it got) and its number of classes C."""
import torch


def check_choice(name, value, allowed):
    """A non-empty sequence of distinct values from ``allowed``, as a tuple."""
    if (isinstance(value, str) or not isinstance(value, (tuple, list)) or not value
            or any(v not in allowed for v in value) or len(set(value)) != len(value)):
        raise ValueError(f'{name} must be a non-empty sequence of distinct values from '
                         f'{allowed}, got {value!r}')
    return tuple(value)


def shape_of(x):
    return tuple(x.shape) if torch.is_tensor(x) else type(x).__name__


def check_domain(prefix, embed, label, pred, masks):
    """embed (N, D, h, w) floating; label and pred integer (N, H, W) with (H, W) the label's
    own resolution or the embeddings'; masks [(name, bool tensor of that shape)]."""
    if not torch.is_tensor(embed) or embed.ndim != 4 or not embed.is_floating_point():
        raise ValueError(f'{prefix}_embed must be a floating (N, D, h, w) tensor, '
                         f'got {shape_of(embed)}')
    size, source = (embed.shape[0], *embed.shape[2:]), f'{prefix}_embed'
    if torch.is_tensor(label) and label.ndim == 3 and label.shape[0] == embed.shape[0]:
        size, source = tuple(label.shape), f'{prefix}_label'  # a label resolution of its own
    for name, x in ((f'{prefix}_label', label), (f'{prefix}_pred', pred)):
        if not torch.is_tensor(x) or tuple(x.shape) != size:
            raise ValueError(f'{name} must have shape {size} (from {source}), '
                             f'got {shape_of(x)}')
        if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
            raise ValueError(f'{name} must hold integer class ids, got dtype {x.dtype}')
    for name, x in masks:
        if not torch.is_tensor(x) or tuple(x.shape) != size or x.dtype != torch.bool:
            raise ValueError(f'{name} must be a bool tensor of shape {size} '
                             f'(from {source}), got {shape_of(x)} '
                             f'{x.dtype if torch.is_tensor(x) else ""}'.rstrip())


def check_dccm(dccm_weights):
    if dccm_weights is not None and (not torch.is_tensor(dccm_weights)
                                     or dccm_weights.ndim != 2
                                     or dccm_weights.shape[0] != dccm_weights.shape[1]):
        raise ValueError(f'dccm_weights must be a (C, C) tensor or None, '
                         f'got {shape_of(dccm_weights)}')


def num_classes(labels, preds, dccm_weights, ignore_index):
    """C: dccm_weights.shape[0] when given (ids checked against it), else 1 + the largest id
    in the labels / predictions."""
    ids = [p.reshape(-1) for p in preds]
    ids += [lab[lab != ignore_index].reshape(-1) for lab in labels]
    ids = torch.cat([i.long() for i in ids])
    lo, hi = (torch.stack([ids.min(), ids.max()]).tolist() if ids.numel() else (0, 0))
    if dccm_weights is not None:
        C = dccm_weights.shape[0]
        if lo < 0 or hi >= C:
            raise ValueError(f'labels / predictions must be in [0, {C}) (dccm_weights is '
                             f'{C}x{C}) or {ignore_index}, got range [{lo}, {hi}]')
        return C
    if lo < 0:
        raise ValueError(f'labels / predictions must be >= 0 or {ignore_index}, '
                         f'got minimum {lo}')
    return hi + 1
