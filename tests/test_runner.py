"""A real mmengine Runner on SynthShift: train, validate with per-class IoU, checkpoint, resume,
then use the checkpoint with tools/test.py and mmseg.apis."""
import os
import subprocess
import sys

import numpy as np
import pytest
from mmengine.runner import Runner
from runner_utils import REPO, tiny_config


@pytest.fixture(scope='module')
def trained(tmp_path_factory, synthshift_root):
    work_dir = tmp_path_factory.mktemp('source_only')
    cfg = tiny_config('configs/source_only/synthshift.py', work_dir, synthshift_root, iters=6)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    return cfg, work_dir, metrics


def test_train_validates_with_per_class_iou(trained):
    _, work_dir, metrics = trained
    assert 0 <= metrics['mIoU'] <= 100
    assert 'IoU.traffic light' in metrics and 'IoU.road' in metrics
    assert os.path.isfile(work_dir / 'iter_6.pth') and os.path.isfile(work_dir / 'iter_3.pth')


def test_resume_continues_from_the_last_checkpoint(trained, tmp_path, synthshift_root):
    cfg, work_dir, _ = trained
    cfg = cfg.copy()
    cfg.train_cfg.max_iters = 8
    cfg.resume = True
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 8
    assert os.path.isfile(work_dir / 'iter_8.pth')


def test_checkpoint_works_with_mmseg_apis(trained, synthshift_root):
    from mmseg.apis import inference_model, init_model
    cfg, work_dir, _ = trained
    model = init_model(cfg, str(work_dir / 'iter_6.pth'), device='cpu')
    image = next((p for p in (os.path.join(root, f) for root, _, files in
                              os.walk(os.path.join(synthshift_root, 'target')) for f in files)
                  if p.endswith('_leftImg8bit.png')))
    result = inference_model(model, image)
    pred = result.pred_sem_seg.data.numpy()
    assert pred.shape == (1, 64, 128) and pred.max() < 19


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_tools_train_and_test_cli(tmp_path, synthshift_root):
    """The CLI docs/single-runs.md shows, with --cfg-options as in mmsegmentation."""
    ss = f'data_root={synthshift_root}'
    gen = 'generate.num_source=48 generate.num_target_train=24 generate.num_target_val=12'
    options = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
               'default_hooks.checkpoint.interval=2', 'train_dataloader.num_workers=0',
               'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
               'val_dataloader.persistent_workers=False']
    for key in ('train_dataloader.dataset', 'val_dataloader.dataset'):
        options += [f'{key}.{ss}'] + [f'{key}.{g}' for g in gen.split()]
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    out = subprocess.run([sys.executable, 'tools/train.py', 'configs/target_oracle/synthshift.py',
                          '--work-dir', str(tmp_path), '--cfg-options', *options],
                         cwd=REPO, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'per class results' in out.stdout + out.stderr
    out = subprocess.run([sys.executable, 'tools/test.py', 'configs/target_oracle/synthshift.py',
                          str(tmp_path / 'iter_2.pth'), '--work-dir', str(tmp_path / 'test'),
                          '--cfg-options', *[o for o in options if 'val_' in o or 'test' in o],
                          *[o.replace('val_dataloader', 'test_dataloader') for o in options
                            if o.startswith('val_dataloader')]],
                         cwd=REPO, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'mIoU' in out.stdout + out.stderr


def test_tools_train_rejects_a_missing_config(tmp_path):
    out = subprocess.run([sys.executable, 'tools/train.py', 'configs/nope.py'], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode != 0 and "config file 'configs/nope.py' does not exist" in out.stderr
