"""Selection rounds at fixed iterations, shared by the image- and pool-scope hooks (their
``SelectionHook`` runs them)."""
from typing import List, NamedTuple

from mmengine.model import is_model_wrapper


class Schedule(NamedTuple):
    """What a hook tells the sweep layer: the iterations (completed updates) at which it
    selects and at which the run is evaluated (and reports) before the final evaluation."""
    select_iters: List[int]
    eval_iters: List[int]


def unwrap(model):
    return model.module if is_model_wrapper(model) else model


class SelectionRounds:
    """One round at each of ``select_iters``: after the update of that iteration, or before it
    (``select_before_update``: RIPU's source-free variant at iteration 0, ADeADA's stages)."""

    def __init__(self, select_iters, select_before_update: bool, owner: str):
        iters = list(select_iters)
        if not iters or any(not isinstance(i, int) or i < 0 for i in iters) or \
                sorted(set(iters)) != iters:
            raise ValueError(f'{owner}: select_iters={select_iters!r}, expected increasing '
                             'distinct non-negative integers')
        self.iters, self.before_update, self.owner = iters, bool(select_before_update), owner

    def __len__(self):
        return len(self.iters)

    def schedule(self) -> Schedule:
        return Schedule(list(self.iters), list(self.iters))

    def check(self, max_iters: int) -> None:
        first, last = (0, max_iters - 1) if self.before_update else (1, max_iters)
        bad = [i for i in self.iters if not first <= i <= last]
        if bad:
            raise ValueError(f'{self.owner}: select_iters {bad} outside the schedule '
                             f'(expected {first}..{last} for max_iters={max_iters})')

    def due(self, iteration: int, pool) -> bool:
        """A round is due at ``iteration`` and the store has none there yet."""
        return iteration in self.iters and not pool.has_round_at(iteration)

    def iteration_at(self, runner, event: str):
        """The iteration whose round is due at this ``event`` of the Runner ('before_iter',
        'after_iter', 'resume'), or None: before the update selects before the iteration's
        update; after it, after the completed update, and a run resumed from a checkpoint
        taken at a selection iteration (before its round) selects first."""
        if self.before_update:
            return runner.iter if event == 'before_iter' else None
        if event == 'after_iter':
            return runner.iter + 1
        return runner.iter if event == 'resume' and runner.iter > 0 else None
