from .active_selection_hook import ActiveSelectionHook
from .adaptive_sampling_hook import AdaptiveSamplingHook
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .region_selection_hook import RegionSelectionHook

__all__ = ['ActiveSelectionHook', 'AdaptiveSamplingHook', 'AtomicCheckpointHook',
           'RegionSelectionHook']
