"""The real RIPU configs (DeepLab-v2 / v3+ ResNet-101, GTA5/SYNTHIA -> Cityscapes) build and run a
few iterations, with selection, on tiny fixture releases in the official layouts. Only sizes,
paths, lengths and the ImageNet initialisation (not downloadable here) are changed."""
import pytest
from fixtures_official import (write_cityscapes_release, write_gta5_release,
                               write_synthia_release)
from mmengine.config import Config
from mmseg.registry import RUNNERS
from runner_utils import REPO

from mmseg_ext.active.label_store import ActiveLabelStore
from mmseg_ext.tools.convert_datasets import convert
from sweeps.spaces.rows import RIPU_ROWS
from sweeps.config_knobs import apply_knobs

SIZE = (32, 64)  # (h, w) of the fixture images and labels


@pytest.fixture(scope='module')
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp('real')
    gta5 = write_gta5_release(root / 'gta5', n=4, size=SIZE)
    synthia = write_synthia_release(root / 'synthia', n=4, size=SIZE)
    cityscapes = write_cityscapes_release(root / 'cityscapes', n_per_city=2, size=SIZE)
    convert('gta5', gta5, nproc=1)
    convert('synthia', synthia, nproc=1)
    convert('cityscapes', cityscapes, nproc=1)
    convert('cityscapes', cityscapes, num_classes=16, nproc=1)
    return dict(gta5=gta5, synthia=synthia, cityscapes=cityscapes)


def _shrink(cfg, source_root, cityscapes_root, work_dir):
    train = cfg.train_dataloader.dataset
    train.source.data_root, train.target.data_root = source_root, cityscapes_root
    cfg.val_dataloader.dataset.data_root = cityscapes_root
    for pipeline in (train.source.pipeline, train.target.pipeline,
                     cfg.val_dataloader.dataset.pipeline,
                     cfg.custom_hooks[0].get('pool_pipeline') or []):
        for t in pipeline:
            if t['type'] == 'Resize':
                t['scale'] = (SIZE[1], SIZE[0])
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.num_workers, loader.persistent_workers = 0, False
    cfg.model.backbone.init_cfg = None
    cfg.train_cfg.max_iters, cfg.train_cfg.val_interval = 3, 3
    cfg.custom_hooks[0].select_iters = [1, 2]
    cfg.default_hooks.checkpoint.interval = 3
    cfg.work_dir = str(work_dir)
    return cfg


@pytest.mark.parametrize('benchmark, config', [
    ('gta5_to_cityscapes', 'ripu_ra'),
    ('gta5_to_cityscapes', 'ripu_pa'),
    ('synthia_to_cityscapes', 'ripu_ra_v3plus'),
])
@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_real_config_runs_on_official_layout_fixtures(tmp_path, releases, benchmark, config):
    if config == 'ripu_ra_v3plus':
        cfg = Config.fromfile(f'{REPO}/configs/ripu/{benchmark}/{config}.py')
    else:  # the anchor with the row (sweeps/spaces/rows.py)
        cfg = Config.fromfile(f'{REPO}/configs/ripu/{benchmark}.py')
        apply_knobs(cfg, RIPU_ROWS[config].knobs_for(benchmark))
    source = releases['gta5'] if benchmark.startswith('gta5') else releases['synthia']
    cfg = _shrink(cfg, source, releases['cityscapes'], tmp_path)
    if config == 'ripu_pa':  # 40 px at 1280x640 scaled to a 32x64 label map; k fits the image
        cfg.custom_hooks[0].strategy['k'] = 2
    runner = RUNNERS.build(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    assert 'mIoU' in metrics and ('mIoU13' in metrics) == benchmark.startswith('synthia')
    store = ActiveLabelStore(tmp_path / 'active_labels')
    assert [r['iteration'] for r in store.rounds()] == [1, 2]
    assert sum(r['pixels'] for r in store.ledger()) > 0
