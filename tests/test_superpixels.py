"""SuperpixelCache: SLIC maps computed once, reused from disk, wrong caches refused."""
import numpy as np
import pytest
import torch
from PIL import Image

from mmseg_ext.active.units import SuperpixelCache, slic_segments


def _image(path, h=48, w=80, seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2] = (200, 30, 30)
    img[h // 2:, w // 2:] = (20, 180, 40)
    img = np.clip(img + rng.integers(0, 20, img.shape), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return img


def test_computed_once_then_read_back(tmp_path):
    img = _image(tmp_path / 'img' / 'city' / 'a_leftImg8bit.png')
    cache = SuperpixelCache(tmp_path / 'sp', n_segments=12, compactness=10.0)
    rel = 'city/a_leftImg8bit.png'
    ids = cache.get(tmp_path / 'img' / rel, rel)
    assert ids.shape == (48, 80) and ids.dtype == torch.long
    assert torch.equal(ids, slic_segments(img, 12, 10.0))
    assert cache.path(rel).is_file()
    # the second call reads the file: overwrite it and see the stored map come back
    marker = np.full((48, 80), 7, np.uint16)
    Image.fromarray(marker).save(cache.path(rel))
    assert torch.equal(cache.get(tmp_path / 'img' / rel, rel), torch.full((48, 80), 7))


def test_build_fills_the_cache_in_parallel(tmp_path):
    items = []
    for i in range(4):
        rel = f'c/{i}.png'
        _image(tmp_path / 'img' / rel, seed=i)
        items.append((tmp_path / 'img' / rel, rel))
    cache = SuperpixelCache(tmp_path / 'sp', n_segments=10)
    assert cache.build(items, workers=2) == 4
    assert all(cache.path(rel).is_file() for _, rel in items)
    assert cache.build(items, workers=2) == 0  # nothing left to do


def test_other_parameters_or_sizes_are_refused(tmp_path):
    rel = 'a.png'
    _image(tmp_path / 'img' / rel)
    SuperpixelCache(tmp_path / 'sp', n_segments=12).get(tmp_path / 'img' / rel, rel)
    with pytest.raises(ValueError, match='was made with'):
        SuperpixelCache(tmp_path / 'sp', n_segments=40)
    _image(tmp_path / 'img' / rel, h=40, w=80)  # the image changed size since
    with pytest.raises(ValueError, match='is 48x80 but image .* is 40x80'):
        SuperpixelCache(tmp_path / 'sp', n_segments=12).get(tmp_path / 'img' / rel, rel)
    with pytest.raises(ValueError, match='n_segments'):
        SuperpixelCache(tmp_path / 'sp2', n_segments=0)
