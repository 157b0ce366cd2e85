from .decode_heads import DeepLabV2Head
from .losses import LocalConsistencyLoss, NegativeLearningLoss
from .segmentors import ADASegmentor

__all__ = ['ADASegmentor', 'DeepLabV2Head', 'LocalConsistencyLoss', 'NegativeLearningLoss']
