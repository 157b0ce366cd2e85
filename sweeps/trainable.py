"""The Ray Tune trial: one mmengine Runner, reporting after every evaluation with a checkpoint.

Evaluations: at every selection iteration (before that round buys labels, so the model trained
with r rounds of labels is scored as round r) and at the end (round R, is_final). Each report
carries a Tune checkpoint holding the mmengine checkpoint (model, optimiser, scheduler) and a tar
of the active-label store, so a retried, restored or PBT-exploited trial resumes from its last
round with exactly its labels.
"""
import json
import math
import os
import shutil
import socket
import tarfile
import tempfile
import time
import warnings

import numpy as np
import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS
from PIL import Image

from mmseg_ext.hooks.target_pool import target_dataset
from adasweep_base.fileio import atomic_write
from adasweep_base.testing import kill_point

from .common import mask_secrets
from .storage import Storage, is_uri, node_local_root, rebase
from .tracking import (TENSORBOARD_DIR, configure_tensorboard, drop_events_after,
                       log_evaluation, tensorboard_dir)
from .trial_config import build_trial_config, eval_iters, trial_spec

CHECKPOINT_FILE = 'latest.pth'
STORE_DIR = 'active_labels'
STORE_TAR = 'active_labels.tar'


def _scalar(hub, key, default=0.0):
    try:
        return float(hub.get_scalar(key).current())
    except KeyError:
        return default


def where():
    """Where this trial runs: Ray node id and host name (the device comes from the model)."""
    import ray
    return dict(node_id=ray.get_runtime_context().get_node_id(), hostname=socket.gethostname())


def _device(runner):
    param = next(iter(runner.model.parameters()), None)
    return str(param.device) if param is not None else 'cpu'


@HOOKS.register_module()
class TuneEvalHook(Hook):
    """Runs the evaluations at `eval_iters` (before a selection hook of the same iteration
    buys, so round r is the model trained with r rounds of labels); stops a non-finite loss."""
    priority = 'ABOVE_NORMAL'  # before ActiveSelectionHook at the same iteration

    def __init__(self, eval_iters=()):
        self.eval_iters = set(int(i) for i in eval_iters)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        loss = (outputs or {}).get('loss')
        if loss is not None and not math.isfinite(float(loss)):
            raise FloatingPointError(f'non-finite training loss {float(loss)} at iteration '
                                     f'{runner.iter + 1}')
        if runner.iter + 1 in self.eval_iters and runner.iter + 1 < runner.max_iters:
            runner.val_loop.run()


@HOOKS.register_module()
class TuneReportHook(Hook):
    """Reports every evaluation to Ray Tune with a checkpoint of the whole state.

    The result is built when the evaluation ends; the report (and its checkpoint) waits for the
    end of the iteration (lowest priority: after selection, the LR scheduler step and mmengine's
    own checkpoint), so a trial resumed from it continues exactly where the uninterrupted one
    was. Time columns add up over attempts: each checkpoint carries the wall and training
    seconds of the work it holds (work lost to a kill after the last checkpoint is not counted).
    """
    priority = 'LOWEST'

    def __init__(self, eval_iters=(), report=True, where=None, trial_id=None, tmp_dir=None):
        self.eval_iters = set(int(i) for i in eval_iters)
        self.tmp_dir = tmp_dir  # where a report's checkpoint is staged (None: the system's)
        self.trial_id = trial_id
        self.report = report
        self.started = time.time()
        self.loop_started, self.report_seconds = None, 0.0
        self.wall_before, self.train_before = 0.0, 0.0  # earlier attempts (from the checkpoint)
        self._target_pixels = None
        self._pending = None
        self.where = dict(where or {})  # node_id, hostname

    def before_train(self, runner):
        self.loop_started = time.time()
        self.where = dict(self.where, device=_device(runner))

    def _times(self):
        now = time.time()
        wall = self.wall_before + now - self.started
        train = self.train_before + now - (self.loop_started or self.started) - \
            self.report_seconds
        return wall, train

    def before_save_checkpoint(self, runner, checkpoint):
        wall, train = self._times()
        meta = checkpoint.setdefault('meta', {})
        meta['adasweep_seconds'] = dict(wall=wall, train=train)
        # what this trial logged to TensorBoard up to now belongs to this checkpoint (run_trial
        # drops the rest when it resumes from it)
        meta['adasweep_saved'] = dict(trial=self.trial_id, time=time.time())

    def after_load_checkpoint(self, runner, checkpoint):
        seconds = checkpoint.get('meta', {}).get('adasweep_seconds') or {}
        self.wall_before = float(seconds.get('wall', 0.0))
        self.train_before = float(seconds.get('train', 0.0))

    def after_val_epoch(self, runner, metrics=None):
        hub = runner.message_hub
        store = os.path.join(runner.work_dir, STORE_DIR)
        from mmseg_ext.active.label_store import ActiveLabelStore
        rounds = len(ActiveLabelStore(store).rounds()) if os.path.isdir(store) else 0
        final = runner.iter >= runner.max_iters
        iteration = runner.iter + (0 if final else 1)
        schedule = runner_schedule(runner.hooks, runner.max_iters)
        if schedule is not None and not schedule.select_iters:
            # buys during training (online scope, ADA-MCU), so its store rounds are commits,
            # not selection rounds: report the evaluation's index, which lines up with
            # round-based methods evaluated at the same iterations
            rounds = 1 + sum(i < iteration for i in self.eval_iters)
        result = {k: float(v) for k, v in (metrics or {}).items()
                  if isinstance(v, (int, float))}
        wall, train = self._times()
        result.update(round=rounds, iteration=iteration, is_final=final,
                      labelled_fraction=_scalar(hub, 'active/labelled_fraction'),
                      pixels_bought=int(_scalar(hub, 'active/pixels')),
                      units_bought=int(_scalar(hub, 'active/units')),
                      wall_seconds=wall, train_seconds=train, **self.where)
        if 'active/pseudo_pixels' in hub.log_scalars:  # a strategy that gives pseudo labels
            result['pseudo_pixels'] = int(_scalar(hub, 'active/pseudo_pixels'))
        if not os.path.isdir(store) and _fully_labelled_target(runner):  # e.g. the oracle
            pixels = self.target_pixels(runner)
            result.update(labelled_fraction=1.0, pixels_bought=pixels, units_bought=pixels)
        result['miou'] = result.get('mIoU', float('nan'))
        log_evaluation(runner, result)  # TensorBoard: against round and labelled fraction
        self._pending = result
        if final:  # after the loop: nothing of the iteration is left to run
            self._report(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self._pending is not None:
            self._report(runner)

    def _report(self, runner):
        result, self._pending = self._pending, None
        if not self.report:
            return
        from ray import tune
        reporting = time.time()
        store = os.path.join(runner.work_dir, STORE_DIR)
        with tempfile.TemporaryDirectory(prefix='.report_', dir=self.tmp_dir) as tmp:
            runner.save_checkpoint(tmp, CHECKPOINT_FILE, save_optimizer=True,
                                   save_param_scheduler=True)
            kill_point('report')
            if os.path.isdir(store):  # one tar, not thousands of small files for Tune to copy
                with tarfile.open(os.path.join(tmp, STORE_TAR), 'w') as tar:
                    tar.add(store, arcname=STORE_DIR)
            tune.report(result, checkpoint=tune.Checkpoint.from_directory(tmp))
        self.report_seconds += time.time() - reporting

    def target_pixels(self, runner):
        if self._target_pixels is None:
            target = target_dataset(runner)
            self._target_pixels = sum(
                int(np.prod(Image.open(target.get_data_info(i)['seg_map_path']).size))
                for i in range(len(target)))
        return self._target_pixels


def _fully_labelled_target(runner):
    """Whether the run trains on every target label: a two-domain dataset (or a SynthShift
    target split) without an active-label store, and a model that uses target labels (not an
    unsupervised adaptation such as ADVENT or MinEnt)."""
    dataset = runner.train_dataloader.dataset
    target = target_dataset(runner)
    is_target = target is not dataset or getattr(target, 'domain', None) == 'target'
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    return is_target and getattr(target, 'active_label_dir', None) is None and \
        getattr(model, 'uses_target_labels', True)


def runner_schedule(hooks, max_iters):
    """The Schedule of the acquisition hook among `hooks` (the one with an
    `acquisition_schedule` method), or None."""
    for hook in hooks:
        if hasattr(hook, 'acquisition_schedule'):
            return hook.acquisition_schedule(max_iters)
    return None


TRIAL_CONFIG = 'trial_config.json'


def write_trial_config(cfg, work_dir):
    """The trial's own config, for its rows' config_json (the driver's callback reads it)."""
    text = json.dumps(mask_secrets(cfg.to_dict()), sort_keys=True, default=str)

    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)
    atomic_write(os.path.join(work_dir, TRIAL_CONFIG), write)


def run_trial(config, context):
    """The Tune function trainable. `config`: variant, seed and knob values (flat keys, or a
    'trial' dict from a grid); `context` (from the driver, all paths absolute): the space's
    name, file and source text, benchmark, --set overrides, sweep folder, data root, warm-up
    checkpoints, CPUs per trial."""
    from ray import tune
    import mmseg_ext  # noqa: F401  (compat, registries)
    from mmseg.utils import register_all_modules

    from .spaces import load_space
    register_all_modules(init_default_scope=False)
    torch.set_num_threads(max(1, int(context.get('cpus_per_trial', 1))))
    import ray
    if ray.get_gpu_ids() and not torch.cuda.is_available():
        warnings.warn(f'Ray gave this trial GPU {ray.get_gpu_ids()} but torch sees no CUDA '
                      'device: it runs on the CPU')

    context = on_this_node(context)
    variant, seed, knobs = trial_spec(config)
    space = load_space(context['space_file'], source=context['space_source'])
    trial_id = tune.get_context().get_trial_id()
    # the running work dir: in the sweep folder, or node-local with an object store (then
    # removed when the trial ends: what resume needs is in its checkpoints on the bucket)
    work_root = context.get('work_root') or os.path.join(context['sweep_dir'], 'work')
    work_dir = os.path.join(work_root, trial_id)
    os.makedirs(work_dir, exist_ok=True)
    bucket = Storage(context['sweep_dir']) if is_uri(context['sweep_dir']) else None
    if bucket is not None:
        fetch_warmups(context)
    try:
        _run(config, context, variant, seed, knobs, space, trial_id, work_dir, bucket)
    finally:
        if bucket is not None:
            shutil.rmtree(work_dir, ignore_errors=True)


def on_this_node(context):
    """`context` with its node-local paths (work root, warm-up cache) under this node's local
    root: the driver named them under its own, and without --local-dir nodes share no folder
    (sweeps.storage.node_local_root). A folder storage's context is returned as it is."""
    if not is_uri(context['sweep_dir']):
        return context
    root = node_local_root(context.get('local_dir'))
    old = context['local_root']
    if root == old:
        return context
    return dict(context, local_root=root, work_root=rebase(context['work_root'], old, root),
                warmups={k: v and rebase(v, old, root)
                         for k, v in (context.get('warmups') or {}).items()})


def fetch_warmups(context):
    """The warm-up checkpoints of the trial into this node's cache (from the object store)."""
    root = Storage(context['storage'])
    for path in (context.get('warmups') or {}).values():
        if path and not os.path.isfile(path):
            root.download(os.path.relpath(path, context['local_root']), path)


def _run(config, context, variant, seed, knobs, space, trial_id, work_dir, bucket):
    from ray import tune
    from mmseg.registry import RUNNERS
    from mmengine.runner import Runner
    cfg, _ = build_trial_config(space, context['benchmark'], variant, knobs, seed,
                                context.get('sets'), work_dir,
                                storage=context.get('local_root') or
                                os.path.dirname(context['sweep_dir']),
                                data_root=context['data_root'], warmups=context.get('warmups'))
    cfg.log_level = 'WARNING'
    cfg.default_hooks.logger.interval = 10 ** 9
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(name) is not None:
            cfg[name].num_workers = context.get('data_workers', 0)
            cfg[name].persistent_workers = False
    from .naming import trial_name
    log_dir = tensorboard_dir(os.path.dirname(os.path.dirname(work_dir)), trial_name(config),
                              trial_id)
    configure_tensorboard(cfg, log_dir, trial_id)
    iters = eval_iters(cfg)
    cfg.custom_hooks = [*(cfg.get('custom_hooks') or []),
                        dict(type='TuneEvalHook', eval_iters=iters),
                        dict(type='TuneReportHook', eval_iters=iters, where=where(),
                             trial_id=trial_id,
                             # an object store's trial writes in its node-local work dir only
                             tmp_dir=work_dir if bucket is not None else None)]
    write_trial_config(cfg, work_dir)
    if bucket is not None:  # the driver's callback reads it from the bucket
        bucket.upload(os.path.join(work_dir, TRIAL_CONFIG), f'work/{trial_id}/{TRIAL_CONFIG}')
    checkpoint = tune.get_checkpoint()
    logged_until = 0.0  # a start from scratch logs every step again: what is there goes
    if checkpoint is not None:
        with checkpoint.as_directory() as src:
            shutil.copy(os.path.join(src, CHECKPOINT_FILE), os.path.join(work_dir, 'resume.pth'))
            store = os.path.join(work_dir, STORE_DIR)
            shutil.rmtree(store, ignore_errors=True)
            if os.path.isfile(os.path.join(src, STORE_TAR)):
                with tarfile.open(os.path.join(src, STORE_TAR)) as tar:
                    tar.extractall(work_dir, filter='data')
            elif os.path.isdir(os.path.join(src, STORE_DIR)):  # checkpoints of older versions
                shutil.copytree(os.path.join(src, STORE_DIR), store)
        cfg.load_from = os.path.join(work_dir, 'resume.pth')
        cfg.resume = True
        saved = torch.load(cfg.load_from, map_location='cpu', mmap=True,
                           weights_only=True).get('meta', {}).get('adasweep_saved') or {}
        # of this trial (not another trial's, PBT): what it logged after it goes
        logged_until = float(saved['time']) if saved.get('trial') == trial_id else None
    if logged_until is not None:
        drop_events_after(log_dir, logged_until)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    try:
        runner.train()
    finally:
        if bucket is not None:  # TensorBoard files of this attempt, beside the folder's layout
            bucket.upload_tree(log_dir, f'{TENSORBOARD_DIR}/{os.path.basename(log_dir)}')
            shutil.rmtree(log_dir, ignore_errors=True)
