from .active_selection_hook import ActiveSelectionHook

__all__ = ['ActiveSelectionHook']
