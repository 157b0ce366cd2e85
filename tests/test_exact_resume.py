"""ExactResumeIterBasedTrainLoop with a real Runner on a tiny SynthShift: a run resumed from a
checkpoint trains bit-identically to the uninterrupted run (weights, learning rates, active
labels), and an uninterrupted run is IterBasedTrainLoop's."""
import copy
import os
import shutil

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmseg.registry import HOOKS, RUNNERS
from runner_utils import tiny_config

from mmseg_ext.active.label_store import ActiveLabelStore
from mmseg_ext.engine import resumable_dataloader, rng_state, set_rng_state

SOURCE_ONLY = 'configs/source_only/synthshift.py'
RIPU = 'configs/ripu/synthshift.py'
ADAMCU = 'configs/adamcu/synthshift.py'
FLIP = dict(type='RandomFlip', prob=0.5)


@HOOKS.register_module()
class RecordLearningRates(Hook):
    """Test probe: the learning rates each update uses."""

    def __init__(self):
        self.lrs = {}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.lrs[runner.iter] = runner.optim_wrapper.get_lr()['lr']


@HOOKS.register_module()
class ReportLikeTune(Hook):
    """sweeps' TuneReportHook in small: validates inside after_train_iter at `at` (before
    ParamSchedulerHook and the selection hook), saves a checkpoint from after_val_epoch with
    save_checkpoint's default by_epoch=True, and snapshots the label store with it."""
    priority = 'ABOVE_NORMAL'

    def __init__(self, at):
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.at:
            runner.val_loop.run()

    def after_val_epoch(self, runner, metrics=None):
        if runner.iter + 1 == self.at:
            runner.save_checkpoint(runner.work_dir, 'report.pth')
            shutil.copytree(os.path.join(runner.work_dir, 'active_labels'),
                            os.path.join(runner.work_dir, 'report_labels'))


def _randomised(cfg):
    """Dropout in the heads and random flips, so the global generators shape the training."""
    cfg.model.decode_head.dropout_ratio = 0.3
    if cfg.model.get('auxiliary_head'):
        cfg.model.auxiliary_head.dropout_ratio = 0.3
    dataset = cfg.train_dataloader.dataset
    for d in (dataset.source, dataset.target) if 'source' in dataset else (dataset,):
        d.pipeline = [*d.pipeline[:-1], FLIP, d.pipeline[-1]]
    cfg.custom_hooks = [*(cfg.get('custom_hooks') or []), dict(type='RecordLearningRates')]
    return cfg


def _train(cfg):
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    runner.train()
    probe = next(h for h in runner.hooks if isinstance(h, RecordLearningRates))
    return runner.model.state_dict(), probe.lrs


def _resumed(cfg, work_dir, checkpoint, store=None):
    """`cfg` resumed in a new work_dir from a copy of `checkpoint` (and of the label store)."""
    cfg = cfg.copy()
    os.makedirs(work_dir)
    shutil.copy(checkpoint, work_dir / 'resume.pth')
    if store is not None:
        shutil.copytree(store, work_dir / 'active_labels')
    cfg.work_dir, cfg.load_from, cfg.resume = str(work_dir), str(work_dir / 'resume.pth'), True
    return cfg


def _differing(a, b):
    assert a.keys() == b.keys()
    return [k for k in a if not torch.equal(a[k], b[k])]


def _store(work_dir):
    """What the active-label store holds: labels and state per image, rounds, ledger."""
    store = ActiveLabelStore(work_dir / 'active_labels')
    images = {e['rel']: (store.labels(e['rel']), *store.state(e['rel'])) for e in store.index()}
    ledger = [{k: v for k, v in row.items() if 'second' not in k and 'time' not in k}
              for row in store.ledger()]
    return images, [r['iteration'] for r in store.rounds()], ledger


def _assert_same_store(a, b):
    images_a, rounds_a, ledger_a = _store(a)
    images_b, rounds_b, ledger_b = _store(b)
    assert rounds_a == rounds_b and ledger_a == ledger_b and images_a.keys() == images_b.keys()
    for rel, arrays in images_a.items():
        assert all(np.array_equal(x, y) for x, y in zip(arrays, images_b[rel])), rel


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1), np.random.seed(2)
    import random
    random.seed(3)
    np.random.normal()  # a cached gaussian in numpy's state
    torch.save(dict(rng=rng_state()), tmp_path / 'rng.pth')
    expected = (torch.rand(3), np.random.rand(3), np.random.normal(), random.random())
    set_rng_state(torch.load(tmp_path / 'rng.pth', weights_only=True)['rng'])
    got = (torch.rand(3), np.random.rand(3), np.random.normal(), random.random())
    assert torch.equal(expected[0], got[0]) and np.array_equal(expected[1], got[1])
    assert expected[2:] == got[2:]


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_source_only_resume_is_bit_identical_and_uninterrupted_runs_are_unchanged(
        tmp_path, synthshift_root):
    cfg = _randomised(tiny_config(SOURCE_ONLY, tmp_path / 'a', synthshift_root, iters=12))
    cfg.default_hooks.checkpoint.interval = 4
    weights, lrs = _train(cfg)
    checkpoint = torch.load(tmp_path / 'a' / 'iter_8.pth', weights_only=True)
    assert checkpoint['meta']['iter'] == checkpoint['exact_resume']['iteration'] == 8
    # resumed at 8: the same weights and the same learning rate at every update
    resumed, resumed_lrs = _train(_resumed(cfg, tmp_path / 'b', tmp_path / 'a' / 'iter_8.pth'))
    assert _differing(weights, resumed) == []
    assert sorted(resumed_lrs) == list(range(8, 12))
    assert all(resumed_lrs[i] == lrs[i] for i in resumed_lrs)
    # IterBasedTrainLoop on the same data (sampler and per-sample seeds): the same uninterrupted
    # run, but its resume differs
    plain = copy.deepcopy(cfg)
    plain.train_cfg = dict(type='IterBasedTrainLoop', max_iters=12, val_interval=12)
    plain.train_dataloader = resumable_dataloader(cfg.train_dataloader)
    plain.work_dir = str(tmp_path / 'c')
    assert _differing(weights, _train(plain)[0]) == []
    plain_resumed, _ = _train(_resumed(plain, tmp_path / 'd', tmp_path / 'a' / 'iter_8.pth'))
    assert _differing(weights, plain_resumed)


@pytest.mark.slow
def test_ripu_resumed_from_a_report_at_a_selection_round_is_bit_identical(
        tmp_path, synthshift_root):
    cfg = _randomised(tiny_config(RIPU, tmp_path / 'a', synthshift_root, iters=6))
    cfg.custom_hooks = [dict(cfg.custom_hooks[0], select_iters=[2, 4]), *cfg.custom_hooks[1:],
                        dict(type='ReportLikeTune', at=4)]
    weights, lrs = _train(cfg)
    a = tmp_path / 'a'
    checkpoint = torch.load(a / 'report.pth', weights_only=True)
    # written before the round at 4 and before the schedulers stepped for update 4
    assert checkpoint['meta']['iter'] == 4 and checkpoint['exact_resume']['scheduler_steps_behind']
    assert [r['iteration'] for r in ActiveLabelStore(a / 'report_labels').rounds()] == [2]
    cfg.custom_hooks = cfg.custom_hooks[:-1]
    resumed, resumed_lrs = _train(_resumed(cfg, tmp_path / 'b', a / 'report.pth',
                                           a / 'report_labels'))
    assert _differing(weights, resumed) == []
    assert sorted(resumed_lrs) == [4, 5] and all(resumed_lrs[i] == lrs[i] for i in resumed_lrs)
    _assert_same_store(a, tmp_path / 'b')


@pytest.mark.slow
def test_adamcu_resumed_at_a_commit_is_bit_identical(tmp_path, synthshift_root):
    cfg = _randomised(tiny_config(ADAMCU, tmp_path / 'a', synthshift_root, iters=6))
    # 6 iterations cannot spend the budget (the run is about resume, not about spending it)
    cfg.custom_hooks = [dict(cfg.custom_hooks[0], budget=dict(ratio=0.02), commit_interval=2,
                             require_spent=False), *cfg.custom_hooks[1:]]
    cfg.default_hooks.checkpoint.interval = 4
    weights, lrs = _train(cfg)
    a = tmp_path / 'a'
    assert [r['iteration'] for r in ActiveLabelStore(a / 'active_labels').rounds()] == [2, 4, 6]
    resumed, resumed_lrs = _train(_resumed(cfg, tmp_path / 'b', a / 'iter_4.pth',
                                           a / 'active_labels'))
    assert _differing(weights, resumed) == []
    assert sorted(resumed_lrs) == [4, 5] and all(resumed_lrs[i] == lrs[i] for i in resumed_lrs)
    _assert_same_store(a, tmp_path / 'b')


@pytest.mark.slow
def test_a_checkpoint_without_rng_state_still_resumes(tmp_path, synthshift_root):
    cfg = tiny_config(SOURCE_ONLY, tmp_path / 'a', synthshift_root, iters=2)
    cfg.train_cfg.type = 'IterBasedTrainLoop'
    cfg.default_hooks.checkpoint.interval = 1
    Runner.from_cfg(cfg).train()
    cfg = _resumed(cfg, tmp_path / 'b', tmp_path / 'a' / 'iter_1.pth')
    cfg.train_cfg.type = 'ExactResumeIterBasedTrainLoop'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
