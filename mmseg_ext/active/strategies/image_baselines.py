"""RIPU's per-image baselines (Table 4, appendices C and D).

  RAND / ENT / SCONF / MAR   uniform random / entropy / 1 - max p / -(p1 - p2)
      unit='region' [default]: window-mean score (RAND: iid per centre, so every available
      square is equally likely), label k, suppress suppress_radius [2k], k [1];
      unit='pixel': pixel score, label 0, suppress suppress_radius [0]. 0 = plain top-N
      pixels, which is what the paper describes ("compromised by the aggregation of
      selected pixels"); set 32 to spread them like PA.
  Canny-ENT  ENT restricted to Canny edge centres of the target image [low=100, high=200],
             same unit options as ENT (appendix C)
"""
from ...ops.checks import is_int, is_real
from ..scores import canny_edges, entropy, least_confidence, margin, random_scores, window_mean
from .base import STRATEGIES
from .contract import IMAGE, LOGITS
from .image import GreedyStrategy


class PixelScoreStrategy(GreedyStrategy):
    """A pixel score (``pixel_score``: logits -> (H, W)); window-mean for unit='region'."""
    pixel_score = None

    def __init__(self, unit: str = 'region', suppress_radius: int = None, **options):
        super().__init__(**options)
        if unit not in ('region', 'pixel'):
            self.bad('unit', "'region' or 'pixel'")
        if suppress_radius is not None and not is_int(suppress_radius, 0):
            self.bad('suppress_radius', 'None or an int >= 0')

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
        s = type(self).pixel_score(logits)
        return window_mean(s, self.options['k']) if self.unit == 'region' else s


@STRATEGIES.register_module(name='RAND')
class Rand(PixelScoreStrategy):
    needs = PixelScoreStrategy.needs - {LOGITS}

    def score(self, logits, image, generator):
        # iid per centre (no window mean): each available square/pixel is equally likely
        return random_scores(logits.shape[1:], generator, device=logits.device)


@STRATEGIES.register_module(name='ENT')
class Ent(PixelScoreStrategy):
    pixel_score = entropy


@STRATEGIES.register_module(name='SCONF')
class SConf(PixelScoreStrategy):
    pixel_score = least_confidence


@STRATEGIES.register_module(name='MAR')
class Mar(PixelScoreStrategy):
    pixel_score = margin


@STRATEGIES.register_module(name='Canny-ENT')
class CannyEnt(Ent):
    needs = Ent.needs | {IMAGE}

    def __init__(self, low: float = 100, high: float = 200, **options):
        super().__init__(**options)
        lo, hi = low, high
        if not (is_real(lo, 0) and is_real(hi) and lo <= hi):
            self.bad('low', f'<= high ({hi!r}) and >= 0')

    def score(self, logits, image, generator):
        edges = canny_edges(image, self.options['low'], self.options['high'])
        return super().score(logits, image, generator).masked_fill(
            ~edges.to(logits.device), float('-inf'))
