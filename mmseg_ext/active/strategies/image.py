"""Image scope: every target image gets ``count`` units per round (no dataset-level ranking).

    budget = Budget(ratio=0.022, rounds=5)                          # fraction of pixels, whole run
    budget = Budget(pixels=40, rounds=5, resolution=(640, 1280))   # pixels per image, whole run
    strategy = build_strategy(dict(type='RIPU-RA', k=1))
    count = strategy.units_per_round(H, W, budget)
    pick = strategy.select(logits, count, blocked=None, generator=None, **given)

Per-round pixel budget P = H*W*(ratio/rounds), or pixels/rounds/(h*w)*(H*W) with (h, w) =
resolution (RIPU's "40 px at 1280x640" -> 2048x1024 scale 2.56; resolution None -> scale 1), in
the reference's float order. Units: 'region' ceil(P / (2k+1)^2) squares of radius k, 'pixel'
ceil(P) pixels, 'segment' ceil(P) pixels bought as whole segments (the last may overshoot).
Every image strategy also takes entropy_norm_classes [19], the reference's log(19)
normalisation, ranking-neutral everywhere. ``given`` holds what the strategy declares beyond the
logits (contract: ``image=``, ``feats=``, ``aux_logits=``); the hook hands nothing else.
"""
import abc
import math
from typing import NamedTuple, Optional

import torch

from ...ops.checks import is_int
from ..scores import segment_ripu_scores
from ..select import greedy_select
from ..units import Budget, region_segments, select_segments
from .contract import AUX_LOGITS, BUDGET, FEATURES, IMAGE, LOGITS, Strategy


class Pick(NamedTuple):
    labelled: torch.Tensor          # (H, W) bool, pixels to annotate
    blocked: torch.Tensor           # (H, W) bool, input blocked | new suppression/segments
    units: int                      # regions / pixels / segments bought
    centers: Optional[torch.Tensor]  # (units, 2) (row, col) or (units,) segment ids
    pseudo: Optional[torch.Tensor] = None  # (H, W) long pseudo labels, 255 = none (POINT-ENT)


class ImageStrategy(Strategy):
    """Picks units in one image: ``select(logits, count, blocked, generator, **given)``."""
    scope = 'image'
    needs = frozenset({LOGITS, BUDGET})

    def __init__(self, entropy_norm_classes: int = 19):
        super().__init__()
        if not is_int(entropy_norm_classes, 2):
            self.bad('entropy_norm_classes', 'an int >= 2')

    @property
    def unit_area(self) -> int:
        return 1

    def units_per_round(self, height: int, width: int, budget: Budget) -> int:
        return math.ceil(budget.pixels_per_round(height, width) / self.unit_area)

    def check_inputs(self, logits, count, blocked, image, given=None) -> torch.Tensor:
        """Checked inputs of ``select`` (``given``: its other keyword inputs); returns
        ``blocked`` (all False when None)."""
        if not torch.is_tensor(logits) or logits.ndim != 3 or not logits.is_floating_point():
            raise ValueError('logits must be a floating (C, H, W) tensor')
        if not is_int(count, 0):
            raise ValueError(f'count must be an int >= 0, got {count!r}')
        H, W = logits.shape[1:]
        if blocked is not None and (not torch.is_tensor(blocked) or blocked.dtype != torch.bool
                                    or tuple(blocked.shape) != (H, W)):
            raise ValueError(f'blocked must be a bool ({H}, {W}) tensor')
        if IMAGE in self.needs:
            if image is None:
                raise ValueError(f'{self.name} needs the target image (image=)')
            if tuple(image.shape) != (H, W, 3):
                raise ValueError(f'image shape {tuple(image.shape)} != ({H}, {W}, 3)')
        for need, what in ((FEATURES, 'features'), (AUX_LOGITS, 'auxiliary logits')):
            value = (given or {}).get(need)
            if need in self.needs and (not torch.is_tensor(value) or value.ndim != 3
                                       or tuple(value.shape[1:]) != (H, W)):
                raise ValueError(f'{self.name} needs the {what} ({need}=), a (D, {H}, {W}) '
                                 'tensor')
        if blocked is None:
            blocked = torch.zeros((H, W), dtype=torch.bool, device=logits.device)
        return blocked

    @abc.abstractmethod
    def select(self, logits, count, blocked=None, image=None, generator=None, **given) -> Pick:
        """The units to buy in one image (``count`` of them, ``blocked`` excluded)."""


class GreedyStrategy(ImageStrategy):
    """A score map + RIPU's greedy pick with square suppression (select.greedy_select);
    ``score`` gets the declared inputs (``given``) as keyword arguments."""
    unit = 'region'

    def __init__(self, k: int = 1, **options):
        super().__init__(**options)
        if not is_int(k, 0):
            self.bad('k', 'an int >= 0')

    @property
    def label_radius(self) -> int:
        return self.options['k'] if self.unit == 'region' else 0

    @property
    def suppress_radius(self) -> int:
        return 2 * self.options['k']

    @property
    def unit_area(self) -> int:
        return (2 * self.label_radius + 1) ** 2

    @abc.abstractmethod
    def score(self, logits, image, generator, **given) -> torch.Tensor:
        """(H, W) score; -inf marks positions that cannot be centres."""

    def select(self, logits, count, blocked=None, image=None, generator=None, **given) -> Pick:
        blocked = self.check_inputs(logits, count, blocked, image, given)
        if count == 0:
            return Pick(torch.zeros_like(blocked), blocked.clone(), 0,
                        torch.zeros((0, 2), dtype=torch.long, device=logits.device))
        s = self.score(logits, image, generator, **given)
        sel = greedy_select(s, count, self.label_radius, self.suppress_radius, blocked=blocked)
        return Pick(sel.labelled, sel.blocked, count, sel.centers)


class SegmentStrategy(ImageStrategy):
    """RIPU's RA score on fixed segments (``region``), bought whole under the pixel budget."""
    unit = 'segment'

    @abc.abstractmethod
    def region(self) -> dict:
        """The segments' spec for units.region_segments."""

    def segments(self, height: int, width: int, image=None) -> torch.Tensor:
        return region_segments(self.region(), height, width, image=image)

    def select(self, logits, count, blocked=None, image=None, generator=None, **given) -> Pick:
        blocked = self.check_inputs(logits, count, blocked, image, given)
        H, W = logits.shape[1:]
        seg = self.segments(H, W, image).to(logits.device)
        score = segment_ripu_scores(logits, seg, self.options['entropy_norm_classes'])[0]
        sel = select_segments(score, seg, count, blocked)
        return Pick(sel.labelled, sel.blocked, int(sel.centers.numel()), sel.centers)
