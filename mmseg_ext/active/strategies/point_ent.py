"""POINT-ENT (paper 002, Sec. 3.2, Eq. 5-6): entropy-selected grid patches, N oracle points in
each of the top-K patches, G1's pseudo labels at the points of every other patch.

One pass over the target-train set with G1, before G2 trains (the hook's select_iters=[0],
select_before_update=True, score_checkpoint = G1). Options: grid [(8, 16): 64x64 patches at
1024x512], k [10] patches per image, points_per_patch [5] (N), selection ['entropy' | 'random'],
pseudo ['points' (default, the implementation details) | 'dense' (Sec. 3.2 and Fig. 2: G1's
argmax on the whole of every other patch) | 'none' (no pseudo labels)], stride [1]: the label
maps are stride x the training size (Cityscapes: labels 2048x1024, training 1024x512: 2), so
the acquisition runs on every stride-th pixel, the training-size map, and each click is a label
pixel that the training pipeline's nearest resize keeps. Points are drawn once
from the round's seeded generator (mmseg_ext.active.point_ent.acquire); a point on void stays
void but is a click. Costs: units = oracle clicks (K * N), pixels = oracle-labelled pixels,
pseudo_pixels = pixels with a pseudo label (the label store keeps them apart).
"""
import torch

from .. import point_ent
from ...ops.checks import check_choice, is_int
from .base import STRATEGIES
from .contract import BUDGET
from .image import ImageStrategy, Pick

IGNORE = 255


@STRATEGIES.register_module(name='POINT-ENT')
class PointEnt(ImageStrategy):
    unit = 'point'
    needs = ImageStrategy.needs - {BUDGET}  # K patches x N points per image

    def __init__(self, grid: tuple = (8, 16), k: int = 10, points_per_patch: int = 5,
                 selection: str = 'entropy', pseudo: str = 'points', stride: int = 1,
                 **options):
        super().__init__(**options)
        o = self.options
        if not is_int(k, 0):
            self.bad('k', 'an int >= 0')
        if not (isinstance(o['grid'], (tuple, list)) and len(o['grid']) == 2
                and all(is_int(g, 1) for g in o['grid'])):
            self.bad('grid', '(rows, cols) of ints >= 1')
        if not is_int(o['points_per_patch'], 1):
            self.bad('points_per_patch', 'an int >= 1')
        if not is_int(o['stride'], 1):
            self.bad('stride', 'an int >= 1')
        try:
            check_choice('selection', o['selection'], point_ent.SELECTIONS)
            check_choice('pseudo', o['pseudo'], point_ent.PSEUDO)
        except ValueError as err:
            raise ValueError(f'{self.name}: {err}') from None

    def units_per_round(self, height, width, budget=None):
        """Oracle clicks per image (K * N); the grid, K and N are checked against the image."""
        o, s = self.options, self.options['stride']
        try:
            if height % s or width % s:
                raise ValueError(f'stride {s} does not divide the {height}x{width} label map')
            point_ent.check_options(o['k'], o['points_per_patch'], tuple(o['grid']),
                                    (height // s, width // s), o['selection'], o['pseudo'])
        except ValueError as err:
            raise ValueError(f'{self.name}: {err}') from None
        return o['k'] * o['points_per_patch']

    def select(self, logits, count, blocked=None, image=None, generator=None, **given) -> Pick:
        blocked = self.check_inputs(logits, count, blocked, image, given)
        o, s = self.options, self.options['stride']
        H, W = logits.shape[1:]
        self.units_per_round(H, W)
        device = logits.device  # everything on it; the draws come from `generator`'s device
        prob = torch.softmax(logits.float(), 0)[:, ::s, ::s].contiguous()
        # the store buys the gt
        no_gt = torch.full(prob.shape[1:], IGNORE, dtype=torch.long, device=device)
        got = point_ent.acquire(prob, no_gt, o['k'], o['points_per_patch'], tuple(o['grid']),
                                o['selection'], o['pseudo'], generator)
        oracle = torch.zeros((H, W), dtype=torch.bool, device=device)
        oracle[::s, ::s] = got.oracle
        pseudo = torch.full((H, W), IGNORE, dtype=torch.long, device=device)
        pseudo[::s, ::s] = torch.where(got.pseudo, got.labels, IGNORE)
        return Pick(oracle, blocked | oracle, got.clicks, got.patches, pseudo)
