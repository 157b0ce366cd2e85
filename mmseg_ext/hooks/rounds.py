"""Selection rounds at fixed iterations, shared by the image- and pool-scope hooks."""
import time
from typing import List, NamedTuple

import torch
from mmengine.model import is_model_wrapper

from adasweep_base.testing import kill_point


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

    def before_iter(self, runner, pool, strategy, round_deltas) -> None:
        """before_train_iter: the round of this iteration, when it selects before the update."""
        if self.before_update:
            self.maybe_buy(runner, pool, runner.iter, strategy, round_deltas)

    def after_iter(self, runner, pool, strategy, round_deltas) -> None:
        """after_train_iter: the round of the completed update, when it selects after it."""
        if not self.before_update:
            self.maybe_buy(runner, pool, runner.iter + 1, strategy, round_deltas)

    def resume(self, runner, pool, strategy, round_deltas) -> None:
        """before_train of a run resumed from a checkpoint taken at a selection iteration but
        before its round (after-update selection only)."""
        if not self.before_update and runner.iter > 0:
            self.maybe_buy(runner, pool, runner.iter, strategy, round_deltas)

    def maybe_buy(self, runner, pool, iteration: int, strategy, round_deltas) -> None:
        if self.due(iteration, pool):
            self.buy(runner, pool, iteration, strategy, round_deltas)

    @torch.no_grad()
    def buy(self, runner, pool, iteration: int, strategy, round_deltas) -> None:
        """Run round ``iteration``: ``round_deltas(runner, model, round_index)`` (model in eval
        mode) gives the store deltas, which are committed and logged."""
        start = time.perf_counter()
        round_index = self.iters.index(iteration)
        model = unwrap(runner.model)
        was_training = model.training
        model.eval()
        deltas = round_deltas(runner, model, round_index)
        kill_point('selection')
        rows = pool.store.commit_round(round_index, iteration, deltas, strategy=strategy.name,
                                       before_update=self.before_update,
                                       options=strategy.options)
        model.train(was_training)
        pool.log_round(runner, round_index, rows, time.perf_counter() - start, strategy.unit)
