"""RegionSelectionHook end to end with a real Runner on a tiny SynthShift: ADeADA's protocol
(rounds before the update, 1% per round in whole superpixels), the cache, pre-classifier
features, the per-round lr restart and bad input."""
import os

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmseg.models.utils import resize
from mmseg.registry import MODELS, RUNNERS
from PIL import Image
from runner_utils import row_config, tiny_config

from mmseg_ext.active.label_store import ActiveLabelStore
from mmseg_ext.active.units import SuperpixelCache
from mmseg_ext.hooks.inference import PoolImages as _Pool, label_size_outputs

ADEADA = 'configs/adeada/synthshift.py'


def _cfg(tmp_path, root, config=ADEADA, iters=6, rounds=3, row=None, **hook):
    """A tiny ADeADA run (`row`: a row of sweeps.spaces.rows.ADEADA_ROWS instead)."""
    cfg = tiny_config(config, tmp_path / 'work', root, iters=iters) if row is None else \
        row_config(row, tmp_path / 'work', root, iters=iters)
    period = iters // rounds
    cfg.param_scheduler = [dict(type='RoundPolyLR', period=period, begin=0, end=iters,
                                by_epoch=False)]
    hook = {'budget': dict(ratio=0.01 * rounds), **hook}
    cfg.custom_hooks = [dict(cfg.custom_hooks[0], select_iters=[r * period for r in range(rounds)],
                             batch_size=8, superpixel_root=str(tmp_path / 'superpixels'), **hook)]
    return cfg


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_adeada_rounds_buy_whole_superpixels_within_the_budget(tmp_path, synthshift_root):
    cfg = _cfg(tmp_path, synthshift_root, source_images=None)
    runner = RUNNERS.build(cfg)
    runner.train()
    hook = runner._hooks[[type(h).__name__ for h in runner._hooks].index('RegionSelectionHook')]
    store = ActiveLabelStore(os.path.join(cfg.work_dir, 'active_labels'))
    rounds = store.rounds()
    assert [r['iteration'] for r in rounds] == [0, 2, 4]
    budget = hook.round_budget()
    assert budget == pytest.approx(0.01 * hook.pool.total_pixels)
    biggest = 0
    for i, info in enumerate(hook.pool.infos):
        seg = hook._segments('target', info, *hook.pool.sizes[i]).numpy()
        biggest = max(biggest, int(np.bincount(seg.ravel()).max()))
        _, bought = store.state(hook.pool.rel(info))
        ids = np.unique(seg[bought])
        assert np.array_equal(bought, np.isin(seg, ids)), info['img_path']  # whole superpixels
    ledger = store.ledger()
    for r in range(3):
        spent = sum(row['pixels'] for row in ledger if row['round'] == r)
        assert budget - biggest < spent <= budget
    assert runner.message_hub.get_info('active/classes')


def test_pre_classifier_features_are_the_heads_input_to_conv_seg(tmp_path, synthshift_root):
    cfg = _cfg(tmp_path, synthshift_root)
    model = MODELS.build(cfg.model).eval()
    target = cfg.train_dataloader.dataset.target
    from mmseg.registry import DATASETS
    target = {k: v for k, v in target.items() if k != 'active_label_dir'}
    dataset = DATASETS.build(dict(target, pipeline=[dict(type='LoadImageFromFile'),
                                                    dict(type='PackSegInputs')]))
    infos = [dataset.get_data_info(i) for i in range(3)]
    pool = _Pool(infos, [dict(type='LoadImageFromFile'), dict(type='PackSegInputs')])
    batch = pseudo_collate([pool[i] for i in range(3)])
    with torch.no_grad():
        logits, _, feats = label_size_outputs(model, batch, features=True)
        data = model.data_preprocessor(batch, False)
        want = model.decode_head._forward_feature(model.extract_feat(data['inputs']))
        want = resize(want, size=data['inputs'].shape[-2:], mode='bilinear',
                      align_corners=False)
        again, _, none = label_size_outputs(model, batch)
    assert none is None and len(feats) == 3
    torch.testing.assert_close(torch.stack(feats), want)
    torch.testing.assert_close(torch.stack(logits), torch.stack(again))
    assert feats[0].shape == (32, 64, 128)


def test_deeplabv2_feature_variant():
    head = MODELS.build(dict(type='DeepLabV2Head', in_channels=8, num_classes=3,
                             feature_channels=16, dilations=(1, 2)))
    assert all(b.bias is None and b.out_channels == 16 for b in head.aspp)
    assert head.conv_seg.in_channels == 16
    out = head([torch.randn(2, 8, 5, 6)])
    assert out.shape == (2, 3, 5, 6)
    plain = MODELS.build(dict(type='DeepLabV2Head', in_channels=8, num_classes=3))
    assert not hasattr(plain, 'conv_seg') and plain.aspp[0].out_channels == 3
    with pytest.raises(ValueError, match='feature_channels'):
        MODELS.build(dict(type='DeepLabV2Head', in_channels=8, num_classes=3,
                          feature_channels=0))


def test_round_poly_lr_restarts_every_round():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0)
    from mmseg.registry import PARAM_SCHEDULERS
    sched = PARAM_SCHEDULERS.build(dict(type='RoundPolyLR', optimizer=opt, period=4, power=1.0,
                                        eta_min=0.0, begin=0, end=12, by_epoch=False))
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([1, 0.75, 0.5, 0.25] * 3)


def test_superpixel_cache_of_another_size_fails_before_training(tmp_path, synthshift_root):
    cfg = _cfg(tmp_path, synthshift_root)
    runner = RUNNERS.build(cfg)
    target = runner.train_dataloader.dataset.target
    info = target.get_data_info(0)
    cache = SuperpixelCache(tmp_path / 'superpixels' / 'slic_n40_c10')
    rel = os.path.relpath(info['img_path'], target.data_root)
    cache.path(rel).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((32, 64), np.uint16)).save(cache.path(rel))
    with pytest.raises(ValueError, match='delete the cache'):
        runner.train()


@pytest.mark.parametrize('hook,message', [
    (dict(budget=dict(pixels=9000)), 'above the pixels of a target image'),
    (dict(region=dict(type='hexagon')), 'region type'),
    (dict(region=dict(type='grid', cell=(0, 4))), 'grid cell'),
    (dict(source_images=0), 'source_images'),
    (dict(strategy=dict(type='ADeADA', alpha=-1.0)), 'option alpha'),
])
def test_bad_settings_fail_before_training(tmp_path, synthshift_root, hook, message):
    cfg = _cfg(tmp_path, synthshift_root, **hook)
    with pytest.raises(ValueError, match=message):
        RUNNERS.build(cfg).train()


@pytest.mark.parametrize('config', ['badge', 'redal', 'aada', 'ripu_ra'])  # others: unit tests
def test_strategy_configs_run(tmp_path, synthshift_root, config):
    from sweeps.spaces.rows import ADEADA_ROWS
    cfg = _cfg(tmp_path, synthshift_root, iters=4, rounds=2, row=ADEADA_ROWS[config])
    if config == 'ripu_ra':
        cfg.custom_hooks = [dict(cfg.custom_hooks[0], select_iters=[0, 2],
                                 budget=dict(ratio=0.02))]
        cfg.custom_hooks[0].pop('superpixel_root')
    RUNNERS.build(cfg).train()
    store = ActiveLabelStore(os.path.join(cfg.work_dir, 'active_labels'))
    strategy = cfg.custom_hooks[0]['strategy']['type']
    assert len(store.rounds()) == 2 and store.rounds()[0]['strategy'] == strategy
