"""Image-scope acquisition (RIPU and its baselines) as an mmengine hook."""
from typing import Union

import torch
from mmengine.utils import ProgressBar
from mmseg.registry import HOOKS

from ..active.strategies import Budget
from .inference import LabelSizeOutputs, check_classes, model_device, to_numpy, weights_of
from .rounds import unwrap
from .selection_hook import SelectionHook
from .strategy_inputs import given, model_outputs, needs_budget, uses_model
from .target_pool import DEFAULT_PIPELINE, seeded_generator


@HOOKS.register_module()
class ActiveSelectionHook(SelectionHook):
    """Buys target labels at `select_iters` with an image-scope strategy (RIPU and baselines).

    At each selection iteration the model (eval mode, no grad) scores every target-train image
    at label resolution (mmseg's predict upsamples the logits to the label size, as the reference
    does), the strategy picks units per image under the per-round budget, and the active-label
    store buys their ground truth; the data-loader workers read the new label files. Logged: round,
    labelled fraction, pixels and units bought, class histogram of bought pixels, seconds. The
    strategy gets what it declares (its ``needs``: logits, image, features, auxiliary logits;
    mmseg_ext.active.strategies.contract); a pick's pseudo labels are stored apart.

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
    scope = 'image'

    def __init__(self, select_iters, strategy: Union[dict, str] = dict(type='RIPU-RA', k=1),
                 strategy_cfg: dict = None, budget: dict = dict(ratio=0.022),
                 pool_pipeline=None, batch_size: int = 8, num_workers: int = 0, seed: int = 0,
                 select_before_update: bool = False, score_checkpoint: str = None):
        super().__init__(select_iters, strategy, strategy_cfg, select_before_update)
        if budget is None and needs_budget(self.strategy):
            raise ValueError(f'{type(self).__name__}: {self.strategy.name} needs a budget '
                             '(dict(ratio=...) or dict(pixels=...))')
        self.budget = None if budget is None else Budget(rounds=len(self.rounds), **budget)
        self.pool_pipeline = list(pool_pipeline or DEFAULT_PIPELINE)
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.score_checkpoint = score_checkpoint

    def prepare(self, runner):
        if self.score_checkpoint is not None:
            check_classes(unwrap(runner.model), self.score_checkpoint, type(self).__name__)

    def _check_budget(self):
        """Dry-run every round on the first target image, so an impossible budget fails now."""
        h, w = self.pool.sizes[0]
        try:
            count = self.strategy.units_per_round(h, w, self.budget)
        except ValueError as err:
            raise ValueError(f'{type(self).__name__}: {err}') from None
        logits = torch.zeros(1, h, w)
        logits[0, ::2] = 1.0  # two classes, so impurity/entropy scores are not degenerate
        logits = torch.cat([logits, 1 - logits])
        dry = LabelSizeOutputs([logits], [logits], [logits])  # features: any (D, h, w) map
        blocked = torch.zeros(h, w, dtype=torch.bool)
        try:
            for r in range(len(self.rounds)):
                inputs = given(self.strategy, dry, 0,
                               lambda: self.pool.image(self.pool.infos[0], h, w), r + 1)
                pick = self.strategy.select(logits, count,
                                            blocked=blocked, generator=torch.Generator(),
                                            **inputs)
                blocked = pick.blocked
        except ValueError as err:
            if self.budget is None:
                raise ValueError(f'{type(self).__name__}: {err}') from None
            raise ValueError(f'{type(self).__name__}: the budget ({self.budget}) is larger than '
                             f'the pool of a {h}x{w} image with {self.strategy.name}: {err}') \
                from None

    def round_deltas(self, runner, model, round_index):
        """{rel: store delta} of what round `round_index` buys (model in eval mode)."""
        pool, strategy = self.pool, self.strategy
        runner.logger.info(f'active round {round_index}: scoring {len(pool)} target images '
                           f'with {strategy.name}')
        progress = ProgressBar(len(pool))
        deltas = {}
        device = model_device(model)
        checkpoint = self.score_checkpoint if uses_model(strategy, round_index + 1) else None
        with weights_of(model, checkpoint):
            for batch in pool.loader(self.pool_pipeline, self.batch_size, self.num_workers):
                out = model_outputs(strategy, model, batch,
                                    [pool.sizes[i] for i in batch['index']], device,
                                    round_index + 1)
                for j, index in enumerate(batch['index']):
                    deltas.update(self._pick(index, out.logits[j], round_index, out, j))
                    progress.update()
        return deltas

    def _pick(self, index, logits, round_index, outputs=None, j=0):
        """{rel: store delta} of one image (``outputs``: the batch's model outputs, image
        ``j``): the strategy picks on the logits' device; the pick masks (and pseudo classes,
        uint8) are all that come to the CPU."""
        pool = self.pool
        info = pool.infos[index]
        rel = pool.rel(info)
        blocked = pool.blocked(info)
        h, w = blocked.shape
        if logits.shape[-2:] != (h, w):
            raise ValueError(f'{type(self).__name__}: logits {tuple(logits.shape[-2:])} do not '
                             f'match the label size {(h, w)} of {info["gt_seg_map_path"]}')
        inputs = given(self.strategy, outputs, j, lambda: pool.image(info, h, w), round_index + 1)
        count = self.strategy.units_per_round(h, w, self.budget)
        pick = self.strategy.select(logits.float(), count,
                                    blocked=torch.from_numpy(blocked).to(logits.device),
                                    generator=seeded_generator(self.seed, round_index, rel),
                                    **inputs)
        pseudo = None if pick.pseudo is None else to_numpy(pick.pseudo.to(torch.uint8))
        return {rel: pool.store.delta(rel, to_numpy(pick.labelled), to_numpy(pick.blocked),
                                      pick.units, pseudo=pseudo)}
