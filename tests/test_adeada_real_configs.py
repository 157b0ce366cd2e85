"""The ADeADA (D2ADA) protocol configs of the real benchmarks (GTA5/SYNTHIA -> Cityscapes,
DeepLab-v3+ and the 256-d DeepLab-v2) and the rows on them (sweeps/spaces/rows.py ADEADA_ROWS):
they load, their selection hooks build and fit the schedule, the models build (no ImageNet weights), the lr restarts every round, and the sweeps
that use them build every trial config (--dry-run)."""
import os.path as osp

import pytest
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from runner_utils import REPO, sweep_dry_run

from sweeps.spaces.rows import ADEADA_ROWS
from sweeps.config_knobs import apply_knobs

import mmseg_ext  # noqa: F401
from mmseg.registry import HOOKS, MODELS, PARAM_SCHEDULERS

BENCHMARKS = ('gta5_to_cityscapes', 'synthia_to_cityscapes')
STRATEGIES = {'rand': 'Pool-RAND', 'ent': 'Pool-ENT', 'conf': 'Pool-CONF', 'mar': 'Pool-MAR',
              'badge': 'BADGE', 'redal': 'ReDAL', 'aada': 'AADA', 'clue': 'CLUE'}
CONFIGS = ('adeada', 'adeada_deeplabv2', *STRATEGIES, 'ripu_ra')
ALPHA = {'gta5_to_cityscapes': 1.0, 'synthia_to_cityscapes': 0.5}
NUM_CLASSES = {'gta5_to_cityscapes': 19, 'synthia_to_cityscapes': 16}
ROUND_ITERS = 120000
SELECT_ITERS = [0, 120000, 240000, 360000, 480000]
BASE_LR = 2.5e-4


def _load(benchmark, name):
    """configs/adeada/<benchmark>.py with the row `name`, or the DeepLab-v2 config."""
    if name == 'adeada_deeplabv2':
        return Config.fromfile(osp.join(REPO, 'configs', 'adeada', benchmark, f'{name}.py'))
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'adeada', f'{benchmark}.py'))
    apply_knobs(cfg, ADEADA_ROWS[name].knobs_for(benchmark))
    return cfg


@pytest.mark.parametrize('benchmark', BENCHMARKS)
@pytest.mark.parametrize('name', CONFIGS)
def test_config_loads_and_hook_fits_schedule(benchmark, name):
    cfg = _load(benchmark, name)
    assert cfg.runner_type == 'ActiveRunner'
    assert cfg.load_from is None
    assert osp.isfile(osp.join(REPO, cfg.warmup_config))
    arch = 'deeplabv2' if name == 'adeada_deeplabv2' else 'deeplabv3plus'
    assert cfg.warmup_config == f'configs/adeada/{benchmark}/warmup_{arch}.py'
    assert cfg.train_dataloader.dataset.target.active_label_dir == 'active_labels'
    assert cfg.model.decode_head.num_classes == NUM_CLASSES[benchmark]
    assert cfg.train_cfg.max_iters == 5 * ROUND_ITERS == cfg.train_cfg.val_interval
    assert cfg.default_hooks.checkpoint.interval == ROUND_ITERS
    hooks = [h for h in cfg.custom_hooks
             if h['type'] in ('RegionSelectionHook', 'ActiveSelectionHook')]
    assert len(hooks) == 1
    hook = hooks[0]
    assert hook['select_iters'] == SELECT_ITERS
    assert hook['budget'] == dict(ratio=0.05) and hook['select_before_update'] is True
    if name == 'ripu_ra':
        assert hook['type'] == 'ActiveSelectionHook'
        assert hook['strategy'] == dict(type='RIPU-RA', k=1)
    else:
        assert hook['type'] == 'RegionSelectionHook'
        assert hook['region'] == dict(type='superpixel', n_segments=40, compactness=10.0)
        if name.startswith('adeada'):
            assert hook['strategy']['type'] == 'ADeADA'
            assert hook['strategy']['alpha'] == ALPHA[benchmark]
            assert hook['strategy']['beta'] == 1.0
            # 16-way head on SYNTHIA: terrain/truck/train do not exist, nothing to ignore
            assert tuple(hook['strategy'].get('ignore_classes', ())) == ()
        else:
            assert hook['strategy'] == dict(type=STRATEGIES[name])
    # scored at the training input size (the dataset config's Resize), no labels loaded
    pool = [t['type'] for t in hook['pool_pipeline']]
    assert pool == ['LoadImageFromFile', 'Resize', 'PackSegInputs']
    built = HOOKS.build(dict(hook))
    assert built.select_iters == SELECT_ITERS
    built.check_schedule(cfg.train_cfg.max_iters)
    if name.startswith('adeada'):
        assert built.strategy.options['alpha'] == ALPHA[benchmark]


@pytest.mark.parametrize('benchmark', BENCHMARKS)
@pytest.mark.parametrize('name', ('adeada', 'adeada_deeplabv2'))
def test_models_build(benchmark, name):
    cfg = _load(benchmark, name)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    head = model.decode_head
    assert head.conv_seg.out_channels == NUM_CLASSES[benchmark]
    if name == 'adeada_deeplabv2':
        assert type(head).__name__ == 'DeepLabV2Head' and head.feature_channels == 256
        assert head.conv_seg.in_channels == 256
        assert all(conv.out_channels == 256 for conv in head.aspp)
    else:
        assert type(head).__name__ == 'DepthwiseSeparableASPPHead'
        assert head.conv_seg.in_channels == 256  # D2ADA's 256-d region features


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Conv2d(3, 4, 1)
        self.decode_head = nn.Conv2d(4, 2, 1)


@pytest.mark.parametrize('benchmark', BENCHMARKS)
def test_lr_restarts_every_round(benchmark):
    cfg = _load(benchmark, 'adeada')
    wrapper = build_optim_wrapper(_Tiny(), cfg.optim_wrapper)
    optimizer = wrapper.optimizer
    assert type(optimizer).__name__ == 'SGD'
    assert optimizer.defaults['momentum'] == 0.9 and optimizer.defaults['weight_decay'] == 5e-4
    (sched_cfg, ) = cfg.param_scheduler
    assert sched_cfg['type'] == 'RoundPolyLR' and sched_cfg['period'] == ROUND_ITERS
    sched = PARAM_SCHEDULERS.build(dict(sched_cfg, optimizer=optimizer))
    bases = [g['initial_lr'] for g in optimizer.param_groups]
    assert sorted(set(bases)) == [BASE_LR, BASE_LR * 10]  # backbone, head x10

    def lr_at(it):  # the lr of iteration `it`: the scheduler stepped `it` times after building
        sched.last_step = sched._global_step = it - 1
        sched.step()
        return [g['lr'] for g in optimizer.param_groups]

    assert [g['lr'] for g in optimizer.param_groups] == pytest.approx(bases)  # iteration 0
    for r in range(1, 5):
        start = r * ROUND_ITERS
        assert lr_at(start) == pytest.approx(bases, rel=1e-12)  # restarted
        end = lr_at(start - 1)  # the round's last update: near the 1e-6 floor
        assert all(1e-6 <= lr < 1.1e-6 for lr in end)
        half = lr_at(start - ROUND_ITERS // 2)
        assert half == pytest.approx([(b - 1e-6) * 0.5 ** 0.9 + 1e-6 for b in bases])


@pytest.mark.parametrize('space, benchmark', [
    ('strategy_curve', 'gta5_to_cityscapes'),
    ('strategy_curve', 'synthia_to_cityscapes'),
    ('adeada_ablation', 'gta5_to_cityscapes'),
])
@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_sweep_dry_run(space, benchmark):
    sweep_dry_run(space, benchmark)
