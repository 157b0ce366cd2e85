"""The full-size synthetic release (mmseg_ext.tools.make_release): official layouts at the real
sizes, raw labels that the converter turns back into the generator's train ids, the datasets
of the real configs read it, and bad input is refused with one line and nothing written."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from runner_utils import REPO

from adasweep_base.classes import (CITYSCAPES_CLASSES, IGNORE_INDEX, SYNTHIA16_CLASSES,
                                        SYNTHIA_ID_TO_TRAINID_19)
from mmseg_ext.datasets.synthshift_generator import render_sample
from mmseg_ext.tools.make_release import (SYNTHIA_INDEX_OFFSET, ReleaseError, make_release,
                                          plan)


@pytest.fixture(scope='module')
def release(tmp_path_factory):
    return make_release(tmp_path_factory.mktemp('rel') / 'release', images=1, val_images=1,
                        workers=1)


def _train_ids(path):
    return np.array(Image.open(path))


def test_layouts_sizes_and_labels_round_trip(release):
    root = str(release)
    gta = f'{root}/gta5/labels/00001'
    assert Image.open(f'{root}/gta5/images/00001.png').size == (1914, 1052)
    assert Image.open(gta + '.png').mode == 'P'
    img, lab = render_sample(0, 0, 0, 1052, 1914)
    assert np.array_equal(np.array(Image.open(f'{root}/gta5/images/00001.png')), img)
    assert np.array_equal(_train_ids(gta + '_labelTrainIds.png'), lab)

    assert Image.open(f'{root}/synthia/RGB/0000000.png').size == (1280, 760)
    _, lab = render_sample(0, 0, SYNTHIA_INDEX_OFFSET, 760, 1280)
    to16 = np.full(256, IGNORE_INDEX, np.uint8)
    for c in SYNTHIA16_CLASSES:
        to16[CITYSCAPES_CLASSES.index(c)] = SYNTHIA16_CLASSES.index(c)
    assert np.array_equal(_train_ids(f'{root}/synthia/GT/LABELS/0000000_labelTrainIds.png'),
                          to16[lab])
    import cv2
    red = cv2.imread(f'{root}/synthia/GT/LABELS/0000000.png', cv2.IMREAD_UNCHANGED)[..., 2]
    assert red.dtype == np.uint16
    for sid, train in SYNTHIA_ID_TO_TRAINID_19.items():  # SYNTHIA's own class ids in red
        assert np.all(red[lab == train] == sid)
    assert np.all(red[lab == CITYSCAPES_CLASSES.index('terrain')] == 16)

    for split, sid, city in (('train', 1, 'synthville'), ('val', 2, 'valdorf')):
        stem = f'{root}/cityscapes/gtFine/{split}/{city}/{city}_000000_000000_gtFine_'
        img_path = (f'{root}/cityscapes/leftImg8bit/{split}/{city}/'
                    f'{city}_000000_000000_leftImg8bit.png')
        assert Image.open(img_path).size == (2048, 1024)
        _, lab = render_sample(0, sid, 0, 1024, 2048)
        assert np.array_equal(_train_ids(stem + 'labelTrainIds.png'), lab)
        assert np.array_equal(_train_ids(stem + 'labelTrainIds16.png'), to16[lab])
        raw = _train_ids(stem + 'labelIds.png')
        assert np.all(raw[lab == IGNORE_INDEX] == 1)  # SynthShift's ego bonnet: ego vehicle
    params = json.loads((release / 'release.json').read_text())['params']
    assert params['images'] == 1 and params['datasets'] == ['cityscapes', 'gta5', 'synthia']


def test_real_dataset_classes_read_it(release):
    from mmseg.registry import DATASETS
    for cfg in (dict(type='GTA5Dataset', data_root=f'{release}/gta5'),
                dict(type='SynthiaDataset', data_root=f'{release}/synthia'),
                dict(type='CityscapesTrainIdDataset', data_root=f'{release}/cityscapes',
                     data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train')),
                dict(type='Cityscapes16Dataset', data_root=f'{release}/cityscapes',
                     data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'))):
        assert len(DATASETS.build(dict(cfg, pipeline=[]))) == 1


def test_same_parameters_is_a_no_op_other_parameters_refused(release):
    before = (release / 'release.json').stat().st_mtime_ns
    assert make_release(release, images=1, val_images=1, workers=1) == release
    assert (release / 'release.json').stat().st_mtime_ns == before
    with pytest.raises(ReleaseError, match='made with'):
        make_release(release, images=2, workers=1)


def test_plan_counts():
    jobs = plan(images=3, val_images=2)
    assert [j[0] for j in jobs].count('gta5') == 3
    assert [j[0] for j in jobs].count('cityscapes') == 5
    assert len({j[4] for j in jobs}) == len(jobs)


@pytest.mark.parametrize('args, message', [
    (['--images', '0'], 'images=0'),
    (['--datasets', 'kitti'], "datasets ['kitti']"),
])
def test_bad_input_one_error_line_nothing_written(tmp_path, args, message):
    out = tmp_path / 'rel'
    done = subprocess.run([sys.executable, '-m', 'mmseg_ext.tools.make_release', '--out',
                           str(out), *args], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and message in lines[0]
    assert list(tmp_path.iterdir()) == []
