"""Pool-scope acquisition (ADeADA and the region baselines) as an mmengine hook."""
import os
from typing import Union

import numpy as np
import torch
from mmengine.utils import ProgressBar
from mmseg.registry import HOOKS

from ..active.region_pool import RegionPool, pool_rows
from ..active.strategies import Budget
from ..active.units import SuperpixelCache, check_region, region_segments
from .inference import model_device
from .selection_hook import SelectionHook
from .strategy_inputs import given, model_outputs, needs_source, region_statistics
from .target_pool import DEFAULT_PIPELINE, seeded_generator, target_dataset


@HOOKS.register_module()
class RegionSelectionHook(SelectionHook):
    """Buys target regions ranked over the whole target pool (ADeADA and its region baselines).

    At each selection iteration the model (eval mode, no grad) runs over every target-train
    image (and, for strategies that need it, the source-train images), each image's regions
    get their statistics at label size (mmseg_ext.active.region_pool: mean softmax, entropy,
    and what the strategy's ``needs`` declare: pre-classifier features, ...), and a pool-scope
    strategy picks regions of the whole pool
    under the round's pixel budget; the active-label store buys their ground truth.
    Pre-classifier features are the input of the decode head's `conv_seg` (DeepLab-v3+: the
    256-d decoder output; DeepLab-v2: DeepLabV2Head(feature_channels=256)), bilinearly resized
    like the logits. The statistics are reduced on the model's device and only the per-region
    rows are kept there (no per-pixel map leaves it); the strategy ranks them there and only
    the picked (image, segment) pairs come back to the host for the label store. Superpixels
    are computed once per dataset (SuperpixelCache, on disk) and read back every round.

    Args:
        select_iters: iterations at which to select, one round each (ADeADA: before the
            update, at the start of each fine-tuning stage).
        strategy: dict(type=NAME, **options) of a pool-scope strategy, e.g.
            dict(type='ADeADA', alpha=1.0, beta=1.0) (an old name with `strategy_cfg` works).
        budget: Budget kwargs, whole run; a round buys sum over images of
            Budget.pixels_per_round (ratio 0.05 over 5 rounds = 1% of the target pixels each).
        budget_overshoot: keep the region that crosses the budget (D2ADA) instead of stopping
            before it (default: never above the budget); the strategy's `overshoot` argument
            (not one of its options: the strategy dict does not give it).
        region: dict(type='superpixel', n_segments=40, compactness=10.0) (D2ADA: SLIC with 40
            segments at native resolution, cached on disk), dict(type='grid', cell=(h, w)) or
            dict(type='square', k=k) (non-overlapping (2k+1)^2 squares, RIPU's region size).
        superpixel_root: where superpixel maps are cached; None = `<data_root>/superpixel` of
            each dataset, in a subfolder named by the SLIC parameters.
        source_images: None = every source-train image (D2ADA), or how many of them (a seeded,
            fixed subset) the density model sees.
        pool_pipeline, source_pipeline: test-like pipelines (no labels, no augmentation: D2ADA
            extracts its features with training augmentation on, its quirk 3).
        select_before_update: True (default): select before the update of the iteration.
    """
    scope = 'pool'

    def __init__(self, select_iters, strategy: Union[dict, str] = dict(type='ADeADA'),
                 strategy_cfg: dict = None, budget: dict = dict(ratio=0.05),
                 budget_overshoot: bool = False,
                 region: dict = dict(type='superpixel', n_segments=40, compactness=10.0),
                 superpixel_root: str = None, source_images: int = None, pool_pipeline=None,
                 source_pipeline=None, batch_size: int = 8, num_workers: int = 0, seed: int = 0,
                 select_before_update: bool = True):
        name = type(self).__name__
        if isinstance(strategy, dict) and 'overshoot' in strategy:
            raise ValueError(f'{name}: give the overshoot as budget_overshoot, not in strategy')
        super().__init__(select_iters, strategy, strategy_cfg, select_before_update,
                         overshoot=budget_overshoot)
        self.budget = Budget(rounds=len(self.rounds), **budget)
        self.region = dict(region)
        check_region(self.region, name)
        if source_images is not None and not (isinstance(source_images, int)
                                              and source_images >= 1):
            raise ValueError(f'{name}: source_images must be None or an int >= 1, got '
                             f'{source_images!r}')
        self.superpixel_root, self.source_images = superpixel_root, source_images
        self.pool_pipeline = list(pool_pipeline or DEFAULT_PIPELINE)
        self.source_pipeline = list(source_pipeline or self.pool_pipeline)
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.source_infos, self._caches = None, {}

    # ---------------------------------------------------------------- set-up and checks

    def prepare(self, runner):
        """The source-train infos (a seeded subset of `source_images`) and the data roots."""
        dataset = runner.train_dataloader.dataset
        source = getattr(dataset, 'source', None)
        self.source_infos = []
        if source is not None:
            index = np.arange(len(source))
            if self.source_images is not None and self.source_images < len(source):
                rng = np.random.default_rng([self.seed, 7])
                index = np.sort(rng.choice(len(source), self.source_images, replace=False))
            self.source_infos = [source.get_data_info(int(i)) for i in index]
        self.data_roots = dict(target=target_dataset(runner).data_root,
                               source=getattr(source, 'data_root', None))

    def _check_budget(self):
        name, sizes = type(self).__name__, self.pool.sizes
        if self.budget.pixels is not None and any(
                self.budget.pixels_per_round(h, w) * len(self.rounds) > h * w for h, w in sizes):
            raise ValueError(f'{name}: the budget ({self.budget}) is above the pixels of a '
                             'target image')
        if self.source_infos is None:  # check_pool without a runner: the budget only
            return
        if not self.source_infos and any(needs_source(self.strategy, r)
                                         for r in range(1, len(self.rounds) + 1)):
            raise ValueError(f'{name}: {self.strategy.name} needs source images (a '
                             'TwoDomainDataset train set)')
        h, w = sizes[0]
        self._segments('target', self.pool.infos[0], h, w)  # a cache of another size fails now

    def round_budget(self) -> float:
        return float(sum(self.budget.pixels_per_round(h, w) for h, w in self.pool.sizes))

    # ---------------------------------------------------------------- regions

    def _cached(self, domain, info):
        if domain not in self._caches:
            n, c = self.region['n_segments'], float(self.region['compactness'])
            base = self.superpixel_root or os.path.join(self.data_roots[domain], 'superpixel')
            root = os.path.join(base, f'slic_n{n}_c{c:g}')
            self._caches[domain] = (SuperpixelCache(root, n, c), self.data_roots[domain])
        cache, root = self._caches[domain]
        rel = os.path.relpath(info['img_path'], root) if root else os.path.basename(
            info['img_path'])
        return cache.get(info['img_path'], rel)

    def _segments(self, domain, info, h, w):
        seg = region_segments(self.region, h, w, cached=lambda: self._cached(domain, info))
        if tuple(seg.shape) != (h, w):
            raise ValueError(f'{type(self).__name__}: superpixels of {info["img_path"]} are '
                             f'{tuple(seg.shape)}, its label map is {(h, w)}')
        return seg

    def _regions(self, runner, model, infos, domain, round_index=1):
        """RegionPool of `infos` (target: with the store's blocked maps)."""
        strategy, pool, device = self.strategy, self.pool, model_device(model)
        pipeline = self.pool_pipeline if domain == 'target' else self.source_pipeline
        runner.logger.info(f'{strategy.name}: region statistics of {len(infos)} {domain} images')
        progress = ProgressBar(len(infos))
        rows, images = [], []
        for batch in pool.loader(pipeline, self.batch_size, self.num_workers, infos):
            out = model_outputs(strategy, model, batch, None, device, round_index)
            for j, index in enumerate(batch['index']):
                info = infos[index]
                h, w = out.logits[j].shape[-2:]
                blocked = None
                if domain == 'target':
                    if (h, w) != tuple(pool.sizes[index]):
                        raise ValueError(f'{type(self).__name__}: logits {(h, w)} do not match '
                                         f'the label size {pool.sizes[index]} of '
                                         f'{info["gt_seg_map_path"]}')
                    blocked = torch.from_numpy(pool.blocked(info))
                # on the model's device: only the per-region rows are kept (region_pool)
                logits = out.logits[j].float()
                inputs = given(strategy, out, j, lambda: pool.image(info, h, w), round_index)
                rows.append(pool_rows(
                    logits, self._segments(domain, info, h, w).to(logits.device),
                    region_statistics(strategy, round_index), blocked, inputs.get('feats'),
                    inputs.get('image')))
                images.append(index)
                progress.update()
        return RegionPool.concat(rows, images)

    # ---------------------------------------------------------------- selection

    def round_deltas(self, runner, model, round_index):
        pool = self._regions(runner, model, self.pool.infos, 'target', round_index + 1)
        source = None
        if needs_source(self.strategy, round_index + 1):
            source = self._regions(runner, model, self.source_infos, 'source', round_index + 1)
        rows = self.strategy.select(pool, self.round_budget(), round_index + 1, source,
                                    seeded_generator(self.seed, round_index))
        return self._deltas(pool, rows)

    def _deltas(self, regions, rows):
        deltas, pool = {}, self.pool
        images, segments = regions.image[rows].cpu(), regions.segment[rows].cpu()  # the picks
        for index in torch.unique(images).tolist():
            info = pool.infos[index]
            rel = pool.rel(info)
            blocked = pool.blocked(info)
            h, w = blocked.shape
            ids = segments[images == index]
            bought = torch.isin(self._segments('target', info, h, w), ids).numpy()
            deltas[rel] = pool.store.delta(rel, bought, blocked | bought, int(ids.numel()))
        return deltas
