"""The ADeADA DeepLab-v3+ warm-ups train at their own batch of 1 per domain (issue 24: the ASPP
image-pooling BatchNorm crashed on the first iteration). The fix is D2ADA's freeze_bn: the
head's BatchNorm normalises with frozen statistics (FrozenStatsBN)."""
import pytest
import torch
from fixtures_official import (write_cityscapes_release, write_gta5_release,
                               write_synthia_release)
from mmengine.config import Config
from mmseg.registry import MODELS, RUNNERS
from runner_utils import REPO

from mmseg_ext.tools.convert_datasets import convert

SIZE = (32, 64)


def test_frozen_stats_bn_runs_at_batch_1_and_keeps_its_statistics():
    bn = MODELS.build(dict(type='FrozenStatsBN', num_features=4))
    bn.train()
    assert not bn.training
    x = torch.randn(1, 4, 1, 1)
    torch.testing.assert_close(bn(x), x / (1 + bn.eps) ** .5)
    assert torch.equal(bn.running_mean, torch.zeros(4))
    assert torch.equal(bn.running_var, torch.ones(4))
    assert set(bn.state_dict()) == set(torch.nn.BatchNorm2d(4).state_dict())


@pytest.mark.parametrize('benchmark', ['gta5_to_cityscapes', 'synthia_to_cityscapes'])
@pytest.mark.slow  # long for the default run (about 10 s or more)
def test_v3plus_warmup_trains_at_its_batch_of_one(tmp_path, benchmark):
    cfg = Config.fromfile(f'{REPO}/configs/adeada/{benchmark}/warmup_deeplabv3plus.py')
    assert cfg.train_dataloader.batch_size == 1
    assert cfg.model.decode_head.norm_cfg == dict(type='FrozenStatsBN', requires_grad=False)
    source_name = benchmark.split('_to_')[0]
    source = (write_gta5_release if source_name == 'gta5' else write_synthia_release)(
        tmp_path / source_name, n=2, size=SIZE)
    cityscapes = write_cityscapes_release(tmp_path / 'cityscapes', n_per_city=1, size=SIZE)
    convert(source_name, source, nproc=1)
    convert('cityscapes', cityscapes, num_classes=19 if source_name == 'gta5' else 16, nproc=1)
    train = cfg.train_dataloader.dataset
    train.source.data_root, train.target.data_root = source, cityscapes
    cfg.val_dataloader.dataset.data_root = cityscapes
    for pipeline in (train.source.pipeline, train.target.pipeline,
                     cfg.val_dataloader.dataset.pipeline):
        for t in pipeline:
            if t['type'] == 'Resize':
                t['scale'] = (SIZE[1], SIZE[0])
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.num_workers, loader.persistent_workers = 0, False
    cfg.model.backbone.init_cfg = None
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = 2
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint.interval = 2
    cfg.work_dir = str(tmp_path / 'work')
    runner = RUNNERS.build(cfg)
    pool_bn = runner.model.decode_head.image_pool[1].bn
    assert type(pool_bn).__name__ == 'FrozenStatsBN' and not pool_bn.weight.requires_grad
    runner.train()  # ae49e50: ValueError: Expected more than 1 value per channel when training
    assert runner.iter == 2
    assert torch.equal(pool_bn.running_mean, torch.zeros_like(pool_bn.running_mean))
