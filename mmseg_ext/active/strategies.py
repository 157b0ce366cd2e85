"""Named acquisition strategies (score + unit + per-image budget), RIPU and its baselines.

    budget = Budget(ratio=0.022, rounds=5)                          # fraction of pixels, whole run
    budget = Budget(pixels=40, rounds=5, resolution=(640, 1280))   # pixels per image, whole run
    strategy = build_strategy('ripu_ra', k=1)
    count = strategy.units_per_round(H, W, budget)
    pick = strategy.select(logits, count, blocked=None, image=None, generator=None)

Every image gets ``count`` units per round (RIPU: no dataset-level ranking). Per-round pixel
budget P = H*W*(ratio/rounds), or pixels/rounds/(h*w)*(H*W) with (h, w) = resolution
(RIPU's "40 px at 1280x640" -> 2048x1024 scale 2.56; resolution None -> scale 1), in the
reference's float order. Units: 'region' ceil(P / (2k+1)^2) squares of radius k, 'pixel'
ceil(P) pixels, 'segment' ceil(P) pixels bought as whole segments (the last may overshoot).

Strategies (option defaults in brackets; every strategy also accepts entropy_norm_classes
[19], the reference's log(19) normalisation, ranking-neutral everywhere):
  ripu_ra      RIPU RA: region_scores score, label k, suppress 2k [k=1]          (RIPU eq. 7, RA)
  ripu_pa      RIPU PA: pixel_scores, label the pixel, suppress k [k=32]         (RIPU PA)
  impurity     RA impurity only, units as ripu_ra [k=1]                         (Table 3 a)
  uncertainty  RA uncertainty (window-mean entropy) only, as ripu_ra [k=1]      (Table 3 b)
  rand/ent/sconf/mar  uniform random / entropy / 1 - max p / -(p1 - p2)         (Table 4, app. D)
      unit='region' [default]: window-mean score (rand: iid per centre, so every available
      square is equally likely), label k, suppress suppress_radius [2k], k [1];
      unit='pixel': pixel score, label 0, suppress suppress_radius [0]. 0 = plain top-N
      pixels, which is what the paper describes ("compromised by the aggregation of
      selected pixels"); set 32 to spread them like PA.
  canny_ent    ent restricted to Canny edge centres of the target image [low=100, high=200],
               same unit options as ent                                         (appendix C)
  ripu_rect    RA score on fixed cell=(h, w) rectangles [(4, 8)], whole cells   (Table 6)
  ripu_superpixel  RA score on SLIC superpixels [n_segments=256, compactness=10] (Table 6)
The ripu_rect default (4, 8) = 32 px fits one round of 2.2 %/5 on SynthShift's 64x128 labels
(36 px) so the overshoot stays below one round; use (32, 64) on 1024x2048 Cityscapes labels
(the paper gives no size). The superpixel default has the same nominal mean area on
64x128 (SLIC returns fewer, larger segments: about 170-230 on SynthShift target images).
"""
import math
from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple

import torch

from . import baselines as B
from .ripu import pixel_scores, region_scores
from .segments import grid_segments, segment_ripu_scores, select_segments, slic_segments
from .select import greedy_select


@dataclass(frozen=True)
class Budget:
    """Per-image annotation budget over the whole run: ``ratio`` of the label pixels, or
    ``pixels`` per image defined at ``resolution`` (h, w) (None = at label resolution)."""
    ratio: Optional[float] = None
    pixels: Optional[float] = None
    rounds: int = 1
    resolution: Optional[Tuple[int, int]] = None

    def __post_init__(self):
        if (self.ratio is None) == (self.pixels is None):
            raise ValueError('Budget needs exactly one of ratio= or pixels=')
        if self.ratio is not None and not 0 < self.ratio <= 1:
            raise ValueError(f'budget ratio must be in (0, 1], got {self.ratio!r}')
        if self.pixels is not None and not self.pixels > 0:
            raise ValueError(f'budget pixels must be > 0, got {self.pixels!r}')
        if self.ratio is not None and self.resolution is not None:
            raise ValueError('resolution only applies to a pixels= budget')
        if not isinstance(self.rounds, int) or isinstance(self.rounds, bool) or self.rounds < 1:
            raise ValueError(f'rounds must be an int >= 1, got {self.rounds!r}')
        if self.resolution is not None and (len(self.resolution) != 2
                                            or min(self.resolution) < 1):
            raise ValueError(f'resolution must be (h, w) >= 1, got {self.resolution!r}')

    def pixels_per_round(self, height, width):
        """Per-round pixel budget (float) for an (height, width) label map."""
        if self.ratio is not None:
            return height * width * (self.ratio / self.rounds)
        if self.resolution is None:
            return self.pixels / self.rounds
        h, w = self.resolution
        return self.pixels / self.rounds / (h * w) * (height * width)


class Pick(NamedTuple):
    labelled: torch.Tensor          # (H, W) bool, pixels to annotate
    blocked: torch.Tensor           # (H, W) bool, input blocked | new suppression/segments
    units: int                      # regions / pixels / segments bought
    centers: Optional[torch.Tensor]  # (units, 2) (row, col) or (units,) segment ids


def _is_int(v, lo):
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


class Strategy:
    """Base: options validated against ``defaults`` (+ entropy_norm_classes)."""
    name = None
    unit = None
    defaults = {}
    needs_image = False
    needs_logits = True  # False: select() uses only the size of `logits` (C may be 0)

    def __init__(self, **options):
        known = {**self.defaults, 'entropy_norm_classes': 19}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(f'{self.name}: unknown option(s) {unknown}; '
                             f'known: {sorted(known)}')
        self.options = {**known, **options}
        if not _is_int(self.options['entropy_norm_classes'], 2):
            self._bad('entropy_norm_classes', 'an int >= 2')
        if 'k' in self.options and not _is_int(self.options['k'], 0):
            self._bad('k', 'an int >= 0')
        self._validate()

    def _bad(self, key, what):
        raise ValueError(f'{self.name}: option {key} must be {what}, got {self.options[key]!r}')

    def _validate(self):
        pass

    def __repr__(self):
        return f'{type(self).__name__}({self.name!r}, {self.options})'

    @property
    def unit_area(self):
        return 1

    def units_per_round(self, height, width, budget):
        return math.ceil(budget.pixels_per_round(height, width) / self.unit_area)

    def _inputs(self, logits, count, blocked, image):
        if not torch.is_tensor(logits) or logits.ndim != 3 or not logits.is_floating_point():
            raise ValueError('logits must be a floating (C, H, W) tensor')
        if not _is_int(count, 0):
            raise ValueError(f'count must be an int >= 0, got {count!r}')
        H, W = logits.shape[1:]
        if blocked is not None and (not torch.is_tensor(blocked) or blocked.dtype != torch.bool
                                    or tuple(blocked.shape) != (H, W)):
            raise ValueError(f'blocked must be a bool ({H}, {W}) tensor')
        if self.needs_image:
            if image is None:
                raise ValueError(f'{self.name} needs the target image (image=)')
            if tuple(image.shape) != (H, W, 3):
                raise ValueError(f'image shape {tuple(image.shape)} != ({H}, {W}, 3)')
        if blocked is None:
            blocked = torch.zeros((H, W), dtype=torch.bool, device=logits.device)
        return blocked

    def select(self, logits, count, blocked=None, image=None, generator=None):
        raise NotImplementedError


class GreedyStrategy(Strategy):
    """Score map + RIPU's greedy pick with square suppression (select.greedy_select)."""
    defaults = {'k': 1}
    unit = 'region'

    @property
    def label_radius(self):
        return self.options['k'] if self.unit == 'region' else 0

    @property
    def suppress_radius(self):
        return 2 * self.options['k']

    @property
    def unit_area(self):
        return (2 * self.label_radius + 1) ** 2

    def score(self, logits, image, generator):
        """(H, W) score; -inf marks positions that cannot be centres."""
        raise NotImplementedError

    def select(self, logits, count, blocked=None, image=None, generator=None):
        blocked = self._inputs(logits, count, blocked, image)
        if count == 0:
            return Pick(torch.zeros_like(blocked), blocked.clone(), 0,
                        torch.zeros((0, 2), dtype=torch.long, device=logits.device))
        s = self.score(logits, image, generator)
        sel = greedy_select(s, count, self.label_radius, self.suppress_radius, blocked=blocked)
        return Pick(sel.labelled, sel.blocked, count, sel.centers)


class RipuRA(GreedyStrategy):
    name = 'ripu_ra'
    _part = 0  # region_scores -> (score, impurity, uncertainty)

    def score(self, logits, image, generator):
        o = self.options
        return region_scores(logits, o['k'], o['entropy_norm_classes'])[self._part]


class Impurity(RipuRA):
    name = 'impurity'
    _part = 1


class Uncertainty(RipuRA):
    name = 'uncertainty'
    _part = 2


class RipuPA(GreedyStrategy):
    name = 'ripu_pa'
    unit = 'pixel'
    defaults = {'k': 32}

    @property
    def suppress_radius(self):
        return self.options['k']

    def score(self, logits, image, generator):
        return pixel_scores(logits, self.options['k'])


class Baseline(GreedyStrategy):
    """Pixel score ``_pixel`` (logits -> (H, W)); window-mean for unit='region'."""
    defaults = {'unit': 'region', 'k': 1, 'suppress_radius': None}
    _pixel = None

    def _validate(self):
        if self.options['unit'] not in ('region', 'pixel'):
            self._bad('unit', "'region' or 'pixel'")
        s = self.options['suppress_radius']
        if s is not None and not _is_int(s, 0):
            self._bad('suppress_radius', 'None or an int >= 0')

    @property
    def unit(self):
        return self.options['unit']

    @property
    def suppress_radius(self):
        s = self.options['suppress_radius']
        if s is not None:
            return s
        return 2 * self.options['k'] if self.unit == 'region' else 0

    def score(self, logits, image, generator):
        s = type(self)._pixel(logits)
        return B.window_mean(s, self.options['k']) if self.unit == 'region' else s


class Rand(Baseline):
    name = 'rand'
    needs_logits = False

    def score(self, logits, image, generator):
        # iid per centre (no window mean): each available square/pixel is equally likely
        return B.random_scores(logits.shape[1:], generator, device=logits.device)


class Ent(Baseline):
    name = 'ent'
    _pixel = B.entropy


class SConf(Baseline):
    name = 'sconf'
    _pixel = B.least_confidence


class Mar(Baseline):
    name = 'mar'
    _pixel = B.margin


class CannyEnt(Ent):
    name = 'canny_ent'
    defaults = {**Baseline.defaults, 'low': 100, 'high': 200}
    needs_image = True

    def _validate(self):
        super()._validate()
        lo, hi = self.options['low'], self.options['high']
        if not (isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and 0 <= lo <= hi):
            self._bad('low', f'<= high ({hi!r}) and >= 0')

    def score(self, logits, image, generator):
        edges = B.canny_edges(image, self.options['low'], self.options['high'])
        return super().score(logits, image, generator).masked_fill(
            ~edges.to(logits.device), float('-inf'))


class SegmentStrategy(Strategy):
    """RIPU RA score on fixed segments, bought whole under a per-round pixel budget."""
    unit = 'segment'

    def segments(self, height, width, image):
        raise NotImplementedError

    def select(self, logits, count, blocked=None, image=None, generator=None):
        blocked = self._inputs(logits, count, blocked, image)
        H, W = logits.shape[1:]
        seg = self.segments(H, W, image).to(logits.device)
        score = segment_ripu_scores(logits, seg, self.options['entropy_norm_classes'])[0]
        sel = select_segments(score, seg, count, blocked)
        return Pick(sel.labelled, sel.blocked, int(sel.centers.numel()), sel.centers)


class RipuRect(SegmentStrategy):
    name = 'ripu_rect'
    defaults = {'cell': (4, 8)}

    def _validate(self):
        c = self.options['cell']
        if not (isinstance(c, (tuple, list)) and len(c) == 2 and all(_is_int(v, 1) for v in c)):
            self._bad('cell', 'a pair of ints >= 1 (h, w)')

    def segments(self, height, width, image):
        return grid_segments(height, width, *self.options['cell'])


class RipuSuperpixel(SegmentStrategy):
    name = 'ripu_superpixel'
    defaults = {'n_segments': 256, 'compactness': 10.0}
    needs_image = True

    def _validate(self):
        if not _is_int(self.options['n_segments'], 1):
            self._bad('n_segments', 'an int >= 1')
        c = self.options['compactness']
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not c > 0:
            self._bad('compactness', 'a number > 0')

    def segments(self, height, width, image):
        return slic_segments(image, self.options['n_segments'], self.options['compactness'])


STRATEGIES = {c.name: c for c in (RipuRA, RipuPA, Impurity, Uncertainty, Rand, Ent, SConf, Mar,
                                  CannyEnt, RipuRect, RipuSuperpixel)}


def build_strategy(name, **options):
    """Instantiate a registered strategy; ValueError for unknown names or bad options."""
    if name not in STRATEGIES:
        raise ValueError(f'unknown strategy {name!r}; known: {sorted(STRATEGIES)}')
    return STRATEGIES[name](**options)
