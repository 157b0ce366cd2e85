from .backbones import TinyConvNet
from .decode_heads import DeepLabV2Head
from .discriminators import FCDiscriminator
from .losses import LocalConsistencyLoss, NegativeLearningLoss
from .segmentors import ADASegmentor, AdversarialSegmentor

__all__ = ['TinyConvNet', 'ADASegmentor', 'AdversarialSegmentor', 'DeepLabV2Head',
           'FCDiscriminator', 'LocalConsistencyLoss', 'NegativeLearningLoss']
