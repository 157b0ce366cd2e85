from .ada_segmentor import ADASegmentor, DomainOutputs

__all__ = ['ADASegmentor', 'DomainOutputs']
