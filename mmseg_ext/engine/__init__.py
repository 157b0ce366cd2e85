from .active_runner import ActiveRunner, resolve_active_label_dirs
from .exact_resume_iter_based_train_loop import (ExactResumeIterBasedTrainLoop,
                                                 resumable_dataloader, rng_state, set_rng_state)
from .optim_constructor import AdversarialOptimWrapperConstructor
from .resume import resolve_resume, resume_checkpoint
from .round_poly_lr import RoundPolyLR

__all__ = ['ActiveRunner', 'AdversarialOptimWrapperConstructor', 'ExactResumeIterBasedTrainLoop',
           'RoundPolyLR', 'resolve_active_label_dirs', 'resolve_resume', 'resumable_dataloader',
           'resume_checkpoint', 'rng_state', 'set_rng_state']
