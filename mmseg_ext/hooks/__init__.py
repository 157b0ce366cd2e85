from .active_selection_hook import ActiveSelectionHook
from .region_selection_hook import RegionSelectionHook

__all__ = ['ActiveSelectionHook', 'RegionSelectionHook']
