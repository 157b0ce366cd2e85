"""``SelectionHook``: the events every selection-round hook shares, written once.

It composes the round logic (``SelectionRounds``), the target pool (``TargetPool``) and the
strategy (built from the registry for the hook's ``scope``), and owns the Runner events:
``before_train`` (schedule check, ``prepare``, the pool, the budget check, a resumed round),
``before_train_iter`` / ``after_train_iter`` (a round when one is due),
``before_save_checkpoint`` (the rounds a checkpoint holds), ``buy_round`` (one round: score,
pick, commit, log), plus ``select_iters``, ``acquisition_schedule``, ``check_schedule`` and
``check_pool`` for the sweep layer. A scope's hook (ActiveSelectionHook,
RegionSelectionHook) supplies only what differs: ``prepare(runner)`` (what it reads from the
runner first), ``_check_budget()`` and ``round_deltas(runner, model, round_index)``.
"""
import time

import torch
from mmengine.hooks import Hook

from ..active.strategies import build_strategy, strategy_config
from adasweep_base.testing import kill_point
from .rounds import Schedule, SelectionRounds, unwrap
from .target_pool import TargetPool


class SelectionHook(Hook):
    priority = 'NORMAL'  # before CheckpointHook, so a checkpoint holds its iteration's labels
    scope = None  # the strategies' scope: 'image' or 'pool'

    def __init__(self, select_iters, strategy, strategy_cfg, select_before_update: bool,
                 **build_args):
        name = type(self).__name__
        self.rounds = SelectionRounds(select_iters, select_before_update, name)
        try:
            self.strategy = build_strategy(strategy_config(strategy, strategy_cfg, self.scope),
                                           scope=self.scope, **build_args)
        except ValueError as err:
            raise ValueError(f'{name}: {err}') from None
        self.pool = None

    @property
    def select_iters(self):
        return self.rounds.iters

    def acquisition_schedule(self, max_iters: int) -> Schedule:
        return self.rounds.schedule()

    def check_schedule(self, max_iters: int) -> None:
        """select_iters inside a run of max_iters (a sweep checks every trial first)."""
        self.rounds.check(max_iters)

    def check_pool(self, infos):
        """Check the budget against the target-train pool (data infos): what before_train
        checks, callable without a runner (a sweep checks every trial first)."""
        self.pool = TargetPool(infos)
        self._check_budget()

    def before_train(self, runner):
        self.check_schedule(runner.max_iters)
        self.prepare(runner)
        self.pool = TargetPool.of_runner(runner, type(self).__name__)
        self._check_budget()
        self._buy_if_due(runner, 'resume')

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._buy_if_due(runner, 'before_iter')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._buy_if_due(runner, 'after_iter')

    def before_save_checkpoint(self, runner, checkpoint):
        if self.pool is not None:
            self.pool.save_rounds(checkpoint)

    def _buy_if_due(self, runner, event: str) -> None:
        iteration = self.rounds.iteration_at(runner, event)
        if iteration is not None and self.rounds.due(iteration, self.pool):
            self.buy_round(runner, iteration)

    @torch.no_grad()
    def buy_round(self, runner, iteration: int) -> None:
        """Run the round of ``iteration``: ``round_deltas`` (model in eval mode) gives the store
        deltas, which are committed and logged."""
        start = time.perf_counter()
        round_index = self.rounds.iters.index(iteration)
        model = unwrap(runner.model)
        was_training = model.training
        model.eval()
        deltas = self.round_deltas(runner, model, round_index)
        kill_point('selection')
        rows = self.pool.store.commit_round(round_index, iteration, deltas,
                                            strategy=self.strategy.name,
                                            before_update=self.rounds.before_update,
                                            options=self.strategy.options)
        model.train(was_training)
        self.pool.log_round(runner, round_index, rows, time.perf_counter() - start,
                            self.strategy.unit)

    # ---------------------------------------------------------------- what a scope supplies

    def prepare(self, runner) -> None:
        """What the hook reads from the runner before the pool (nothing by default)."""

    def _check_budget(self) -> None:
        """Fail now if the budget cannot be spent on ``self.pool``."""
        raise NotImplementedError

    def round_deltas(self, runner, model, round_index: int) -> dict:
        """{rel: store delta} of what round ``round_index`` buys (model in eval mode)."""
        raise NotImplementedError
