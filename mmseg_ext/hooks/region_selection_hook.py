import os
import zlib

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.utils import ProgressBar
from mmseg.registry import HOOKS
from PIL import Image

from ..active.baselines import canny_edges
from ..active.region_pool import RegionPool, image_regions
from ..active.region_strategies import build_region_strategy
from ..active.segments import grid_segments
from ..active.superpixels import SuperpixelCache
from .active_selection_hook import ActiveSelectionHook, _Pool, label_size_outputs, target_dataset

REGION_TYPES = ('superpixel', 'grid', 'square')


def _check_region(region):
    kind = region.get('type')
    keys = {'superpixel': {'n_segments', 'compactness'}, 'grid': {'cell'}, 'square': {'k'}}
    if kind not in REGION_TYPES:
        raise ValueError(f'RegionSelectionHook: region type {kind!r}, expected one of '
                         f'{REGION_TYPES}')
    unknown = set(region) - keys[kind] - {'type'}
    if unknown:
        raise ValueError(f'RegionSelectionHook: unknown {kind} region option(s) '
                         f'{sorted(unknown)}; known: {sorted(keys[kind])}')
    if kind == 'grid':
        cell = region.get('cell')
        if not (isinstance(cell, (list, tuple)) and len(cell) == 2
                and all(isinstance(v, int) and v >= 1 for v in cell)):
            raise ValueError(f'RegionSelectionHook: grid cell must be (h, w) ints >= 1, got '
                             f'{cell!r}')
    if kind == 'square' and not (isinstance(region.get('k'), int) and region['k'] >= 0):
        raise ValueError(f'RegionSelectionHook: square k must be an int >= 0, got '
                         f'{region.get("k")!r}')


@HOOKS.register_module()
class RegionSelectionHook(ActiveSelectionHook):
    """Buys target regions ranked over the whole target pool (ADeADA and its region baselines).

    At each selection iteration the model (eval mode, no grad) runs over every target-train
    image (and, for strategies that need it, the source-train images), each image's regions
    get their statistics at label size (mmseg_ext.active.region_pool: mean softmax, entropy,
    pre-classifier features, ...), and the strategy (mmseg_ext.active.region_strategies)
    picks regions of the whole pool under the round's pixel budget; the active-label store buys
    their ground truth. Pre-classifier features are the input of the decode head's `conv_seg`
    (DeepLab-v3+: the 256-d decoder output; DeepLab-v2: DeepLabV2Head(feature_channels=256)),
    bilinearly resized like the logits.

    Args:
        select_iters: iterations at which to select, one round each (ADeADA: before the
            update, at the start of each fine-tuning stage).
        strategy, strategy_cfg: a name of REGION_STRATEGIES and its options.
        budget: Budget kwargs, whole run; a round buys sum over images of
            Budget.pixels_per_round (ratio 0.05 over 5 rounds = 1% of the target pixels each).
        budget_overshoot: keep the region that crosses the budget (D2ADA) instead of stopping
            before it (default: never above the budget).
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

    def __init__(self, select_iters, strategy='adeada', strategy_cfg=None,
                 budget=dict(ratio=0.05), budget_overshoot=False,
                 region=dict(type='superpixel', n_segments=40, compactness=10.0),
                 superpixel_root=None, source_images=None, pool_pipeline=None,
                 source_pipeline=None, batch_size=8, num_workers=0, seed=0,
                 select_before_update=True):
        self._init_rounds(select_iters, budget, pool_pipeline, batch_size, num_workers, seed,
                          select_before_update)
        self.strategy = build_region_strategy(strategy, overshoot=budget_overshoot,
                                              **(strategy_cfg or {}))
        self.region = dict(region)
        _check_region(self.region)
        self.superpixel_root = superpixel_root
        if source_images is not None and not (isinstance(source_images, int)
                                              and source_images >= 1):
            raise ValueError(f'RegionSelectionHook: source_images must be None or an int >= 1, '
                             f'got {source_images!r}')
        self.source_images = source_images
        self.source_pipeline = source_pipeline or self.pool_pipeline
        self._caches = {}

    # ---------------------------------------------------------------- set-up and checks

    def before_train(self, runner):
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
        super().before_train(runner)

    def _check_budget(self):
        per_image = [self.budget.pixels_per_round(h, w) * len(self.select_iters) > h * w
                     for h, w in self.sizes]
        if self.budget.pixels is not None and any(per_image):
            raise ValueError(f'RegionSelectionHook: the budget ({self.budget}) is above the '
                             f'pixels of a target image')
        if not hasattr(self, 'source_infos'):  # check_pool without a runner: the budget only
            return
        rounds = range(1, len(self.select_iters) + 1)
        if not self.source_infos and any(self.strategy.needs_source(r) for r in rounds):
            raise ValueError(f'RegionSelectionHook: {self.strategy.name} needs source images '
                             '(a TwoDomainDataset train set)')
        h, w = self.sizes[0]
        self._segments('target', self.infos[0], h, w)  # a cache of another size fails now

    def round_budget(self):
        return float(sum(self.budget.pixels_per_round(h, w) for h, w in self.sizes))

    # ---------------------------------------------------------------- regions

    def _cache(self, domain):
        if domain not in self._caches:
            n, c = self.region['n_segments'], float(self.region['compactness'])
            base = self.superpixel_root or os.path.join(self.data_roots[domain], 'superpixel')
            root = os.path.join(base, f'slic_n{n}_c{c:g}')
            self._caches[domain] = (SuperpixelCache(root, n, c), self.data_roots[domain])
        return self._caches[domain]

    def _segments(self, domain, info, h, w):
        kind = self.region['type']
        if kind == 'grid':
            return grid_segments(h, w, *self.region['cell'])
        if kind == 'square':
            side = 2 * self.region['k'] + 1
            return grid_segments(h, w, side, side)
        cache, root = self._cache(domain)
        rel = os.path.relpath(info['img_path'], root) if root else os.path.basename(
            info['img_path'])
        seg = cache.get(info['img_path'], rel)
        if tuple(seg.shape) != (h, w):
            raise ValueError(f'RegionSelectionHook: superpixels of {info["img_path"]} are '
                             f'{tuple(seg.shape)}, its label map is {(h, w)}')
        return seg

    def _regions(self, runner, model, infos, domain):
        """RegionPool of `infos` (target: with the store's blocked maps)."""
        needs = self.strategy.needs
        loader = torch.utils.data.DataLoader(
            _Pool(infos, self.pool_pipeline if domain == 'target' else self.source_pipeline),
            batch_size=self.batch_size, num_workers=self.num_workers, collate_fn=pseudo_collate)
        runner.logger.info(f'{self.strategy.name}: region statistics of {len(infos)} {domain} '
                           'images')
        progress = ProgressBar(len(infos))
        rows, images = [], []
        for batch in loader:
            logits, feats = label_size_outputs(model, batch, features=bool(needs))
            for j, index in enumerate(batch['index']):
                info = infos[index]
                h, w = logits[j].shape[-2:]
                blocked = None
                if domain == 'target':
                    if (h, w) != tuple(self.sizes[index]):
                        raise ValueError(f'RegionSelectionHook: logits {(h, w)} do not match the '
                                         f'label size {self.sizes[index]} of '
                                         f'{info["gt_seg_map_path"]}')
                    blocked = torch.from_numpy(self.store.state(self.store_rel(info))[0])
                edges = canny_edges(self._image(info, h, w)) if 'edges' in needs else None
                seg = self._segments(domain, info, h, w)
                rows.append(image_regions(
                    logits[j].float().cpu(), seg, blocked,
                    feats[j].float().cpu() if feats is not None else None, edges,
                    grad='grad' in needs))
                images.append(index)
                progress.update()
        return RegionPool.concat(rows, images)

    # ---------------------------------------------------------------- selection

    def round_deltas(self, runner, model, round_index):
        pool = self._regions(runner, model, self.infos, 'target')
        source = None
        if self.strategy.needs_source(round_index + 1):
            source = self._regions(runner, model, self.source_infos, 'source')
        generator = torch.Generator().manual_seed(
            zlib.crc32(f'{self.seed}/{round_index}'.encode()))
        rows = self.strategy.select(pool, self.round_budget(), round_index + 1, source,
                                    generator)
        return self._deltas(pool, rows)

    def _deltas(self, pool, rows):
        deltas = {}
        images = pool.image[rows]
        for index in torch.unique(images).tolist():
            info = self.infos[index]
            rel = self.store_rel(info)
            blocked, _ = self.store.state(rel)
            h, w = blocked.shape
            ids = pool.segment[rows[images == index]]
            bought = torch.isin(self._segments('target', info, h, w), ids).numpy()
            deltas[rel] = self.store.delta(rel, bought, blocked | bought, int(ids.numel()))
        return deltas
