"""Tiny fake releases of GTA5, SYNTHIA-RAND-CITYSCAPES and Cityscapes in their official formats.

Each writer puts images AND raw labels under root and returns root. Raw label ids are
`fixture_ids(i, size, num_ids)`, so a test can recompute what any label file holds.
"""
import os

import cv2
import numpy as np
from PIL import Image

ROAD_RGB = (128, 64, 128)


def fixture_ids(i, size, num_ids):
    """Deterministic HxW id map for file number i: cycles through 0..num_ids-1, shifted by i."""
    h, w = size
    return ((np.arange(h * w).reshape(h, w) + i) % num_ids).astype(np.uint8)


def _write_rgb(path, size, seed):
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8), 'RGB').save(path)


def gta5_palette():
    """A 256-colour palette whose colours are NOT the Cityscapes colours (index 7 is not road)."""
    pal = [((17 * k) % 256, (101 * k + 50) % 256, (29 * k + 200) % 256) for k in range(256)]
    assert pal[7] != ROAD_RGB
    return [c for rgb in pal for c in rgb]


def write_gta5_release(root, n=3, size=(8, 10)):
    """ROOT/images/NNNNN.png + ROOT/labels/NNNNN.png ('P' PNG, palette index = label id 0..39)."""
    root = str(root)
    for i in range(1, n + 1):
        name = f'{i:05d}.png'
        _write_rgb(os.path.join(root, 'images', name), size, i)
        label = Image.fromarray(fixture_ids(i, size, 40), 'P')
        label.putpalette(gta5_palette())
        os.makedirs(os.path.join(root, 'labels'), exist_ok=True)
        label.save(os.path.join(root, 'labels', name))
    return root


def synthia_label(i, size):
    """HxWx3 uint16 RGB label: red = class id 0..24, green = instance id > 255,
    blue = a different valid-looking id (so reading the wrong channel is caught)."""
    red = fixture_ids(i, size, 25).astype(np.uint16)
    green = (1000 + 7 * np.arange(red.size).reshape(size) + i).astype(np.uint16)
    blue = (red + 5) % 23
    return np.stack([red, green, blue], axis=-1)


def write_synthia_release(root, n=3, size=(8, 10)):
    """ROOT/RGB/NNNNNNN.png + ROOT/GT/LABELS/NNNNNNN.png (16-bit RGB, class id in red)."""
    root = str(root)
    os.makedirs(os.path.join(root, 'GT', 'LABELS'), exist_ok=True)
    for i in range(n):
        name = f'{i:07d}.png'
        _write_rgb(os.path.join(root, 'RGB', name), size, i)
        path = os.path.join(root, 'GT', 'LABELS', name)
        rgb = synthia_label(i, size)
        assert cv2.imwrite(path, rgb[..., ::-1].copy())  # cv2 wants BGR
        assert np.array_equal(cv2.imread(path, cv2.IMREAD_UNCHANGED)[..., ::-1], rgb)
    return root


def cityscapes_name(city, j):
    return f'{city}_000000_{j:06d}'


def write_cityscapes_release(root, cities=None, n_per_city=2, size=(8, 10)):
    """ROOT/leftImg8bit/<split>/<city>/*_leftImg8bit.png and ROOT/gtFine/<split>/<city>/
    *_gtFine_{labelIds,color,instanceIds}.png; labelIds ('L') cycle through ids 0..34 shifted
    by the file's running index i (0, 1, ... over splits and cities in the given order)."""
    root = str(root)
    cities = cities or {'train': ['aachen', 'bochum'], 'val': ['frankfurt']}
    i = 0
    for split, names in cities.items():
        for city in names:
            for j in range(n_per_city):
                stem = cityscapes_name(city, j)
                _write_rgb(os.path.join(root, 'leftImg8bit', split, city,
                                        stem + '_leftImg8bit.png'), size, i)
                gt = os.path.join(root, 'gtFine', split, city, stem + '_gtFine_')
                os.makedirs(os.path.dirname(gt), exist_ok=True)
                ids = fixture_ids(i, size, 35)
                Image.fromarray(ids, 'L').save(gt + 'labelIds.png')
                Image.fromarray(np.zeros((*size, 3), np.uint8), 'RGB').save(gt + 'color.png')
                Image.fromarray(ids.astype(np.uint16) * 1000).save(gt + 'instanceIds.png')
                i += 1
    return root
