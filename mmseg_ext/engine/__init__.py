from .active_runner import ActiveRunner, resolve_active_label_dirs
from .optim_constructor import AdversarialOptimWrapperConstructor
from .round_poly_lr import RoundPolyLR

__all__ = ['ActiveRunner', 'AdversarialOptimWrapperConstructor', 'RoundPolyLR', 'resolve_active_label_dirs']
