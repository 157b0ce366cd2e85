from .backbones import TinyConvNet
from .decode_heads import DeepLabV2Head
from .losses import LocalConsistencyLoss, NegativeLearningLoss
from .segmentors import ADASegmentor

__all__ = ['TinyConvNet', 'ADASegmentor', 'DeepLabV2Head', 'LocalConsistencyLoss', 'NegativeLearningLoss']
