"""Datasets on small fixtures in the official layouts, their one-line errors, TwoDomainDataset."""
import os

import numpy as np
import pytest
from PIL import Image

import mmseg_ext  # noqa: F401
from fixtures_official import (write_cityscapes_release, write_gta5_release,
                               write_synthia_release)
from mmseg.registry import DATASETS
from mmseg_ext.datasets import DatasetError, TwoDomainDataset
from adasweep_base.classes import SYNTHIA16_CLASSES
from mmseg_ext.tools.convert_datasets import convert

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='PackSegInputs')]


@pytest.fixture(scope='module')
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp('releases')
    gta5 = write_gta5_release(root / 'gta5', n=4, size=(8, 10))
    synthia = write_synthia_release(root / 'synthia', n=3, size=(8, 10))
    cityscapes = write_cityscapes_release(root / 'cityscapes', n_per_city=2, size=(8, 10))
    convert('gta5', gta5, nproc=1)
    convert('synthia', synthia, nproc=1)
    convert('cityscapes', cityscapes, nproc=1)
    convert('cityscapes', cityscapes, num_classes=16, nproc=1)
    return dict(gta5=gta5, synthia=synthia, cityscapes=cityscapes)


def _build(**cfg):
    return DATASETS.build(dict(pipeline=PIPELINE, **cfg))


def test_official_layouts_load(releases):
    gta5 = _build(type='GTA5Dataset', data_root=releases['gta5'])
    synthia = _build(type='SynthiaDataset', data_root=releases['synthia'])
    cs = _build(type='CityscapesTrainIdDataset', data_root=releases['cityscapes'],
                data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'))
    cs16 = _build(type='Cityscapes16Dataset', data_root=releases['cityscapes'],
                  data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'))
    assert (len(gta5), len(synthia), len(cs), len(cs16)) == (4, 3, 4, 2)
    assert tuple(synthia.metainfo['classes']) == SYNTHIA16_CLASSES
    assert tuple(cs16.metainfo['classes']) == SYNTHIA16_CLASSES
    for ds in (gta5, synthia, cs, cs16):
        sample = ds[0]
        assert sample['inputs'].shape == (3, 8, 10)
        label = sample['data_samples'].gt_sem_seg.data
        assert label.shape == (1, 8, 10)
        assert set(label.unique().tolist()) <= set(range(len(ds.metainfo['classes']))) | {255}


def test_synthia_19_class_variant(tmp_path):
    root = write_synthia_release(tmp_path / 'synthia', n=2, size=(6, 6))
    convert('synthia', root, num_classes=19, nproc=1)
    ds = _build(type='SynthiaDataset', num_classes=19, data_root=root)
    assert len(ds.metainfo['classes']) == 19
    with pytest.raises(DatasetError, match='num_classes=17'):
        _build(type='SynthiaDataset', num_classes=17, data_root=root)


def test_missing_root_is_a_one_line_error(tmp_path):
    with pytest.raises(DatasetError, match=r"data root .*nope.* does not exist") as err:
        _build(type='GTA5Dataset', data_root=str(tmp_path / 'nope'))
    assert '\n' not in str(err.value)


def test_image_without_label_is_named(tmp_path):
    root = write_gta5_release(tmp_path / 'gta5', n=2, size=(6, 6))  # not converted
    with pytest.raises(DatasetError, match=r"00001\.png.*has no label file.*convert_datasets"):
        _build(type='GTA5Dataset', data_root=root)


def test_label_out_of_range_is_named(tmp_path):
    root = write_gta5_release(tmp_path / 'gta5', n=1, size=(6, 6))
    Image.fromarray(np.full((6, 6), 40, np.uint8)).save(
        os.path.join(root, 'labels', '00001_labelTrainIds.png'))
    ds = _build(type='GTA5Dataset', data_root=root)
    with pytest.raises(DatasetError, match=r"00001_labelTrainIds\.png.*values \[40\] outside 0\.\.18"):
        ds[0]


def test_two_domain_dataset_is_deterministic(releases):
    def make(seed):
        return TwoDomainDataset(
            source=dict(type='GTA5Dataset', data_root=releases['gta5'], pipeline=PIPELINE),
            target=dict(type='CityscapesTrainIdDataset', data_root=releases['cityscapes'],
                        data_prefix=dict(img_path='leftImg8bit/train',
                                         seg_map_path='gtFine/train'),
                        pipeline=PIPELINE), seed=seed)

    def draws(ds):
        return [ds[i % len(ds)]['target_data_samples'].img_path for i in range(24)]

    a, b, c = make(0), make(0), make(1)
    assert len(a) == 4 and a.metainfo['classes'] == a.source.metainfo['classes']
    first = draws(a)
    assert first == draws(b)
    assert first != draws(c)
    assert len(set(first)) > 1  # the target varies across visits of the same source index
    item = a[0]
    assert set(item) == {'inputs', 'data_samples', 'target_inputs', 'target_data_samples'}


def test_two_domain_class_mismatch(releases):
    with pytest.raises(DatasetError, match='source classes .* differ from target classes'):
        TwoDomainDataset(
            source=dict(type='GTA5Dataset', data_root=releases['gta5'], pipeline=PIPELINE),
            target=dict(type='Cityscapes16Dataset', data_root=releases['cityscapes'],
                        data_prefix=dict(img_path='leftImg8bit/train',
                                         seg_map_path='gtFine/train'), pipeline=PIPELINE))
