from .ada_segmentor import ADASegmentor, DomainOutputs
from .adamcu_segmentor import ADAMCUSegmentor
from .adversarial_segmentor import AdversarialSegmentor

__all__ = ['ADASegmentor', 'ADAMCUSegmentor', 'AdversarialSegmentor', 'DomainOutputs']
