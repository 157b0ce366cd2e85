from .backbones import TinyConvNet
from .decode_heads import DeepLabV2Head
from .discriminators import FCDiscriminator
from .layers import FrozenStatsBN
from .losses import LocalConsistencyLoss, NegativeLearningLoss
from .segmentors import ADASegmentor, AdversarialSegmentor

__all__ = ['TinyConvNet', 'ADASegmentor', 'AdversarialSegmentor', 'DeepLabV2Head',
           'FCDiscriminator', 'FrozenStatsBN', 'LocalConsistencyLoss', 'NegativeLearningLoss']
