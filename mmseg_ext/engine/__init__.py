from .active_runner import ActiveRunner, resolve_active_label_dirs

__all__ = ['ActiveRunner', 'resolve_active_label_dirs']
