from .decode_heads import DeepLabV2Head
from .segmentors import ADASegmentor

__all__ = ['ADASegmentor', 'DeepLabV2Head']
