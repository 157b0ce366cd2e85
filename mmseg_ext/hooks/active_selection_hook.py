import time
import zlib

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar
from mmseg.models.utils import resize
from mmseg.registry import HOOKS
from PIL import Image

from ..active.label_store import ActiveLabelStore
from ..active.strategies import Budget, build_strategy
from ..testing import kill_point


class _Pool(torch.utils.data.Dataset):
    """The target images to score: the train target's data list through a test-like pipeline."""

    def __init__(self, infos, pipeline):
        self.infos, self.pipeline = infos, Compose(pipeline)

    def __len__(self):
        return len(self.infos)

    def __getitem__(self, i):
        info = self.infos[i]
        return dict(self.pipeline(dict(img_path=info['img_path'], seg_fields=[])), index=i)


def label_size_logits(model, batch):
    """The model's logits for a pool batch, each (C, h, w) at its image's original (label) size.

    What mmseg's predict gives as `seg_logits` (padding cropped, bilinear resize to ori_shape),
    without its per-image argmax and with one resize per batch when the images share a size.
    """
    return label_size_outputs(model, batch)[0]


def label_size_outputs(model, batch, features=False):
    """(logits, feats) of a pool batch, each a list of (C or D, h, w) at the label size.

    feats (None unless `features`) are the decode head's pre-classifier features, the input of
    its `conv_seg`, bilinearly resized to the logits' input size and then cropped and resized
    like the logits.
    """
    data = model.data_preprocessor(batch, False)
    metas = [sample.metainfo for sample in data['data_samples']]
    captured, handle = [], None
    if features:
        classifier = getattr(model.decode_head, 'conv_seg', None)
        if classifier is None:
            raise ValueError(f'{type(model.decode_head).__name__} has no conv_seg, so no '
                             'pre-classifier features (DeepLabV2Head: set feature_channels=256)')
        handle = classifier.register_forward_pre_hook(lambda _, args: captured.append(args[0]))
    try:
        logits = model.inference(data['inputs'], metas)
    finally:
        if handle is not None:
            handle.remove()
    feats = None
    if features:
        if len(captured) != 1:
            raise ValueError("pre-classifier features need test_cfg mode='whole' (one head "
                             f'forward per batch, got {len(captured)})')
        feats = _label_size(model, resize(captured[0], size=logits.shape[-2:], mode='bilinear',
                                          align_corners=model.align_corners, warning=False), metas)
    return _label_size(model, logits, metas), feats


def _label_size(model, logits, metas):
    """(N, C, H, W) at the padded input size -> list of (C, h, w) at each ori_shape."""
    H, W = logits.shape[-2:]
    groups = []  # [meta, first row, last row] of consecutive images with the same geometry
    for row, meta in enumerate(metas):
        if meta.get('flip'):
            raise ValueError('ActiveSelectionHook: the pool pipeline must not flip images')
        if groups and _same_geometry(groups[-1][0], meta):
            groups[-1][2] = row
        else:
            groups.append([meta, row, row])
    result = []
    for meta, first, last in groups:
        left, right, top, bottom = meta.get('img_padding_size', meta.get('padding_size', [0] * 4))
        group = logits[first:last + 1, :, top:H - bottom, left:W - right]
        if tuple(group.shape[-2:]) != tuple(meta['ori_shape'][:2]):
            group = resize(group, size=meta['ori_shape'], mode='bilinear',
                           align_corners=model.align_corners, warning=False)
        result.extend(group.unbind(0))
    return result


def _same_geometry(a, b):
    keys = ('ori_shape', 'img_padding_size', 'padding_size')
    return all(tuple(a.get(k) or ()) == tuple(b.get(k) or ()) for k in keys)


def target_dataset(runner):
    dataset = runner.train_dataloader.dataset
    return getattr(dataset, 'target', dataset)


@HOOKS.register_module()
class ActiveSelectionHook(Hook):
    """Buys target labels at `select_iters` with a named acquisition strategy (RIPU and baselines).

    At each selection iteration the model (eval mode, no grad) scores every target-train image
    at label resolution (mmseg's predict upsamples the logits to the label size, as the reference
    does), the strategy picks units per image under the per-round budget, and the active-label
    store buys their ground truth; the data-loader workers read the new label files. Logged: round,
    labelled fraction, pixels and units bought, class histogram of bought pixels, seconds.

    Args:
        select_iters: iterations (completed updates) at which to select; one round each.
        strategy: a name from mmseg_ext.active.strategies.STRATEGIES; `strategy_cfg` its options.
        budget: Budget kwargs: dict(ratio=...) (fraction of target pixels, whole run) or
            dict(pixels=..., resolution=(h, w)); rounds = len(select_iters).
        pool_pipeline: how target images are loaded for scoring (test-like; no labels).
        select_before_update: select before the update of the iteration instead of after it
            (RIPU's source-free variant, which selects at iteration 0 with the source model).
    """
    priority = 'NORMAL'  # before CheckpointHook, so a checkpoint holds its iteration's labels

    def __init__(self, select_iters, strategy='ripu_ra', strategy_cfg=None,
                 budget=dict(ratio=0.022), pool_pipeline=None, batch_size=8, num_workers=0,
                 seed=0, select_before_update=False):
        self._init_rounds(select_iters, budget, pool_pipeline, batch_size, num_workers, seed,
                          select_before_update)
        self.strategy = build_strategy(strategy, **(strategy_cfg or {}))

    @property
    def unit(self):
        return self.strategy.unit

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def _init_rounds(self, select_iters, budget, pool_pipeline, batch_size, num_workers, seed,
                     select_before_update):
        """The settings every selection hook shares, validated."""
        iters = list(select_iters)
        if not iters or any(not isinstance(i, int) or i < 0 for i in iters) or \
                sorted(set(iters)) != iters:
            raise ValueError(f'{type(self).__name__}: select_iters={select_iters!r}, expected '
                             'increasing distinct non-negative integers')
        self.select_iters = iters
        self.budget = Budget(rounds=len(iters), **budget)
        self.pool_pipeline = pool_pipeline or [dict(type='LoadImageFromFile'),
                                               dict(type='PackSegInputs')]
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.select_before_update = select_before_update
        self.store = None

    # ---------------------------------------------------------------- set-up and checks

    def check_schedule(self, max_iters):
        first, last = (0, max_iters - 1) if self.select_before_update else (1, max_iters)
        bad = [i for i in self.select_iters if not first <= i <= last]
        if bad:
            raise ValueError(f'ActiveSelectionHook: select_iters {bad} outside the schedule '
                             f'(expected {first}..{last} for max_iters={max_iters})')

    def before_train(self, runner):
        target = target_dataset(runner)
        label_dir = getattr(target, 'active_label_dir', None)
        if label_dir is None:
            raise ValueError('ActiveSelectionHook: the target train dataset has no '
                             "active_label_dir (set it and runner_type='ActiveRunner')")
        self.check_schedule(runner.max_iters)
        self.store = ActiveLabelStore(label_dir)
        self.store.rollback(runner.iter)  # a no-op unless ActiveRunner could not do it first
        self.check_pool([target.get_data_info(i) for i in range(len(target))])
        if not self.select_before_update and runner.iter > 0:
            # resumed from a checkpoint taken at a selection iteration but before its round
            self._maybe_select(runner, runner.iter)

    def check_pool(self, infos):
        """Take the target-train pool (data infos) and check the budget against it: what
        before_train checks, callable without a runner (a sweep checks every trial first)."""
        self.infos = list(infos)
        self.sizes = [Image.open(info['gt_seg_map_path']).size[::-1] for info in self.infos]
        self.total_pixels = int(sum(h * w for h, w in self.sizes))
        self._check_budget()

    def _check_budget(self):
        """Dry-run every round on the first target image, so an impossible budget fails now."""
        h, w = self.sizes[0]
        count = self.strategy.units_per_round(h, w, self.budget)
        logits = torch.zeros(1, h, w)
        logits[0, ::2] = 1.0  # two classes, so impurity/entropy scores are not degenerate
        image = self._image(self.infos[0], h, w) if self.strategy.needs_image else None
        blocked = torch.zeros(h, w, dtype=torch.bool)
        try:
            for _ in self.select_iters:
                pick = self.strategy.select(torch.cat([logits, 1 - logits]), count, blocked=blocked,
                                            image=image, generator=torch.Generator())
                blocked = pick.blocked
        except ValueError as err:
            raise ValueError(f'ActiveSelectionHook: the budget ({self.budget}) is larger than the '
                             f'pool of a {h}x{w} image with {self.strategy.name}: {err}') from None

    @staticmethod
    def _image(info, h, w):
        return np.array(Image.open(info['img_path']).convert('RGB').resize((w, h)))

    # ---------------------------------------------------------------- selection

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.select_before_update:
            self._maybe_select(runner, runner.iter)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.select_before_update:
            self._maybe_select(runner, runner.iter + 1)

    def _maybe_select(self, runner, iteration):
        if iteration in self.select_iters and \
                all(r['iteration'] != iteration for r in self.store.rounds()):
            self.select(runner, iteration)

    @torch.no_grad()
    def select(self, runner, iteration):
        start = time.perf_counter()
        round_index = self.select_iters.index(iteration)
        model = self._model(runner)
        was_training = model.training
        model.eval()
        deltas = self.round_deltas(runner, model, round_index)
        kill_point('selection')
        rows = self.store.commit_round(round_index, iteration, deltas, strategy=self.strategy.name,
                                       before_update=self.select_before_update)
        model.train(was_training)
        self._log(runner, round_index, rows, time.perf_counter() - start)

    def round_deltas(self, runner, model, round_index):
        """{rel: store delta} of what round `round_index` buys (model in eval mode)."""
        loader = torch.utils.data.DataLoader(
            _Pool(self.infos, self.pool_pipeline), batch_size=self.batch_size,
            num_workers=self.num_workers, collate_fn=pseudo_collate)
        runner.logger.info(f'active round {round_index}: scoring {len(self.infos)} target images '
                           f'with {self.strategy.name}')
        progress = ProgressBar(len(self.infos))
        deltas = {}
        for batch in loader:
            if self.strategy.needs_logits:
                logits = label_size_logits(model, batch)
            else:  # e.g. random: only the label size matters
                logits = [torch.empty((0, *self.sizes[i])) for i in batch['index']]
            for index, image_logits in zip(batch['index'], logits):
                deltas.update(self._pick(index, image_logits, round_index))
                progress.update()
        return deltas

    def _pick(self, index, logits, round_index):
        info = self.infos[index]
        rel = self.store_rel(info)
        blocked, _ = self.store.state(rel)
        h, w = blocked.shape
        if logits.shape[-2:] != (h, w):
            raise ValueError(f'ActiveSelectionHook: logits {tuple(logits.shape[-2:])} do not match '
                             f'the label size {(h, w)} of {info["gt_seg_map_path"]}')
        image = self._image(info, h, w) if self.strategy.needs_image else None
        generator = torch.Generator().manual_seed(
            zlib.crc32(f'{self.seed}/{round_index}/{rel}'.encode()))
        count = self.strategy.units_per_round(h, w, self.budget)
        pick = self.strategy.select(logits.float().cpu(), count, blocked=torch.from_numpy(blocked),
                                    image=image, generator=generator)
        return {rel: self.store.delta(rel, pick.labelled.numpy(), pick.blocked.numpy(),
                                      pick.units)}

    def store_rel(self, info):
        return str(info['seg_map_path'])[len(str(self.store.root / 'labels')) + 1:]

    def _log(self, runner, round_index, rows, seconds):
        ledger = self.store.ledger()
        pixels = sum(r['pixels'] for r in ledger)
        units = sum(r['units'] for r in ledger)
        classes = {}
        for row in rows:
            for c, n in row['classes'].items():
                classes[int(c)] = classes.get(int(c), 0) + n
        names = runner.train_dataloader.dataset.metainfo['classes']
        fraction = pixels / self.total_pixels
        hub = runner.message_hub
        for key, value in dict(round=round_index, labelled_fraction=fraction, pixels=pixels,
                               units=units, seconds=seconds).items():
            hub.update_scalar(f'active/{key}', value)
        hub.update_info('active/classes', {names[c]: n for c, n in sorted(classes.items())})
        histogram = ', '.join(f'{names[c]} {n}' for c, n in sorted(classes.items()))
        runner.logger.info(
            f'active round {round_index} at iter {rows[0]["iteration"] if rows else "?"}: bought '
            f'{sum(r["pixels"] for r in rows)} px in {sum(r["units"] for r in rows)} '
            f'{self.unit}s; labelled {fraction:.4%} of target pixels ({pixels} px, '
            f'{units} units) in {seconds:.1f}s; classes: {histogram}')

    def before_save_checkpoint(self, runner, checkpoint):
        if self.store is not None:
            checkpoint['active_rounds'] = [r['iteration'] for r in self.store.rounds()]
