"""Online-scope acquisition (ADA-MCU's adaptive sampling, Algorithm 1) as an mmengine hook:
target pixels are bought during training, from the target images of each training batch,
through the active-label store and its ledger like every other method (so the pixel cost is
comparable)."""
import math
import time
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

from ..ops.uncertainty import check_thresholds
from ..ops.checks import check_int, check_real
from ..active.label_store import IGNORE
from ..active.strategies import Budget, build_strategy
from .inference import PoolImages, label_size_outputs, to_numpy
from .rounds import Schedule, unwrap
from .target_pool import DEFAULT_PIPELINE, TargetPool, seeded_generator


@HOOKS.register_module()
class AdaptiveSamplingHook(Hook):
    """Buys target pixels during training with an online-scope strategy (ADA-MCU, Algorithm 1).

    Before the update of every `interval`-th iteration from `start_iter` (Algorithm 1 buys, then
    computes the losses of the same iteration), while the sampler's phase is not 'done': the
    target images of the batch are scored at label size with the model in eval mode, no grad
    (the strategy's score: ADA-MCU's uncertainty of the main and the first auxiliary head), and
    ONE AdaptiveSampler.select over the whole batch buys pixels: M_e = budget over the whole
    target set, half from the high group with pi_high decayed per call, then half uniformly
    from the medium group, then nothing (the segmentor pseudo-labels the low group).

    Purchases are kept in memory and committed to the active-label store (one store round, one
    ledger row per image bought in it; a round with no purchase is committed too, so the round
    count follows the iterations) every `commit_interval` iterations, before every validation
    and checkpoint and at the end of training: the data-loader workers read the committed label
    files. The labels bought since the last commit and in the commit before it (batches the
    workers prefetched before it) are written into the batch's target labels before the update,
    so the iteration that buys a pixel trains on it, as in Algorithm 1; this needs a target
    pipeline without random crops (resize and flip are mapped; with a crop the bought labels
    are used from the next load of the image, a warning says so). The segmentor's `pi_high`
    follows the sampler's (its anchors are the high group of the current threshold).

    Cost: the purchase is one eval-mode pass over the batch's target images plus the rest
    (uncertainty, draw, labels), which stays on the model's device; only the bought pixels'
    indices come to the CPU (the draw uses a seeded CPU generator and moves, so CUDA buys the
    pixels the CPU buys up to float rounding of u). The pass is not the training forward's:
    Algorithm 1 buys (steps 6-10) before the losses of the same iteration (step 15) and the
    bought pixels are label-resolution pixels (the store's unit, comparable with every other
    method), while the training forward runs after this hook on the batch's resized input.
    benchmarks/bench_selection_round.py measures purchase / pass.

    Args:
        strategy: dict(type='ADA-MCU', decay=0.9, high_fraction=0.5, medium_fraction=0.5,
            adaptive_sampling=True, decay_every=1) (mmseg_ext.active.strategies.adamcu).
        budget: dict(ratio=...) (fraction of all target-train pixels, the paper's M_e) or
            dict(pixels=..., resolution=...) per image, summed over the target set.
        pi_high, pi_low, gamma: the uncertainty thresholds and KL weight; None = the model's
            (ADAMCUSegmentor's pi_high / pi_low / gamma).
        interval: buy at every interval-th iteration (paper: 1).
        commit_interval: iterations between store commits (ledger rounds).
        start_iter: first iteration that buys (0: from the start, the paper).
        eval_iters: iterations (completed updates) at which a sweep evaluates and reports
            before the final evaluation (ADA-MCU has no selection rounds to report at).
        pool_pipeline: how target images are loaded for scoring (test-like, no labels).
        seed: seeds the uniform draws (crc32 of seed and iteration).
        require_spent: a run must spend its budget (issue 21: a table row that bought less
            than its budget is not the row it claims). Before training: a schedule whose
            buying iterations cannot hold the budget (each buys at most ceil(fraction x the
            batch's target pixels)) fails with one line. After training (the last purchases
            committed to the store and ledger first): a run that bought less than its budget
            fails with one line (bought, budget, phase, pi_high). False: only a warning.
    """
    priority = 'NORMAL'

    def __init__(self, strategy: Union[dict, str] = dict(type='ADA-MCU'),
                 budget: dict = dict(ratio=0.05), pi_high: float = None, pi_low: float = None,
                 gamma: float = None, interval: int = 1, commit_interval: int = 50,
                 start_iter: int = 0, eval_iters=(), pool_pipeline=None, seed: int = 0,
                 require_spent: bool = True):
        name = type(self).__name__
        try:
            if (pi_high is None) != (pi_low is None):
                raise ValueError(f'pi_high and pi_low must both be given or both None, got '
                                 f'pi_high={pi_high!r}, pi_low={pi_low!r}')
            if pi_high is not None:
                check_thresholds(pi_high, pi_low)
            if gamma is not None:
                check_real('gamma', gamma)
            check_int('interval', interval, 1)
            check_int('commit_interval', commit_interval, 1)
            check_int('start_iter', start_iter, 0)
            if not isinstance(require_spent, bool):
                raise ValueError(f'require_spent must be a bool, got {require_spent!r}')
            self.eval_iters = sorted(set(int(i) for i in eval_iters))
            self.strategy = build_strategy(strategy, scope='online')
            self.budget = Budget(rounds=1, **budget)
        except ValueError as err:
            raise ValueError(f'{name}: {err}') from None
        self.pi_high, self.pi_low, self.gamma = pi_high, pi_low, gamma
        self.interval, self.commit_interval = interval, commit_interval
        self.start_iter, self.seed = start_iter, seed
        self.require_spent = require_spent
        self.pool_pipeline = list(pool_pipeline or DEFAULT_PIPELINE)
        self.pool = self.sampler = None
        self._pending, self._last = {}, {}  # rel -> (flat indices, labels) bought, uncommitted
        self._resume_state = None
        self._resume_iter = 0
        self._warned_geometry = self._warned_medium = False
        self._completed = None  # updates completed once the current iteration ends

    def acquisition_schedule(self, max_iters: int) -> Schedule:
        return Schedule([], [i for i in self.eval_iters if 0 < i < max_iters])

    # ---------------------------------------------------------------- set-up and checks

    def check_schedule(self, max_iters):
        if self.start_iter >= max_iters:
            raise ValueError(f'{type(self).__name__}: start_iter={self.start_iter} is not '
                             f'before the end of training (max_iters={max_iters})')

    def check_pool(self, infos):
        """Check the budget against the target-train pool (data infos), without a runner."""
        self.pool = TargetPool(infos)
        self._check_budget()

    def _check_budget(self):
        sizes, name = self.pool.sizes, type(self).__name__
        if self.budget.pixels is not None and any(
                self.budget.pixels_per_round(h, w) > h * w for h, w in sizes):
            raise ValueError(f'{name}: the budget ({self.budget}) is above the pixels of a '
                             'target image')
        self.budget_pixels = int(round(sum(self.budget.pixels_per_round(h, w)
                                           for h, w in sizes)))
        if not 1 <= self.budget_pixels <= self.pool.total_pixels:
            raise ValueError(f'{name}: the budget ({self.budget}) is {self.budget_pixels} '
                             f'pixels; expected 1..{self.pool.total_pixels} (the target-train '
                             'pixels)')

    def before_train(self, runner):
        model = unwrap(runner.model)
        if not getattr(model, 'with_auxiliary_head', False):
            raise ValueError(f'{type(self).__name__}: the model needs an auxiliary head (the '
                             "uncertainty's KL term)")
        for key in ('pi_high', 'pi_low', 'gamma'):
            if getattr(self, key) is None:
                if not hasattr(model, key):
                    raise ValueError(f'{type(self).__name__}: {key} is not set and '
                                     f'{type(model).__name__} has none')
                setattr(self, key, float(getattr(model, key)))
        self.check_schedule(runner.max_iters)
        self.pool = TargetPool.of_runner(runner, type(self).__name__)
        self._check_budget()
        per_batch = runner.train_dataloader.batch_size * self.interval
        buys_per_epoch = max(1, -(-len(self.pool) // per_batch))
        self.sampler = self.strategy.sampler(self.budget_pixels, self.pi_high, self.pi_low,
                                             buys_per_epoch)
        if self._resume_state is not None:
            self.sampler.load_state_dict(self._resume_state)
        self.check_spendable(runner.max_iters, runner.train_dataloader.batch_size)
        self.index_of = {str(info['seg_map_path']): i for i, info in enumerate(self.pool.infos)}
        self.rel_index = {self.pool.rel(info): i for i, info in enumerate(self.pool.infos)}
        self.images = PoolImages(self.pool.infos, self.pool_pipeline)
        self._sync(model)

    def check_spendable(self, max_iters, batch_size):
        """One line if the buying iterations left cannot hold what is left of the budget (after
        check_pool or in before_train; sweeps check every trial with it before starting)."""
        if not self.require_spent:
            return
        # the fractions and budgets do not depend on the thresholds
        s = self.sampler or self.strategy.sampler(self.budget_pixels, 1.0, 0.0, 1)
        first = max(self.start_iter, self._resume_iter)
        calls = len([i for i in range(first, max_iters)
                     if i >= self.start_iter and (i - self.start_iter) % self.interval == 0])
        batch_pixels = batch_size * max(h * w for h, w in self.pool.sizes)
        fraction = max(s.high_fraction, s.medium_fraction if s.medium_budget else 0)
        per_call = math.ceil(fraction * batch_pixels)
        left = s.budget - s.bought
        if calls * per_call < left:
            raise ValueError(
                f'{type(self).__name__}: the budget ({left} pixels left of {s.budget}) cannot be '
                f'bought in the {calls} buying iterations of this schedule (at most {per_call} '
                f'pixels each: {fraction:g} of a batch of {batch_size} target images); expected '
                'a longer schedule, a smaller budget or larger fractions')

    def _check_spent(self):
        s = self.sampler
        if s is None or s.bought >= s.budget:
            return
        msg = (f'{type(self).__name__}: the run bought {s.bought} of its {s.budget}-pixel '
               f'budget ({100 * s.bought / self.pool.total_pixels:.2f}% of the target pixels '
               f'instead of {100 * s.budget / self.pool.total_pixels:.2f}%; phase {s.phase!r}, '
               f'pi_high {s.pi_high:g}, pi_low {s.pi_low:g})')
        if self.require_spent:
            raise RuntimeError(msg)
        print_log(msg, logger='current', level=30)

    def _sync(self, model):
        if hasattr(model, 'pi_high'):
            model.pi_high = self.sampler.pi_high

    # ---------------------------------------------------------------- training iterations

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        # what this iteration buys belongs to the update it completes (a validation in any
        # after_train_iter of this iteration commits it under that count)
        self._completed = runner.iter + 1
        samples = self._target_samples(data_batch)
        it = runner.iter
        if samples and self.sampler.phase != 'done' and it >= self.start_iter and \
                (it - self.start_iter) % self.interval == 0:
            self._buy(runner, samples, it)
        if samples and (self._pending or self._last):
            self._overlay(samples)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if (runner.iter + 1) % self.commit_interval == 0:
            self._commit(runner, runner.iter + 1)
        if runner.iter + 1 >= runner.max_iters:
            # before the last iteration's checkpoint and final evaluation: a run that did not
            # spend its budget must not leave a final result (a sweep would table it)
            self._commit(runner, runner.iter + 1)
            self._check_spent()

    def before_val_epoch(self, runner):
        if self.pool is not None and self.pool.store is not None and \
                self._completed is not None:  # reports see the labels
            self._commit(runner, self._completed)

    def after_train(self, runner):
        self._commit(runner, runner.iter)
        self._check_spent()

    @staticmethod
    def _target_samples(data_batch):
        if not data_batch:
            return []
        return data_batch.get('target_data_samples', data_batch.get('data_samples')) or []

    @torch.no_grad()
    def _buy(self, runner, samples, iteration):
        start = time.perf_counter()
        indices = []
        for sample in samples:
            path = str(sample.metainfo.get('seg_map_path'))
            if path not in self.index_of:
                raise ValueError(f'{type(self).__name__}: batch label {path} is not in the '
                                 'active-label store (is the target active_label_dir set?)')
            if self.index_of[path] not in indices:
                indices.append(self.index_of[path])
        model = unwrap(runner.model)
        was_training = model.training
        model.eval()
        try:
            out = label_size_outputs(model, pseudo_collate([self.images[i] for i in indices]),
                                     auxiliary=True)
        finally:
            model.train(was_training)
        main, aux = out.logits, out.aux_logits
        sizes = self.pool.sizes
        rels = [self.pool.rel(self.pool.infos[i]) for i in indices]
        H = max(sizes[i][0] for i in indices)
        W = max(sizes[i][1] for i in indices)
        # the uncertainty and the draw stay on the model's device; only the bought pixels'
        # indices come back (the draw: a seeded CPU generator, moved; see AdaptiveSampler)
        device = main[0].device
        u = torch.zeros(len(indices), H, W, device=device)
        # padding is never bought
        blocked = torch.ones(len(indices), H, W, dtype=torch.bool, device=device)
        for row, (i, rel, m, a) in enumerate(zip(indices, rels, main, aux)):
            h, w = sizes[i]
            u[row, :h, :w] = self.strategy.score(m[None].float(), a[None].float(),
                                                 self.gamma)[0]
            blocked[row, :h, :w] = torch.from_numpy(self._blocked(rel)).to(device)
        generator = seeded_generator(self.seed, iteration)
        phase = self.sampler.phase
        picked = self.sampler.select(u, blocked, generator)
        if phase == 'medium' and not bool(picked.any()) and \
                self.sampler.pi_high <= self.sampler.pi_low and not self._warned_medium:
            print_log(f'{type(self).__name__}: pi_high has decayed to pi_low '
                      f'({self.sampler.pi_low:g}), so the medium group is empty and '
                      f'{self.sampler.medium_budget - self.sampler.bought_medium} pixels of the '
                      "budget cannot be bought (decay_every='epoch', a decay closer to 1 or a "
                      'lower pi_low avoids it)', logger='current', level=30)
            self._warned_medium = True
        # (row, y, x) of every bought pixel, row-major as np.flatnonzero per image gave them
        where = to_numpy(picked.nonzero())
        for row, (i, rel) in enumerate(zip(indices, rels)):
            h, w = sizes[i]
            mine = where[where[:, 0] == row]
            flat = mine[:, 1] * w + mine[:, 2]
            if flat.size:
                gt = self.pool.ground_truth(rel)
                old = self._pending.get(rel, (np.zeros(0, np.int64), np.zeros(0, np.uint8)))
                self._pending[rel] = (np.concatenate([old[0], flat]),
                                      np.concatenate([old[1], gt.flat[flat]]))
        self._sync(model)
        hub = runner.message_hub
        hub.update_scalar('adamcu/pi_high', self.sampler.pi_high)
        hub.update_scalar('adamcu/bought', self.sampler.bought)
        hub.update_scalar('adamcu/select_seconds', time.perf_counter() - start)

    def _blocked(self, rel):
        blocked, _ = self.pool.store.state(rel)
        for bought in (self._pending, self._last):
            if rel in bought:
                blocked.flat[bought[rel][0]] = True
        return blocked

    def _overlay(self, samples):
        """Write the uncommitted (and last committed) purchases into the batch's labels."""
        for sample in samples:
            path = str(sample.metainfo.get('seg_map_path'))
            if path not in self.index_of:
                continue
            rel = self.pool.rel(self.pool.infos[self.index_of[path]])
            parts = [bought[rel] for bought in (self._last, self._pending) if rel in bought]
            if not parts:
                continue
            h, w = self.pool.sizes[self.index_of[path]]
            full = np.full(h * w, IGNORE, np.uint8)
            for flat, labels in parts:
                full[flat] = labels
            overlay = self._to_batch(torch.from_numpy(full.reshape(h, w)), sample.metainfo,
                                     sample.gt_sem_seg.data.shape[-2:])
            if overlay is None:
                continue
            data = sample.gt_sem_seg.data
            overlay = overlay.to(data.device, data.dtype).view_as(data)
            sample.gt_sem_seg.data = torch.where(overlay != IGNORE, overlay, data)

    def _to_batch(self, label, meta, size):
        """A label-size map in the batch's geometry (resize, flip), or None after a crop."""
        size = tuple(int(s) for s in size)
        if tuple(label.shape) != size:
            scale = meta.get('scale_factor')
            expected = None if scale is None else (int(label.shape[0] * scale[1] + 0.5),
                                                    int(label.shape[1] * scale[0] + 0.5))
            if expected != size:
                if not self._warned_geometry:
                    print_log(f'{type(self).__name__}: the target pipeline crops (label '
                              f'{tuple(label.shape)} -> batch {size}); bought labels are used '
                              'from the next load of each image', logger='current',
                              level=30)
                    self._warned_geometry = True
                return None
            label = F.interpolate(label[None, None].float(), size=size,
                                  mode='nearest')[0, 0].to(torch.uint8)
        if meta.get('flip'):
            direction = meta.get('flip_direction', 'horizontal')
            dims = {'horizontal': [1], 'vertical': [0], 'diagonal': [0, 1]}[direction]
            label = label.flip(dims)
        return label

    # ---------------------------------------------------------------- store and checkpoints

    def _commit(self, runner, iteration):
        store = self.pool.store
        if any(r['iteration'] == iteration for r in store.rounds()[-1:]):
            return  # committed at this iteration already (checkpoint and end of training)
        start = time.perf_counter()
        deltas = {}
        for rel, (flat, _) in self._pending.items():
            mask = np.zeros(self.pool.sizes[self.rel_index[rel]], bool)
            mask.flat[flat] = True
            deltas[rel] = store.delta(rel, mask, mask, units=int(flat.size))
        round_index = len(store.rounds())
        rows = store.commit_round(round_index, iteration, deltas, strategy=self.strategy.name)
        self._last, self._pending = self._pending, {}
        self.pool.log_round(runner, round_index, rows, time.perf_counter() - start,
                            self.strategy.unit)

    def before_save_checkpoint(self, runner, checkpoint):
        if self.pool is None or self.pool.store is None:
            return
        iteration = checkpoint.get('meta', {}).get('iter', runner.iter + 1)
        if self._completed is not None:  # after the loop mmengine's meta says max_iters + 1
            iteration = min(iteration, self._completed)
        self._commit(runner, iteration)
        self.pool.save_rounds(checkpoint)
        checkpoint['adamcu_sampler'] = self.sampler.state_dict()

    def after_load_checkpoint(self, runner, checkpoint):
        if getattr(runner, '_resume', False) and 'adamcu_sampler' in checkpoint:
            self._resume_state = checkpoint['adamcu_sampler']
            self._resume_iter = int(checkpoint.get('meta', {}).get('iter', 0))
