"""Tests of the SynthShift procedural generator (tiny sets, in tmp_path)."""
import json

import numpy as np
import pytest
from PIL import Image

from mmseg_ext.datasets import synthshift_generator as gen
from adasweep_base.classes import CITYSCAPES_CLASSES
from mmseg_ext.datasets.synthshift_generator import generate_synthshift, render_sample

SMALL = dict(num_source=12, num_target_train=6, num_target_val=4, progress=False)
VALID = set(range(19)) | {255}


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob('*') if p.is_file())


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    return generate_synthshift(tmp_path_factory.mktemp('ss') / 'root', seed=0, workers=1, **SMALL)


def test_layout_and_formats(small):
    files = _files(small)
    src_imgs = [f for f in files if f.startswith('source/images/')]
    src_labs = [f for f in files if f.startswith('source/labels/')]
    assert src_imgs == [f'source/images/{i:05d}.png' for i in range(1, 13)]
    assert src_labs == [f'source/labels/{i:05d}_labelTrainIds.png' for i in range(1, 13)]
    for split, n in (('train', 6), ('val', 4)):
        imgs = [f for f in files if f.startswith(f'target/leftImg8bit/{split}/')]
        labs = [f for f in files if f.startswith(f'target/gtFine/{split}/')]
        assert len(imgs) == len(labs) == n
        for img, lab in zip(imgs, labs):
            city, name = img.split('/')[-2:]
            assert name.startswith(f'{city}_000000_') and name.endswith('_leftImg8bit.png')
            assert lab == f'target/gtFine/{split}/{city}/' + name.replace('_leftImg8bit', '_gtFine_labelTrainIds')
    cities = {split: {f.split('/')[3] for f in files if f.startswith(f'target/leftImg8bit/{split}/')}
              for split in ('train', 'val')}
    assert 2 <= len(cities['train']) <= 3 and len(cities['val']) == 1
    assert not cities['train'] & cities['val']
    assert 'meta.json' in files
    for f in files:
        if f.endswith('.png'):
            im = Image.open(small / f)
            assert im.size == (128, 64)
            if 'label' in f:
                assert im.mode == 'L' and set(np.unique(np.asarray(im)).tolist()) <= VALID
            else:
                assert im.mode == 'RGB'


def test_deterministic_across_workers_and_seed_dependent(small, tmp_path):
    other = generate_synthshift(tmp_path / 'w2', seed=0, workers=2, **SMALL)
    assert _files(small) == _files(other)
    for f in _files(small):
        assert (small / f).read_bytes() == (other / f).read_bytes(), f
    diff = generate_synthshift(tmp_path / 's1', seed=1, workers=1, **SMALL)
    pngs = [f for f in _files(small) if f.endswith('.png')]
    assert sum((small / f).read_bytes() != (diff / f).read_bytes() for f in pngs) >= len(pngs) - 2


def test_idempotent_mismatch_and_no_leftovers(small):
    meta = small / 'meta.json'
    before = meta.stat().st_mtime_ns
    assert generate_synthshift(small, seed=0, workers=1, **SMALL) == small
    assert meta.stat().st_mtime_ns == before
    with pytest.raises(ValueError, match='generated with'):
        generate_synthshift(small, seed=1, workers=1, **SMALL)
    with pytest.raises(ValueError):
        generate_synthshift(small, seed=0, workers=1, **dict(SMALL, num_source=13))
    assert not list(small.parent.glob('*.tmp-*'))


def test_killed_generation_leaves_nothing(tmp_path, monkeypatch):
    real, calls = gen._work, []

    def flaky(task):  # dies (like Ctrl-C) in the middle of the generation
        calls.append(task)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(task)
    monkeypatch.setattr(gen, '_work', flaky)
    with pytest.raises(KeyboardInterrupt):
        generate_synthshift(tmp_path / 'root', workers=1, **SMALL)
    assert not (tmp_path / 'root').exists()
    assert not list(tmp_path.glob('*.tmp-*'))


def test_meta_frequencies_long_tailed(tmp_path):
    root = generate_synthshift(tmp_path / 'f', seed=3, num_source=36, num_target_train=36, num_target_val=4,
                               workers=1, progress=False)
    meta = json.loads((root / 'meta.json').read_text())
    assert meta['params'] == dict(version=gen.VERSION, seed=3, num_source=36, num_target_train=36,
                                  num_target_val=4, height=64, width=128)
    common = {'road', 'building', 'vegetation', 'sky', 'car', 'sidewalk'}
    for domain in ('source', 'target_train', 'target_val'):
        freq = meta['frequencies'][domain]
        assert set(freq) == set(CITYSCAPES_CLASSES)
        assert sum(freq.values()) == pytest.approx(1, abs=1e-3)
    for domain in ('source', 'target_train'):
        freq = meta['frequencies'][domain]
        top = sorted(freq, key=freq.get, reverse=True)
        assert set(top[:5]) <= common, top
        assert {'road', 'building', 'vegetation', 'car'} <= set(top[:6])
        assert all(freq[c] < .03 for c in ('rider', 'train', 'motorcycle', 'bicycle', 'traffic light'))
    assert meta['void_fraction']['target_train'] > 0


def test_domains_differ_in_colour_and_texture():
    def stats(split_id, cls):
        means, stds = [], []
        for i in range(8):
            img, lab = render_sample(0, split_id, i)
            px = img[lab == cls].astype(float)
            if len(px) > 20:
                means.append(px.mean(0))
                stds.append(px.std(0).mean())
        return np.mean(means, 0), np.median(stds)
    for cls, min_dist in ((0, 20), (2, 25), (8, 25), (10, 25), (13, 25)):
        (ms, ss), (mt, st) = stats(0, cls), stats(1, cls)
        assert np.linalg.norm(ms - mt) > min_dist, CITYSCAPES_CLASSES[cls]
    (_, road_src), (_, road_tgt) = stats(0, 0), stats(1, 0)
    assert road_src < 1 and road_tgt > 4  # flat source, textured/noisy target


def test_render_sample_shapes_other_size():
    img, lab = render_sample(5, 1, 0, height=96, width=160)
    assert img.shape == (96, 160, 3) and img.dtype == np.uint8
    assert lab.shape == (96, 160) and lab.dtype == np.uint8
    assert set(np.unique(lab).tolist()) <= VALID
