from .tiny_conv_net import TinyConvNet

__all__ = ['TinyConvNet']
