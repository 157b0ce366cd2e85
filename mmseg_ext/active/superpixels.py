"""SLIC superpixels per image, computed once and cached on disk (ADeADA's regions).

The reference (D2ADA) computes `fast_slic.Slic(num_components=40, compactness=10)` offline on
the raw RGB image at native resolution and stores one PNG per image mirroring the image path.
`SuperpixelCache(root, n_segments=40, compactness=10.0)` does the same with scikit-image's SLIC
(`segments.slic_segments`; fast_slic is not on PyPI for Python 3.11):

    cache = SuperpixelCache('data/synthshift/superpixel')
    ids = cache.get(img_path, rel)     # (H, W) long, ids 0..S-1, computed on first use
    cache.build([(img_path, rel), ...], workers=2)   # all of them up front, in parallel

Ids are stored as 16-bit PNGs `<root>/<rel>.png` (written atomically); `<root>/params.json`
records the SLIC parameters. A cache made with other parameters, or holding a map whose size
is not the image's, is refused with a one-line error instead of being used. SLIC returns about
`n_segments` ids, not exactly that many (the reference's code assumes exactly 40).
"""
import json
import os
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .label_store import _atomic_write
from .segments import slic_segments


class SuperpixelCache:

    def __init__(self, root, n_segments=40, compactness=10.0):
        if not isinstance(n_segments, int) or isinstance(n_segments, bool) or n_segments < 1:
            raise ValueError(f'n_segments must be an int >= 1, got {n_segments!r}')
        if not compactness > 0:
            raise ValueError(f'compactness must be > 0, got {compactness!r}')
        self.root = Path(root)
        self.params = dict(method='skimage.slic', n_segments=n_segments,
                           compactness=float(compactness))
        meta = self.root / 'params.json'
        if meta.is_file():
            made = json.loads(meta.read_text())
            if made != self.params:
                raise ValueError(f'superpixel cache {self.root} was made with {made}, not '
                                 f'{self.params}: use another root')
        else:
            _atomic_write(meta, lambda tmp: Path(tmp).write_text(json.dumps(self.params)))

    def path(self, rel):
        return self.root / f'{os.path.splitext(str(rel))[0]}.png'

    def get(self, img_path, rel):
        """(H, W) long superpixel ids of the image at img_path, cached as `path(rel)`."""
        width, height = Image.open(img_path).size
        path = self.path(rel)
        if path.is_file():
            ids = np.array(Image.open(path))
            if ids.shape != (height, width):
                raise ValueError(f'superpixel map {path} is {ids.shape[0]}x{ids.shape[1]} but '
                                 f'image {img_path} is {height}x{width}: delete the cache')
            return torch.from_numpy(ids.astype(np.int64))
        image = np.array(Image.open(img_path).convert('RGB'))
        ids = slic_segments(image, self.params['n_segments'], self.params['compactness'])
        if int(ids.max()) >= 1 << 16:
            raise ValueError(f'{img_path}: {int(ids.max()) + 1} superpixels do not fit 16 bits')
        _atomic_write(path, lambda tmp: Image.fromarray(ids.numpy().astype(np.uint16)).save(
            tmp, format='PNG'))
        return ids

    def build(self, items, workers=None):
        """Compute the maps of [(img_path, rel)] that are not cached yet; returns their count."""
        todo = [(str(img), str(rel)) for img, rel in items if not self.path(rel).is_file()]
        workers = min(2, os.cpu_count() or 1) if workers is None else workers
        if workers > 1 and len(todo) > 1:
            with Pool(workers) as pool:
                pool.starmap(self._compute, todo, chunksize=8)
        else:
            for img, rel in todo:
                self._compute(img, rel)
        return len(todo)

    def _compute(self, img_path, rel):
        self.get(img_path, rel)
