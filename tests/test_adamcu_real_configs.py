"""The ADA-MCU configs of the real benchmarks (GTA5/SYNTHIA -> Cityscapes: DeepLab-v2 and the
DeepLab-v3+ MADA comparison, their source-only warm-ups, the strategy_curve row on ADeADA's
warm-up): they load, the models build (no ImageNet weights; one per architecture) with the
decode head's conv_seg and a layer3 auxiliary head, the sampling hook builds and fits the
schedule, the translated-source option reaches the source dataset, and the sweeps that use
them build every trial config (--dry-run)."""
import os.path as osp

import pytest
from mmengine.config import Config
from runner_utils import REPO, sweep_dry_run

import mmseg_ext  # noqa: F401
from mmseg.registry import HOOKS, MODELS
from mmseg_ext.models.segmentors.adamcu_segmentor import ADAMCUSegmentor

BENCHMARKS = ('gta5_to_cityscapes', 'synthia_to_cityscapes')
NUM_CLASSES = {'gta5_to_cityscapes': 19, 'synthia_to_cityscapes': 16}
SOURCE = {'gta5_to_cityscapes': ('GTA5Dataset', 'images', 'labels'),
          'synthia_to_cityscapes': ('SynthiaDataset', 'RGB', 'GT/LABELS')}
ADAMCU = [(b, n) for b in BENCHMARKS for n in ('adamcu', 'adamcu_adeada_warmup')] + [
    ('gta5_to_cityscapes', 'adamcu_v3plus')]
PRETRAIN = {('gta5_to_cityscapes', 'adamcu'): 'source_pretrain',
            ('synthia_to_cityscapes', 'adamcu'): 'source_pretrain',
            ('gta5_to_cityscapes', 'adamcu_v3plus'): 'source_pretrain_v3plus'}
ITERS = {'adamcu': 40000, 'adamcu_v3plus': 40000, 'adamcu_adeada_warmup': 600000}


def _path(benchmark, name):
    """'adamcu' is the anchor configs/adamcu/<benchmark>.py; other names live in its folder."""
    if name == 'adamcu':
        return osp.join(REPO, 'configs', 'adamcu', f'{benchmark}.py')
    return osp.join(REPO, 'configs', 'adamcu', benchmark, f'{name}.py')


def _load(benchmark, name):
    return Config.fromfile(_path(benchmark, name))


def _no_weights(cfg):
    cfg.model.backbone.init_cfg = None
    return cfg


@pytest.mark.parametrize('benchmark, name', ADAMCU)
def test_adamcu_config(benchmark, name):
    cfg = _load(benchmark, name)
    assert cfg.runner_type == 'ActiveRunner' and cfg.load_from is None
    assert osp.isfile(osp.join(REPO, cfg.warmup_config))
    if name == 'adamcu_adeada_warmup':
        assert cfg.warmup_config == f'configs/adeada/{benchmark}/warmup_deeplabv3plus.py'
        assert cfg.model.decode_head.channels == 256  # ADeADA's v3+ decoder
        assert cfg.optim_wrapper.optimizer.weight_decay == 5e-4  # ADeADA's fine-tuning
    else:
        assert cfg.warmup_config == f'configs/adamcu/{benchmark}/{PRETRAIN[benchmark, name]}.py'
        assert cfg.optim_wrapper.optimizer.weight_decay == 1e-4  # the paper, l. 630
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum) == ('SGD', 2.5e-4, 0.9)
    assert set(cfg.optim_wrapper.paramwise_cfg.custom_keys) == {
        'decode_head', 'auxiliary_head', 'projection'}
    assert cfg.train_cfg.max_iters == ITERS[name] == cfg.param_scheduler[0]['end']
    model = cfg.model
    assert model.type == 'ADAMCUSegmentor' and model.projection == dict(channels=128)
    ADAMCUSegmentor.check_args(**model)
    assert model.decode_head.num_classes == NUM_CLASSES[benchmark]
    assert model.auxiliary_head.num_classes == NUM_CLASSES[benchmark]
    assert model.auxiliary_head.in_channels == 1024
    assert cfg.train_dataloader.dataset.target.active_label_dir == 'active_labels'
    (hook, ) = [h for h in cfg.custom_hooks if h['type'] == 'AdaptiveSamplingHook']
    assert hook['budget'] == dict(ratio=0.05) and hook['commit_interval'] == 500
    assert 'LoadAnnotations' not in [t['type'] for t in hook['pool_pipeline']]
    assert hook['strategy'] == dict(type='ADA-MCU', decay=0.9, high_fraction=0.5,
                                    medium_fraction=0.5, adaptive_sampling=True,
                                    decay_every='epoch', fixed_pi_high=False)
    assert hook['eval_iters'] == ([120000 * r for r in range(1, 5)]
                                  if name == 'adamcu_adeada_warmup' else [])
    HOOKS.build(dict(hook)).check_schedule(cfg.train_cfg.max_iters)


@pytest.mark.parametrize('benchmark, name, arch', [
    ('gta5_to_cityscapes', 'adamcu', 'DeepLabV2Head'),
    ('synthia_to_cityscapes', 'adamcu_adeada_warmup', 'DepthwiseSeparableASPPHead')])
def test_model_builds(benchmark, name, arch):
    model = MODELS.build(_no_weights(_load(benchmark, name)).model)
    assert type(model).__name__ == 'ADAMCUSegmentor'
    assert type(model.decode_head).__name__ == arch
    assert model.decode_head.conv_seg.in_channels == 256
    assert model.decode_head.conv_seg.out_channels == NUM_CLASSES[benchmark]
    assert model.auxiliary_head.in_channels == 1024
    assert model.auxiliary_head.num_classes == NUM_CLASSES[benchmark]
    assert model.projection[-1].out_channels == 128


@pytest.mark.parametrize('benchmark, name', sorted(PRETRAIN))
def test_source_pretrain_matches(benchmark, name):
    cfg, pre = _load(benchmark, name), _load(benchmark, PRETRAIN[benchmark, name])
    assert pre.get('runner_type') is None and 'active_label_dir' not in pre.pretty_text
    assert not [h for h in pre.get('custom_hooks') or [] if 'Sampling' in h['type']]
    assert pre.model.type == 'ADASegmentor'
    for part in ('backbone', 'decode_head', 'auxiliary_head', 'data_preprocessor'):
        assert pre.model[part] == cfg.model[part], part
    assert pre.train_dataloader.dataset == cfg.train_dataloader.dataset.source  # source only
    assert pre.train_dataloader.dataset.type == SOURCE[benchmark][0]
    assert pre.optim_wrapper.optimizer == cfg.optim_wrapper.optimizer
    assert pre.train_cfg.max_iters == cfg.train_cfg.max_iters == 40000


@pytest.mark.parametrize('benchmark, name', sorted(PRETRAIN))
def test_translated_source_dir_is_set_once_for_both(benchmark, name, tmp_path):
    """The ADA-MCU config inherits its source pre-training: one `translated_source_dir`."""
    pretrain = PRETRAIN[benchmark, name]
    _, img, seg = SOURCE[benchmark]

    def prefix(c):
        dataset = c.train_dataloader.dataset
        return dataset.get('source', dataset).data_prefix

    assert _load(benchmark, pretrain).translated_source_dir is None
    assert prefix(_load(benchmark, name)) == dict(img_path=img, seg_map_path=seg)
    for config in (name, pretrain):  # copies next to each other, bases made absolute
        with open(_path(benchmark, config)) as f:
            text = f.read()
        if config == pretrain:
            assert text.count('translated_source_dir = None') == 1
            text = text.replace('translated_source_dir = None',
                                "translated_source_dir = '/x/cyclegan'")
        base = repr(osp.join(REPO, 'configs', '_base_', ''))[:-1]
        text = text.replace("'../../_base_/", base).replace("'../_base_/", base)
        text = text.replace(f"'./{benchmark}/", "'./")  # the anchor's base in its folder
        (tmp_path / f'{config}.py').write_text(text)
    for config in (name, pretrain):
        loaded = Config.fromfile(str(tmp_path / f'{config}.py'))
        assert prefix(loaded) == dict(img_path='/x/cyclegan', seg_map_path=seg)


@pytest.mark.parametrize('space, benchmark', [
    *[(s, 'gta5_to_cityscapes')
      for s in ('adamcu_ablation', 'adamcu_budget', 'adamcu_gamma', 'strategy_curve')],
    ('adamcu_ablation', 'synthia_to_cityscapes'),
])
@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_sweep_dry_run(space, benchmark):
    sweep_dry_run(space, benchmark)
