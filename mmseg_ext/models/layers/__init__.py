from .frozen_stats_bn import FrozenStatsBN

__all__ = ['FrozenStatsBN']
