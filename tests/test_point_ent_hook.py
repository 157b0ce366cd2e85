"""POINT-ENT end to end on a real Runner: G1's weights score the target pool once, before G2's
first update; oracle points are bought (ground truth), pseudo labels are G1's argmax and are
kept apart in the store; G2 trains from its own initialisation; show_selection draws the
patches and points; bad settings fail before training with one line."""
import glob
import math
import os

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmseg.registry import MODELS, RUNNERS
from PIL import Image
from runner_utils import tiny_config

from mmseg_ext.active.label_store import ActiveLabelStore
from mmseg_ext.hooks.inference import PoolImages, label_size_logits, weights_of

G1 = 'configs/point_ent/synthshift/advent.py'
G2 = 'configs/point_ent/synthshift.py'


@pytest.fixture(scope='module')
def g1_checkpoint(tmp_path_factory, synthshift_root):
    work = tmp_path_factory.mktemp('g1')
    RUNNERS.build(tiny_config(G1, work, synthshift_root, iters=2)).train()
    return sorted(glob.glob(str(work / 'iter_2.pth')))[0]


def _g2(tmp_path, root, checkpoint, iters=2, **strategy):
    cfg = tiny_config(G2, tmp_path, root, iters=iters)
    hook = cfg.custom_hooks[0]
    hook.score_checkpoint = checkpoint
    hook.strategy = dict(hook.strategy, **strategy)
    return cfg


def test_g1_scores_once_and_the_store_keeps_oracle_and_pseudo_labels_apart(
        tmp_path, synthshift_root, g1_checkpoint):
    cfg = _g2(tmp_path, synthshift_root, g1_checkpoint, iters=3, k=3, points_per_patch=4)
    runner = RUNNERS.build(cfg)
    init = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    store = ActiveLabelStore(tmp_path / 'active_labels')
    rounds = store.rounds()
    assert len(rounds) == 1 and rounds[0]['iteration'] == 0 and rounds[0]['before_update']
    assert rounds[0]['strategy'] == 'POINT-ENT' and rounds[0]['options']['grid'] == [8, 8]
    rows = store.ledger()
    assert all(r['units'] == r['pixels'] == 3 * 4 for r in rows)  # clicks = oracle pixels
    assert all(r['pseudo_pixels'] == (64 - 3) * 4 for r in rows)
    # the pseudo labels are G1's argmax at label size, the bought ones the ground truth
    model = MODELS.build(cfg.model)
    hook = next(h for h in runner.hooks if type(h).__name__ == 'ActiveSelectionHook')
    infos = hook.pool.infos[:4]
    batch = pseudo_collate([PoolImages(infos, hook.pool_pipeline)[i] for i in range(4)])
    model.eval()
    with torch.no_grad(), weights_of(model, g1_checkpoint):
        logits = label_size_logits(model, batch)
    for info, lg in zip(infos, logits):
        rel = hook.pool.rel(info)
        labels, pseudo = store.labels(rel), store.pseudo(rel)
        _, bought = store.state(rel)
        gt = np.array(Image.open(store.gt_path(rel)))
        assert np.array_equal(labels[bought], gt[bought]) and not (pseudo & bought).any()
        assert np.array_equal(labels[pseudo], lg.argmax(0).numpy()[pseudo])
        assert np.all(labels[~(pseudo | bought)] == 255)
    # G2 trained from its own initialisation, not from G1's weights
    g1 = torch.load(g1_checkpoint, map_location='cpu', weights_only=True)['state_dict']
    key = 'decode_head.conv_seg.weight'
    assert not torch.equal(runner.model.state_dict()[key], g1[key])
    assert not torch.equal(init[key], g1[key])
    # show_selection draws the points and outlines the patches that got them
    from mmseg_ext.tools.show_selection import main as show_selection
    out = tmp_path / 'selection.png'
    assert show_selection([str(tmp_path), '--out', str(out), '--images', '2']) == 0
    assert out.is_file()


def test_weights_of_restores_the_model_bit_for_bit(tmp_path, synthshift_root, g1_checkpoint):
    model = MODELS.build(tiny_config(G2, tmp_path, synthshift_root).model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with weights_of(model, g1_checkpoint):
        assert not all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize('strategy, message', [
    (dict(grid=(7, 8)), 'does not divide'),
    (dict(k=65), 'k=65'),
    (dict(k=-1), 'option k'),
    (dict(points_per_patch=129), 'points_per_patch=129'),
    (dict(points_per_patch=0), 'points_per_patch'),
    (dict(selection='best'), 'selection'),
    (dict(pseudo='all'), 'pseudo'),
])
def test_bad_settings_fail_before_training(tmp_path, synthshift_root, g1_checkpoint, strategy,
                                           message):
    cfg = _g2(tmp_path, synthshift_root, g1_checkpoint, **strategy)
    with pytest.raises(ValueError, match=message) as err:
        RUNNERS.build(cfg).train()
    assert '\n' not in str(err.value)
    assert not os.path.exists(tmp_path / 'iter_1.pth')


def test_a_warm_up_of_another_class_count_is_refused(tmp_path, synthshift_root, g1_checkpoint):
    checkpoint = torch.load(g1_checkpoint, map_location='cpu', weights_only=False)
    state = checkpoint['state_dict']
    for key in [k for k in state if k.startswith('decode_head.conv_seg.')]:
        state[key] = state[key][:16]
    other = str(tmp_path / 'g1_16_classes.pth')
    torch.save(checkpoint, other)
    cfg = _g2(tmp_path, synthshift_root, other)
    with pytest.raises(ValueError, match='predicts 16 classes') as err:
        RUNNERS.build(cfg).train()
    assert '\n' not in str(err.value)


@pytest.mark.parametrize('benchmark, label_size', [('synthshift', (64, 128)),
                                                   ('gta5_to_cityscapes', (1024, 2048)),
                                                   ('synthia_to_cityscapes', (1024, 2048))])
def test_every_point_ent_space_builds_its_trials(benchmark, label_size):
    """Every row of the three POINT-ENT spaces builds its trial config and its hook on every
    benchmark, and its strategy buys the clicks it should in an image of the benchmark."""
    from mmseg.registry import HOOKS

    from sweeps.spaces import load_space
    from sweeps.trial_config import active_hook, build_trial_config
    clicks = {}
    for name in ('point_ent_selection', 'point_ent_k', 'point_budget'):
        space = load_space(name)
        for variant in space.variants:
            cfg, _ = build_trial_config(space, benchmark, variant, {}, 0, data_root='/data')
            hook_cfg = active_hook(cfg)
            if hook_cfg is None:  # G1 alone (MinEnt, AdvEnt)
                assert cfg.model.type == 'AdversarialSegmentor'
                continue
            hook = HOOKS.build(dict(hook_cfg))
            assert hook_cfg['select_iters'] == [0] and hook_cfg['select_before_update']
            clicks[f'{name}/{variant}'] = hook.strategy.units_per_round(*label_size, hook.budget)
    patches = 64 if benchmark == 'synthshift' else 128
    assert clicks['point_ent_selection/active'] == 50
    assert clicks['point_ent_selection/self_training'] == 0
    assert clicks['point_ent_selection/full'] == patches * 5
    assert clicks['point_ent_k/k=3'] == 15 and clicks['point_ent_k/k=all'] == patches * 5
    assert clicks['point_budget/point_ent_k8'] == clicks['point_budget/point_ent_no_pseudo'] == 40
    scale = 1 if benchmark == 'synthshift' else 1024 * 2048 / (640 * 1280)  # PA's reference scale
    assert clicks['point_budget/random_points'] == clicks['point_budget/ripu_pa_40px'] == \
        math.ceil(40 * scale)
