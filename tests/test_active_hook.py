"""ActiveSelectionHook + ActiveRunner + the store, end to end with a real Runner on SynthShift."""
import numpy as np
import pytest
from mmengine.hooks import Hook
from mmseg.registry import HOOKS, RUNNERS
from PIL import Image
from runner_utils import row_config, tiny_config

from mmseg_ext.active.label_store import ActiveLabelStore

RIPU = 'configs/ripu/synthshift.py'


@HOOKS.register_module()
class RecordTargetLabels(Hook):
    """Test probe: labelled target pixels in each training batch, as the workers loaded them."""
    seen = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        labels = [s.gt_sem_seg.data for s in data_batch['target_data_samples']]
        RecordTargetLabels.seen.append(
            (runner.iter, sum(int((lab != 255).sum()) for lab in labels)))


def _cfg(tmp_path, root, iters=8, select_iters=(2, 4), workers=0, **hook):
    cfg = tiny_config(RIPU, tmp_path, root, iters=iters)
    cfg.custom_hooks = [dict(cfg.custom_hooks[0], select_iters=list(select_iters), **hook),
                        dict(type='RecordTargetLabels')]
    if workers:
        cfg.train_dataloader.num_workers = workers
        cfg.train_dataloader.persistent_workers = True
    return cfg


def _check_store_matches_ground_truth(store):
    for entry in store.index():
        labels = store.labels(entry['rel'])
        gt = np.array(Image.open(entry['gt']))
        _, bought = store.state(entry['rel'])
        assert np.array_equal(labels[bought], gt[bought])
        assert np.all(labels[~bought] == 255)


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_rounds_buy_the_budget_and_workers_see_the_labels(tmp_path, synthshift_root):
    RecordTargetLabels.seen = []
    cfg = _cfg(tmp_path, synthshift_root, workers=1)
    runner = RUNNERS.build(cfg)
    runner.train()
    store = ActiveLabelStore(tmp_path / 'active_labels')
    rounds = store.rounds()
    assert [r['iteration'] for r in rounds] == [2, 4]
    h, w = 64, 128
    per_image = int(np.ceil(h * w * 0.022 / 2 / 9))  # RA: ceil(HW * ratio / rounds / (2k+1)^2)
    for rnd in rounds:
        assert all(row['units'] == per_image for row in rnd['rows'])
        assert len(rnd['rows']) == len(store.index())
    pixels = sum(row['pixels'] for row in store.ledger())
    # ceil() per round may overshoot the ratio a little, as in the reference; border clipping
    # and void pixels never add to it
    assert 0.022 * 0.9 < pixels / (len(store.index()) * h * w)
    assert pixels <= len(store.index()) * 2 * per_image * 9
    _check_store_matches_ground_truth(store)
    seen = dict(RecordTargetLabels.seen)
    assert seen[0] == 0 and seen[1] == 0       # nothing labelled before the first round
    assert max(v for it, v in seen.items() if it >= 5) > 0  # workers read the new labels
    assert runner.message_hub.get_scalar('active/labelled_fraction').current() == \
        pytest.approx(pixels / (len(store.index()) * h * w))
    # the bought regions drawn over the target images, one colour per round
    from mmseg_ext.tools.show_selection import main as show_selection
    assert show_selection([str(tmp_path), '--out', str(tmp_path / 'sel.png'), '--images', '3']) == 0
    picture = np.array(Image.open(tmp_path / 'sel.png'))
    assert picture.ndim == 3 and picture.shape[0] > 3 * 64
    assert show_selection([str(tmp_path / 'nope'), '--out', str(tmp_path / 'x.png')]) == 2


@pytest.mark.slow  # long for the default run (about 10 s or more)
def test_resume_has_exactly_the_labels_of_its_checkpoint(tmp_path, synthshift_root):
    cfg = _cfg(tmp_path, synthshift_root, iters=6, select_iters=(2, 5))
    cfg.default_hooks.checkpoint.interval = 3
    RUNNERS.build(cfg).train()  # checkpoints at 3 and 6; rounds at 2 and 5
    store = ActiveLabelStore(tmp_path / 'active_labels')
    # Simulate a crash after the round at 5 but before the checkpoint at 6: resume from 3.
    (tmp_path / 'iter_6.pth').unlink()
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_3.pth'))
    cfg.resume = True
    runner = RUNNERS.build(cfg)
    assert [r['iteration'] for r in store.rounds()] == [2]  # round 5 undone before training
    bought = sum(int(store.state(e['rel'])[1].sum()) for e in store.index())
    assert bought == sum(r['pixels'] for r in store.ledger()) > 0  # round 5's pixels are gone
    runner.train()
    assert [r['iteration'] for r in store.rounds()] == [2, 5]  # and bought again
    _check_store_matches_ground_truth(store)
    # A fresh run (no resume) in the same work_dir starts with no labels.
    cfg.resume = False
    RUNNERS.build(cfg)
    assert store.rounds() == [] and store.ledger() == []


@pytest.mark.parametrize('hook, message', [
    (dict(strategy='nope'), 'unknown strategy'),
    (dict(strategy_cfg=dict(k=-1)), 'k'),
    (dict(budget=dict(ratio=0.0)), 'ratio'),
    (dict(budget=dict(ratio=0.9)), 'larger than the pool'),
    (dict(select_iters=[3, 99]), r'select_iters \[99\] outside the schedule'),
    (dict(select_iters=[4, 2]), 'increasing'),
])
def test_bad_settings_fail_before_training(tmp_path, synthshift_root, hook, message):
    select_iters = hook.pop('select_iters', (2, 4))
    cfg = _cfg(tmp_path, synthshift_root, select_iters=select_iters, **hook)
    with pytest.raises(ValueError, match=message):
        RUNNERS.build(cfg).train()
    assert not (tmp_path / 'iter_4.pth').exists()


@pytest.mark.parametrize('config', ['ripu_pa', 'rand_pixel', 'canny_ent', 'ripu_superpixel',
                                    'source_free_ra'])
def test_variant_configs_run(tmp_path, synthshift_root, config):
    from sweeps.space import Variant
    from sweeps.spaces.rows import RIPU_ROWS
    row = RIPU_ROWS.get(config) or Variant(f'ripu/{config}')  # a row, or a protocol config
    cfg = row_config(row, tmp_path, synthshift_root, iters=3)
    before = cfg.custom_hooks[0].get('select_before_update', False)
    cfg.custom_hooks[0].select_iters = [0, 1] if before else [1, 2]
    RUNNERS.build(cfg).train()
    store = ActiveLabelStore(tmp_path / 'active_labels')
    assert len(store.rounds()) == 2 and sum(r['pixels'] for r in store.ledger()) > 0
    _check_store_matches_ground_truth(store)


@pytest.mark.parametrize('resize', [None, (120, 60)])
def test_pool_logits_equal_mmseg_predict(tmp_path, synthshift_root, resize):
    """The hook's batched scoring logits are mmseg's predict `seg_logits` (padding cropped,
    resized to the label size), also when the pool pipeline resizes and the batch is padded."""
    import torch
    from mmengine.dataset import pseudo_collate

    from mmseg_ext.hooks.inference import PoolImages as _Pool, label_size_logits
    from mmseg_ext.hooks.target_pool import target_dataset
    runner = RUNNERS.build(_cfg(tmp_path, synthshift_root))
    target = target_dataset(runner)
    infos = [target.get_data_info(i) for i in range(5)]
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]
    if resize:
        pipeline.insert(1, dict(type='Resize', scale=resize, keep_ratio=False))
    pool = _Pool(infos, pipeline)
    batch = pseudo_collate([pool[i] for i in range(len(pool))])
    model = runner.model.eval()
    with torch.no_grad():
        ours = label_size_logits(model, batch)
        theirs = [r.seg_logits.data for r in model.test_step(batch)]
    assert len(ours) == len(theirs) == 5
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape == (19, 64, 128)
        torch.testing.assert_close(a, b)
