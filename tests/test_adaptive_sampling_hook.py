"""AdaptiveSamplingHook (ADA-MCU's Algorithm 1 during training) end to end with a real Runner on
a tiny SynthShift: purchases through the store and ledger, the batch that buys trains on its
labels, resume, the 'AL (w/o AS)' switch, the batch geometry and bad input."""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.structures import PixelData
from mmseg.registry import HOOKS, RUNNERS
from mmseg.structures import SegDataSample
from runner_utils import tiny_config
from test_active_hook import _check_store_matches_ground_truth

from mmseg_ext.active.label_store import ActiveLabelStore
from mmseg_ext.hooks import AdaptiveSamplingHook
from mmseg_ext.models.segmentors.adamcu_segmentor import ADAMCUSegmentor

ADAMCU = 'configs/adamcu/synthshift.py'


@HOOKS.register_module()
class RecordTrainedTargetLabels(Hook):
    """Test probe, after AdaptiveSamplingHook: labelled target pixels the update will see."""
    priority = 'LOW'
    seen = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        labels = [s.gt_sem_seg.data for s in data_batch['target_data_samples']]
        RecordTrainedTargetLabels.seen.append(
            (runner.iter, sum(int((lab != 255).sum()) for lab in labels)))


def _cfg(tmp_path, root, iters=8, **hook):
    cfg = tiny_config(ADAMCU, tmp_path, root, iters=iters)
    # these runs are too short to spend a budget (test_adamcu_fidelity.py checks spending)
    hook = {'budget': dict(ratio=0.02), 'commit_interval': 3, 'require_spent': False, **hook}
    cfg.custom_hooks = [dict(cfg.custom_hooks[0], **hook), dict(type='RecordTrainedTargetLabels')]
    return cfg


def _hook(runner):
    return next(h for h in runner._hooks if isinstance(h, AdaptiveSamplingHook))


def test_buys_during_training_through_the_store_and_ledger(tmp_path, synthshift_root):
    RecordTrainedTargetLabels.seen = []
    cfg = _cfg(tmp_path, synthshift_root, iters=8)
    runner = RUNNERS.build(cfg)
    runner.train()
    hook = _hook(runner)
    store = ActiveLabelStore(tmp_path / 'active_labels')
    # commits every 3 iterations, at the checkpoints (4, 8), before validation and at the end
    assert [r['iteration'] for r in store.rounds()] == [3, 4, 6, 8]
    assert all(r['strategy'] == 'ADA-MCU' for r in store.rounds())
    ledger = store.ledger()
    bought = sum(row['pixels'] for row in ledger)
    assert bought == hook.sampler.bought > 0
    assert bought <= hook.budget_pixels == round(0.02 * hook.pool.total_pixels)
    assert hook.sampler.high_budget == hook.budget_pixels - hook.budget_pixels // 2
    assert sum(int(store.state(e['rel'])[1].sum()) for e in store.index()) == bought
    _check_store_matches_ground_truth(store)
    # the batch that buys pixels trains on them (nothing was labelled before iteration 0)
    assert dict(RecordTrainedTargetLabels.seen)[0] > 0
    assert runner.message_hub.get_scalar('active/pixels').current() == bought
    # the segmentor's anchors use the sampler's current threshold
    assert runner.model.pi_high == pytest.approx(hook.sampler.pi_high)
    assert hook.sampler.pi_high < 1.0  # decayed once per buying iteration


def test_first_batch_trains_on_exactly_what_it_bought(tmp_path, synthshift_root):
    RecordTrainedTargetLabels.seen = []
    cfg = _cfg(tmp_path, synthshift_root, iters=1, budget=dict(ratio=0.5))
    runner = RUNNERS.build(cfg)
    runner.train()
    hook = _hook(runner)
    seen = dict(RecordTrainedTargetLabels.seen)
    ledger = ActiveLabelStore(tmp_path / 'active_labels').ledger()
    assert sum(r['pixels'] for r in ledger) == hook.sampler.bought > 0
    # SynthShift has no resize, so labels map 1:1; bought void pixels stay 255
    assert seen[0] == sum(r['pixels'] - r['void_pixels'] for r in ledger) > 0
    assert hook.sampler.phase == 'high'


@pytest.mark.parametrize('fixed', [False, True])
def test_without_adaptive_sampling_buys_all_from_the_high_group(tmp_path, synthshift_root, fixed):
    """'AL (w/o AS)': the whole budget from G_h; pi_high decays like AS (per epoch) unless
    fixed_pi_high (the behaviour before issue 21)."""
    cfg = _cfg(tmp_path, synthshift_root, iters=3,
               strategy=dict(type='ADA-MCU', adaptive_sampling=False, fixed_pi_high=fixed))
    runner = RUNNERS.build(cfg)
    runner.train()
    sampler = _hook(runner).sampler
    assert sampler.high_budget == sampler.budget and sampler.medium_budget == 0
    assert sampler.bought > 0
    assert sampler.pi_high == (1.0 if fixed else pytest.approx(0.9))


def test_decay_every_epoch_decays_once_per_pass_over_the_target(tmp_path, synthshift_root):
    cfg = _cfg(tmp_path, synthshift_root, iters=3, strategy=dict(type='ADA-MCU', decay_every='epoch'),
               budget=dict(ratio=0.5))
    runner = RUNNERS.build(cfg)
    runner.train()
    sampler = _hook(runner).sampler
    # 24 tiny target images, 4 a batch: 6 buying iterations per epoch
    assert sampler.decay_every == 6
    assert sampler.high_calls == 3 and sampler.num_decays == 1
    assert sampler.pi_high == pytest.approx(0.9)


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_resume_restores_the_sampler_and_the_labels_of_its_checkpoint(tmp_path, synthshift_root):
    cfg = _cfg(tmp_path, synthshift_root, iters=8)
    cfg.default_hooks.checkpoint.interval = 4
    first = RUNNERS.build(cfg)
    first.train()
    store = ActiveLabelStore(tmp_path / 'active_labels')
    saved = torch.load(tmp_path / 'iter_4.pth', map_location='cpu',
                       weights_only=False)['adamcu_sampler']
    at_4 = sum(r['pixels'] for r in store.ledger() if r['iteration'] <= 4)
    assert saved['bought_high'] + saved['bought_medium'] == at_4
    # a crash after iteration 4's checkpoint: resume from it
    (tmp_path / 'iter_8.pth').unlink()
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    cfg.resume = True
    runner = RUNNERS.build(cfg)
    assert [r['iteration'] for r in store.rounds()] == [3, 4]  # later rounds undone
    runner.train()
    hook = _hook(runner)
    assert sum(r['pixels'] for r in store.ledger()) == hook.sampler.bought
    assert hook.sampler.num_decays >= saved['num_decays']
    _check_store_matches_ground_truth(store)


def _sample(label, **meta):
    sample = SegDataSample(metainfo=meta)
    sample.gt_sem_seg = PixelData(data=label[None])
    return sample


def test_batch_geometry_resize_flip_and_crop():
    hook = AdaptiveSamplingHook()
    label = torch.full((4, 6), 255, dtype=torch.uint8)
    label[0, 0] = 3
    same = hook._to_batch(label, dict(flip=False), (4, 6))
    assert torch.equal(same, label)
    flipped = hook._to_batch(label, dict(flip=True, flip_direction='horizontal'), (4, 6))
    assert flipped[0, 5] == 3 and (flipped != 255).sum() == 1
    resized = hook._to_batch(label, dict(flip=False, scale_factor=(2.0, 2.0)), (8, 12))
    assert resized.shape == (8, 12) and torch.equal(resized[:2, :2], torch.full((2, 2), 3,
                                                                                dtype=torch.uint8))
    assert hook._to_batch(label, dict(flip=False, scale_factor=(2.0, 2.0)), (5, 5)) is None


@pytest.mark.parametrize('hook, message', [
    (dict(gamma=-0.5), 'gamma'),
    (dict(pi_high=0.2, pi_low=0.5), 'pi_low <= pi_high'),
    (dict(pi_high=0.5), 'both be given'),
    (dict(budget=dict(ratio=1.5)), 'ratio'),
    (dict(strategy=dict(type='ADA-MCU', decay=1.5)), 'decay'),
    (dict(commit_interval=0), 'commit_interval'),
    (dict(strategy=dict(type='ADA-MCU', decay_every='week')), 'decay_every'),
    (dict(strategy=dict(type='ADA-MCU', fixed_pi_high=1)), 'fixed_pi_high'),
    (dict(require_spent='yes'), 'require_spent'),
    (dict(strategy=dict(type='RIPU-RA')), 'scope'),
])
def test_bad_hook_settings_fail_when_built(hook, message):
    with pytest.raises(ValueError, match=message) as err:
        HOOKS.build(dict(type='AdaptiveSamplingHook', **hook))
    assert '\n' not in str(err.value) and 'AdaptiveSamplingHook' in str(err.value)


def test_budget_above_the_pool_fails_before_training(tmp_path, synthshift_root):
    cfg = _cfg(tmp_path, synthshift_root, budget=dict(pixels=64 * 128 + 1))
    with pytest.raises(ValueError, match='above the pixels of a target image'):
        RUNNERS.build(cfg).train()
    assert not (tmp_path / 'iter_4.pth').exists()
    cfg = _cfg(tmp_path, synthshift_root, start_iter=8)
    with pytest.raises(ValueError, match='start_iter=8'):
        RUNNERS.build(cfg).train()


def test_a_schedule_that_cannot_spend_the_budget_fails_before_training(tmp_path,
                                                                      synthshift_root):
    """2 buying iterations of 4 images x 64x128 pixels at most half each: 16384 < 50%."""
    cfg = _cfg(tmp_path, synthshift_root, iters=2, budget=dict(ratio=0.5), require_spent=True)
    with pytest.raises(ValueError, match='cannot be bought in the 2 buying iterations') as err:
        RUNNERS.build(cfg).train()
    assert '\n' not in str(err.value)
    assert not (tmp_path / 'iter_1.pth').exists()


def test_check_spendable_without_a_runner(synthshift_root):
    """What sweeps/run.py checks for every trial before a sweep starts (check_budget)."""
    from mmseg.registry import DATASETS
    from runner_utils import TINY_SYNTHSHIFT
    target = DATASETS.build(dict(type='SynthShiftDataset', domain='target', split='train',
                                 data_root=str(synthshift_root), generate=dict(TINY_SYNTHSHIFT),
                                 pipeline=[]))
    infos = [dict(info, gt_seg_map_path=info['seg_map_path'])
             for info in (target.get_data_info(i) for i in range(len(target)))]
    hook = HOOKS.build(dict(type='AdaptiveSamplingHook', budget=dict(ratio=0.5)))
    hook.check_pool(infos)
    hook.check_spendable(max_iters=6, batch_size=4)  # 6 x 16384 >= 98304
    with pytest.raises(ValueError, match='cannot be bought in the 2 buying iterations'):
        hook.check_spendable(max_iters=2, batch_size=4)
    HOOKS.build(dict(type='AdaptiveSamplingHook', budget=dict(ratio=0.5),
                     require_spent=False)).check_spendable(max_iters=2, batch_size=4)


def test_a_run_that_did_not_spend_its_budget_fails_at_the_end(tmp_path, synthshift_root):
    """One line, after the purchases reached the store (an untrained model has no medium
    group: u >= pi_high everywhere, so the medium half waits)."""
    cfg = _cfg(tmp_path, synthshift_root, iters=6, budget=dict(ratio=0.2), require_spent=True)
    with pytest.raises(RuntimeError, match=r'bought \d+ of its \d+-pixel budget') as err:
        RUNNERS.build(cfg).train()
    assert '\n' not in str(err.value)
    ledger = ActiveLabelStore(tmp_path / 'active_labels').ledger()
    assert sum(r['pixels'] for r in ledger) > 0
    # before the last checkpoint and the final evaluation: no final result to report (a sweep
    # tabled such runs), and a retry resumes from an earlier checkpoint and fails again
    assert not (tmp_path / 'iter_6.pth').exists()


@pytest.mark.parametrize('args, message', [
    (dict(gamma=-1.0), 'gamma'),
    (dict(pi_high=0.1, pi_low=0.4), 'pi_low <= pi_high'),
    (dict(dccm_momentum=1.0), 'momentum'),
    (dict(auxiliary_head=None), 'auxiliary_head is required'),
])
def test_segmentor_arguments_are_checked_unbuilt(args, message):
    base = dict(pi_high=1.0, pi_low=0.1, auxiliary_head=dict(type='FCNHead'),
                contrastive_loss=dict(type='MultiLevelContrastiveLoss'),
                projection=dict(channels=8))
    ADAMCUSegmentor.check_args(**base)
    with pytest.raises(ValueError, match=message) as err:
        ADAMCUSegmentor.check_args(**{**base, **args})
    assert '\n' not in str(err.value)
