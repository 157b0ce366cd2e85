"""Per-region statistics of a pool of images, for dataset-wide region acquisition (ADeADA and
the region baselines of its supplement).

``stats = image_regions(logits, segments, blocked=None, feats=None, edges=None, grad=False)``
    One image: logits (C, H, W) at label size, segments (H, W) ids, blocked (H, W) bool (pixels
    already bought or excluded), feats (D, H, W) pre-classifier features at label size, edges
    (H, W) bool. Returns a dict of per-segment rows for the ids that have pixels:
    ``segment`` id, ``size`` pixels, ``available`` (no blocked pixel), ``probs`` (S, C) mean
    softmax, ``entropy`` / ``confidence`` / ``margin`` (S,) the region means of the pixel scores
    of ENT (-sum p log p), CONF (1 - max p) and MAR (-(p1 - p2)) (mmseg_ext.active.scores),
    and, when asked, ``feats`` (S, D) mean features, ``grad`` (S, C*D) BADGE gradient
    embeddings, ``edge`` (S,) fraction of edge pixels.
``pool = RegionPool.concat(rows, images)``  all images' rows in one table; ``images`` gives
    the image index of each row block.

Everything runs on the device of the logits (segments, blocked, feats and edges are moved
there): a trial's pool rows are reduced and concatenated on its GPU, and only these small
per-region rows are kept, never the per-pixel maps. ``pool.classes`` = argmax of the mean softmax (ADeADA's
    region category, ties to the lowest class).

D2ADA's uncertainty score is the region mean of sum_c -p log2(p + 1e-12) / 19: the same ranking
as the mean entropy here (a constant factor and a different epsilon).
"""
from dataclasses import dataclass, fields
from typing import Optional

import torch

from .adeada import region_means
from ..ops.checks import check_logits
from .region_embeddings import gradient_embeddings, region_edge_fraction
from .scores import canny_edges, entropy_of, least_confidence_of, margin_of

# what a pool strategy may need beyond the mean softmax and the ENT / CONF / MAR means
FEATS = 'feats'  # (S, D) mean pre-classifier features
GRAD = 'grad'    # (S, C*D) BADGE gradient embeddings (needs FEATS)
EDGES = 'edges'  # (S,) fraction of Canny edge pixels of the target image
NEEDS = (FEATS, GRAD, EDGES)

@torch.no_grad()
def image_regions(logits, segments, blocked=None, feats=None, edges=None, grad=False):
    """Region rows of one image (see the module docstring)."""
    x = check_logits(logits)
    H, W = logits.shape[1:]
    if tuple(segments.shape) != (H, W):
        raise ValueError(f'segments {tuple(segments.shape)} do not match the logits ({H}, {W})')
    if feats is not None and tuple(feats.shape[1:]) != (H, W):
        raise ValueError(f'feats {tuple(feats.shape)} do not match the logits ({H}, {W})')
    if grad and feats is None:
        raise ValueError('grad=True needs feats')
    seg = segments.to(x.device).long()
    n = int(seg.max()) + 1
    size = torch.bincount(seg.flatten(), minlength=n)
    present = size > 0
    probs = torch.softmax(x, 0)
    C = probs.shape[0]
    maps = [probs, entropy_of(probs)[None], least_confidence_of(probs)[None],
            margin_of(probs)[None]]
    if feats is not None:
        maps.append(feats.to(x.dtype))
    pooled = region_means(torch.cat(maps)[None], seg[None], n)[0][present]
    rows = dict(segment=present.nonzero().flatten(), size=size[present], probs=pooled[:, :C],
                entropy=pooled[:, C], confidence=pooled[:, C + 1], margin=pooled[:, C + 2])
    if feats is not None:
        rows['feats'] = pooled[:, C + 3:]
    if blocked is None:
        rows['available'] = torch.ones_like(present[present])
    else:
        if tuple(blocked.shape) != (H, W):
            raise ValueError(f'blocked {tuple(blocked.shape)} does not match the logits ({H}, {W})')
        hit = torch.bincount(seg[blocked.to(x.device).bool()], minlength=n)
        rows['available'] = (hit == 0)[present]
    if grad:
        rows['grad'] = gradient_embeddings(probs[None], feats[None].to(x.dtype), seg[None],
                                           n)[0][present]
    if edges is not None:
        rows['edge'] = region_edge_fraction(edges.to(x.device)[None].bool(), seg[None],
                                            n)[0][present]
    return rows


def pool_rows(logits, segments, needs, blocked=None, feats=None, image=None):
    """image_regions with what ``needs`` (a set of NEEDS) asks for: ``feats`` given for FEATS,
    GRAD computed from them, EDGES from ``image`` ((H, W, 3) uint8 at label size)."""
    unknown = set(needs) - set(NEEDS)
    if unknown:
        raise ValueError(f'unknown pool needs {sorted(unknown)}; known: {NEEDS}')
    edges = canny_edges(image) if EDGES in needs else None
    return image_regions(logits, segments, blocked, feats if needs else None, edges,
                         grad=GRAD in needs)


@dataclass
class RegionPool:
    """Regions of many images, one row each (see the module docstring)."""
    image: torch.Tensor                  # (R,) long, index of the region's image
    segment: torch.Tensor                # (R,) long, segment id in its image
    size: torch.Tensor                   # (R,) long, pixels at label size
    available: torch.Tensor              # (R,) bool
    probs: torch.Tensor                  # (R, C) mean softmax
    entropy: torch.Tensor                # (R,)
    confidence: torch.Tensor             # (R,) mean 1 - max p
    margin: torch.Tensor                 # (R,) mean -(p1 - p2)
    feats: Optional[torch.Tensor] = None  # (R, D)
    grad: Optional[torch.Tensor] = None   # (R, C*D)
    edge: Optional[torch.Tensor] = None   # (R,)

    def __len__(self):
        return int(self.image.numel())

    @property
    def classes(self):
        return self.probs.argmax(1)

    @classmethod
    def concat(cls, rows, images):
        """One pool from per-image row dicts (image_regions) and their image indices."""
        rows, images = list(rows), list(images)
        if not rows:
            raise ValueError('RegionPool.concat: no images')
        device = rows[0]['segment'].device
        counts = torch.tensor([len(r['segment']) for r in rows], device=device)
        out = dict(image=torch.repeat_interleave(
            torch.as_tensor(images, dtype=torch.long, device=device), counts))
        for f in fields(cls):
            if f.name == 'image':
                continue
            have = [r.get(f.name) is not None for r in rows]
            if not any(have):
                continue
            if not all(have):
                raise ValueError(f'RegionPool.concat: {f.name!r} missing for some images')
            out[f.name] = torch.cat([r[f.name] for r in rows])
        return cls(**out)
