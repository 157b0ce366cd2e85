from .ada_segmentor import ADASegmentor, DomainOutputs
from .adversarial_segmentor import AdversarialSegmentor

__all__ = ['ADASegmentor', 'AdversarialSegmentor', 'DomainOutputs']
