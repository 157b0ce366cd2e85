"""RIPU (Xie et al., CVPR 2022): region impurity and prediction uncertainty.

  RIPU-RA          region_scores score (Eq. 7, RA): label the (2k+1)^2 square, suppress 2k [k=1]
  RIPU-PA          pixel_scores (PA): label the pixel, suppress k [k=32]
  RIPU-Impurity    RA impurity only (Eq. 5), units as RIPU-RA       (Table 3 a)
  RIPU-Uncertainty RA uncertainty only (window-mean entropy, Eq. 6) (Table 3 b)
  RIPU-Rect        RA on fixed cell=(h, w) rectangles, bought whole [(4, 8)]        (Table 6)
  RIPU-Superpixel  RA on SLIC superpixels [n_segments=256, compactness=10]          (Table 6)
The RIPU-Rect default (4, 8) = 32 px fits one round of 2.2 %/5 on SynthShift's 64x128 labels
(36 px), so the overshoot stays below one round; use (32, 64) on 1024x2048 Cityscapes labels
(the paper gives no size). The superpixel default has the same nominal mean area on 64x128
(SLIC returns fewer, larger segments: about 170-230 on SynthShift target images). The paper's
superpixels are SEEDS (not installable from PyPI for us), so SLIC stands in.
"""
from ...ops.checks import is_int
from ..scores import pixel_scores, region_scores
from .base import STRATEGIES
from .contract import IMAGE
from .image import GreedyStrategy, SegmentStrategy


@STRATEGIES.register_module(name='RIPU-RA')
class RipuRA(GreedyStrategy):
    part = 0  # region_scores -> (score, impurity, uncertainty)

    def score(self, logits, image, generator):
        o = self.options
        return region_scores(logits, o['k'], o['entropy_norm_classes'])[self.part]


@STRATEGIES.register_module(name='RIPU-Impurity')
class RipuImpurity(RipuRA):
    part = 1


@STRATEGIES.register_module(name='RIPU-Uncertainty')
class RipuUncertainty(RipuRA):
    part = 2


@STRATEGIES.register_module(name='RIPU-PA')
class RipuPA(GreedyStrategy):
    unit = 'pixel'

    def __init__(self, k: int = 32, **options):
        super().__init__(k=k, **options)

    @property
    def suppress_radius(self):
        return self.options['k']

    def score(self, logits, image, generator):
        return pixel_scores(logits, self.options['k'])


@STRATEGIES.register_module(name='RIPU-Rect')
class RipuRect(SegmentStrategy):

    def __init__(self, cell: tuple = (4, 8), **options):
        super().__init__(**options)
        c = cell
        if not (isinstance(c, (tuple, list)) and len(c) == 2 and all(is_int(v, 1) for v in c)):
            self.bad('cell', 'a pair of ints >= 1 (h, w)')

    def region(self):
        return dict(type='grid', cell=tuple(self.options['cell']))


@STRATEGIES.register_module(name='RIPU-Superpixel')
class RipuSuperpixel(SegmentStrategy):
    needs = SegmentStrategy.needs | {IMAGE}

    def __init__(self, n_segments: int = 256, compactness: float = 10.0, **options):
        super().__init__(**options)
        if not is_int(n_segments, 1):
            self.bad('n_segments', 'an int >= 1')
        c = compactness
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not c > 0:
            self.bad('compactness', 'a number > 0')

    def region(self):
        return dict(type='superpixel', n_segments=self.options['n_segments'],
                    compactness=self.options['compactness'])
