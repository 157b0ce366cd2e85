"""Image-scope acquisition (RIPU and its baselines) as an mmengine hook."""
from typing import Union

import torch
from mmengine.hooks import Hook
from mmengine.utils import ProgressBar
from mmseg.registry import HOOKS

from ..active.strategies import Budget, build_strategy, strategy_config
from .inference import check_classes, label_size_logits, model_device, to_numpy, weights_of
from .rounds import Schedule, SelectionRounds, unwrap
from .target_pool import DEFAULT_PIPELINE, TargetPool, seeded_generator


@HOOKS.register_module()
class ActiveSelectionHook(Hook):
    """Buys target labels at `select_iters` with an image-scope strategy (RIPU and baselines).

    At each selection iteration the model (eval mode, no grad) scores every target-train image
    at label resolution (mmseg's predict upsamples the logits to the label size, as the reference
    does), the strategy picks units per image under the per-round budget, and the active-label
    store buys their ground truth; the data-loader workers read the new label files. Logged: round,
    labelled fraction, pixels and units bought, class histogram of bought pixels, seconds.

    Scores, picks and pseudo labels are computed on the model's device (the logits stay where
    the model made them; the image's blocked map goes there); only the pick masks (bool) and
    pseudo classes (uint8) come back to the CPU for the store. Randomised strategies draw from
    a seeded CPU generator (crc32 of seed, round, image) and move the draw to the device, so a
    pick on CUDA uses the numbers a CPU pick uses (the scores may differ by float rounding).

    Args:
        select_iters: iterations (completed updates) at which to select; one round each.
        strategy: dict(type=NAME, **options) of an image-scope strategy
            (mmseg_ext.active.strategies), e.g. dict(type='RIPU-RA', k=1). An old name
            ('ripu_ra') with `strategy_cfg` options still works.
        budget: Budget kwargs: dict(ratio=...) (fraction of target pixels, whole run) or
            dict(pixels=..., resolution=(h, w)); rounds = len(select_iters). None for a
            strategy whose options say what each image gets (POINT-ENT: K patches x N points).
        pool_pipeline: how target images are loaded for scoring (test-like; no labels).
        select_before_update: select before the update of the iteration instead of after it
            (RIPU's source-free variant, which selects at iteration 0 with the source model).
        score_checkpoint: a checkpoint whose weights score the pool instead of the model being
            trained (POINT-ENT: G1 selects, a new G2 from the same initialisation trains); its
            class count must be the model's.
    """
    priority = 'NORMAL'  # before CheckpointHook, so a checkpoint holds its iteration's labels

    def __init__(self, select_iters, strategy: Union[dict, str] = dict(type='RIPU-RA', k=1),
                 strategy_cfg: dict = None, budget: dict = dict(ratio=0.022),
                 pool_pipeline=None, batch_size: int = 8, num_workers: int = 0, seed: int = 0,
                 select_before_update: bool = False, score_checkpoint: str = None):
        name = type(self).__name__
        self.rounds = SelectionRounds(select_iters, select_before_update, name)
        try:
            self.strategy = build_strategy(strategy_config(strategy, strategy_cfg, 'image'),
                                           scope='image')
        except ValueError as err:
            raise ValueError(f'{name}: {err}') from None
        if budget is None and self.strategy.needs_budget:
            raise ValueError(f'{name}: {self.strategy.name} needs a budget (dict(ratio=...) or '
                             'dict(pixels=...))')
        self.budget = None if budget is None else Budget(rounds=len(self.rounds), **budget)
        self.pool_pipeline = list(pool_pipeline or DEFAULT_PIPELINE)
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.score_checkpoint = score_checkpoint
        self.pool = None

    @property
    def select_iters(self):
        return self.rounds.iters

    def acquisition_schedule(self, max_iters: int) -> Schedule:
        return self.rounds.schedule()

    # ---------------------------------------------------------------- set-up and checks

    def check_schedule(self, max_iters: int) -> None:
        """select_iters inside a run of max_iters (a sweep checks every trial first)."""
        self.rounds.check(max_iters)

    def before_train(self, runner):
        self.check_schedule(runner.max_iters)
        if self.score_checkpoint is not None:
            check_classes(unwrap(runner.model), self.score_checkpoint, type(self).__name__)
        self.pool = TargetPool.of_runner(runner, type(self).__name__)
        self._check_budget()
        self.rounds.resume(runner, self.pool, self.strategy, self.round_deltas)

    def check_pool(self, infos):
        """Check the budget against the target-train pool (data infos): what before_train
        checks, callable without a runner (a sweep checks every trial first)."""
        self.pool = TargetPool(infos)
        self._check_budget()

    def _check_budget(self):
        """Dry-run every round on the first target image, so an impossible budget fails now."""
        h, w = self.pool.sizes[0]
        try:
            count = self.strategy.units_per_round(h, w, self.budget)
        except ValueError as err:
            raise ValueError(f'{type(self).__name__}: {err}') from None
        logits = torch.zeros(1, h, w)
        logits[0, ::2] = 1.0  # two classes, so impurity/entropy scores are not degenerate
        image = self.pool.image(self.pool.infos[0], h, w) if self.strategy.needs_image else None
        blocked = torch.zeros(h, w, dtype=torch.bool)
        try:
            for _ in self.rounds.iters:
                pick = self.strategy.select(torch.cat([logits, 1 - logits]), count, blocked=blocked,
                                            image=image, generator=torch.Generator())
                blocked = pick.blocked
        except ValueError as err:
            if self.budget is None:
                raise ValueError(f'{type(self).__name__}: {err}') from None
            raise ValueError(f'{type(self).__name__}: the budget ({self.budget}) is larger than '
                             f'the pool of a {h}x{w} image with {self.strategy.name}: {err}') \
                from None

    # ---------------------------------------------------------------- selection

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.rounds.before_iter(runner, self.pool, self.strategy, self.round_deltas)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.rounds.after_iter(runner, self.pool, self.strategy, self.round_deltas)

    def round_deltas(self, runner, model, round_index):
        """{rel: store delta} of what round `round_index` buys (model in eval mode)."""
        pool = self.pool
        runner.logger.info(f'active round {round_index}: scoring {len(pool)} target images '
                           f'with {self.strategy.name}')
        progress = ProgressBar(len(pool))
        deltas = {}
        device = model_device(model)
        with weights_of(model, self.score_checkpoint if self.strategy.needs_logits else None):
            for batch in pool.loader(self.pool_pipeline, self.batch_size, self.num_workers):
                if self.strategy.needs_logits:
                    logits = label_size_logits(model, batch)
                else:  # e.g. random: only the label size matters
                    logits = [torch.empty((0, *pool.sizes[i]), device=device)
                              for i in batch['index']]
                for index, image_logits in zip(batch['index'], logits):
                    deltas.update(self._pick(index, image_logits, round_index))
                    progress.update()
        return deltas

    def _pick(self, index, logits, round_index):
        """{rel: store delta} of one image: the strategy picks on the logits' device; the
        pick masks (and POINT-ENT's uint8 pseudo classes) are all that come to the CPU."""
        pool = self.pool
        info = pool.infos[index]
        rel = pool.rel(info)
        blocked = pool.blocked(info)
        h, w = blocked.shape
        if logits.shape[-2:] != (h, w):
            raise ValueError(f'{type(self).__name__}: logits {tuple(logits.shape[-2:])} do not '
                             f'match the label size {(h, w)} of {info["gt_seg_map_path"]}')
        image = pool.image(info, h, w) if self.strategy.needs_image else None
        count = self.strategy.units_per_round(h, w, self.budget)
        pick = self.strategy.select(logits.float(), count,
                                    blocked=torch.from_numpy(blocked).to(logits.device),
                                    image=image,
                                    generator=seeded_generator(self.seed, round_index, rel))
        pseudo = None if pick.pseudo is None else to_numpy(pick.pseudo.to(torch.uint8))
        return {rel: pool.store.delta(rel, to_numpy(pick.labelled), to_numpy(pick.blocked),
                                      pick.units, pseudo=pseudo)}

    def before_save_checkpoint(self, runner, checkpoint):
        if self.pool is not None:
            self.pool.save_rounds(checkpoint)
