"""Write a full-size synthetic GTA5 / SYNTHIA / Cityscapes release, in the official layouts.

  python -m mmseg_ext.tools.make_release --out DIR [--images N] [--val-images M]
         [--datasets gta5 synthia cityscapes] [--seed S] [--workers W] [--scale S]

DIR/gta5, DIR/synthia and DIR/cityscapes hold N images each (Cityscapes: N train + M val) at the
real sizes (GTA5 1914x1052, SYNTHIA-RAND-CITYSCAPES 1280x760, Cityscapes 2048x1024), drawn by
SynthShift's scene generator (mmseg_ext/datasets/synthshift_generator.py) at that size: the
source domains rendered flat as SynthShift's source, Cityscapes as its target. Raw labels are
written as the releases ship them, then converted with `convert_datasets` as for real data:

  gta5/images/NNNNN.png, gta5/labels/NNNNN.png ('P' PNG, palette index = Cityscapes label id)
  synthia/RGB/NNNNNNN.png, synthia/GT/LABELS/NNNNNNN.png (16-bit RGB, SYNTHIA class id in red;
      terrain, truck and train carry their SYNTHIA ids 16/18/20, dropped by the 16-class protocol)
  cityscapes/{leftImg8bit,gtFine}/{train,val}/<city>/<city>_000000_NNNNNN_{leftImg8bit,
      gtFine_labelIds}.png (ego vehicle = id 1; no color / instanceIds files)

plus the converter's outputs (*_labelTrainIds.png, Cityscapes also *_labelTrainIds16.png for
SYNTHIA -> Cityscapes, class statistics). So `sweeps/run.py --benchmark gta5_to_cityscapes
--data-root DIR` and the real configs run on it without any download: the way to test a GPU or
cluster set-up before fetching 60 GB. The pictures are SynthShift scenes, not GTA5 or Cityscapes:
numbers trained on them say nothing about the real benchmarks, only about cost and plumbing.

Image i is drawn from np.random.default_rng([seed, split, i]) (SynthShift's keys: GTA5 split 0,
Cityscapes train 1 / val 2; SYNTHIA split 0 at indices from 10**6), so the files do not depend on
`--workers`. DIR is written as DIR.tmp-<pid> and renamed at the end; DIR/release.json records the
parameters. An existing DIR made with the same parameters is kept as it is; any other existing
DIR is refused.
"""
import argparse
import json
import os
import shutil
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from adasweep_base.classes import (CITYSCAPES_CLASSES, CITYSCAPES_ID_TO_TRAINID_19,
                                CITYSCAPES_PALETTE, IGNORE_INDEX,
                                SYNTHIA_ID_TO_TRAINID_19)
from ..datasets.synthshift_generator import TRAIN_CITIES, VAL_CITY, render_sample
from adasweep_base.fileio import fsync_dir, fsync_tree
from .convert_datasets import ConversionError, convert

VERSION = 1
DATASETS = ('gta5', 'synthia', 'cityscapes')
SIZES = {'gta5': (1052, 1914), 'synthia': (760, 1280), 'cityscapes': (1024, 2048)}  # (h, w)
SYNTHIA_INDEX_OFFSET = 10 ** 6
# Cityscapes label ids of the void pixels SynthShift draws (its ego-vehicle bonnet)
CITYSCAPES_EGO_VEHICLE, UNLABELED = 1, 0
# SYNTHIA ids of the three Cityscapes classes outside the 16-class protocol
SYNTHIA_EXTRA = {'terrain': 16, 'truck': 18, 'train': 20}


class ReleaseError(ValueError):
    """An output folder that cannot be written, or bad arguments."""


def _inverse(mapping, fill, extra=()):
    """uint16 lookup table train id -> raw id: the inverse of `mapping` (raw id -> train id)."""
    lut = np.full(256, fill, np.uint16)
    for raw, train in mapping.items():
        lut[train] = raw
    for train, raw in extra:
        lut[train] = raw
    return lut


LUTS = {'gta5': _inverse(CITYSCAPES_ID_TO_TRAINID_19, UNLABELED),
        'cityscapes': _inverse(CITYSCAPES_ID_TO_TRAINID_19, UNLABELED),
        'synthia': _inverse(SYNTHIA_ID_TO_TRAINID_19, 0, [(CITYSCAPES_CLASSES.index(c), i)
                                                          for c, i in SYNTHIA_EXTRA.items()])}
LUTS['cityscapes'][IGNORE_INDEX] = CITYSCAPES_EGO_VEHICLE


def gta5_label_palette():
    """GTA5's label palette: Cityscapes label id -> its Cityscapes colour, black elsewhere."""
    pal = np.zeros((256, 3), np.uint8)
    for raw, train in CITYSCAPES_ID_TO_TRAINID_19.items():
        pal[raw] = CITYSCAPES_PALETTE[train]
    return pal.ravel().tolist()


def plan(images=4, val_images=None, datasets=DATASETS):
    """[(dataset, split, index, image path, raw label path)] relative to the release root."""
    val_images = images if val_images is None else val_images
    jobs = []
    if 'gta5' in datasets:
        jobs += [('gta5', 0, i, f'gta5/images/{i + 1:05d}.png', f'gta5/labels/{i + 1:05d}.png')
                 for i in range(images)]
    if 'synthia' in datasets:
        jobs += [('synthia', 0, i, f'synthia/RGB/{i:07d}.png', f'synthia/GT/LABELS/{i:07d}.png')
                 for i in range(images)]
    if 'cityscapes' in datasets:
        for split, sid, n in (('train', 1, images), ('val', 2, val_images)):
            for i in range(n):
                city = TRAIN_CITIES[i * len(TRAIN_CITIES) // n] if split == 'train' else VAL_CITY
                stem = f'{split}/{city}/{city}_000000_{i:06d}'
                jobs.append(('cityscapes', sid, i, f'cityscapes/leftImg8bit/{stem}_leftImg8bit.png',
                             f'cityscapes/gtFine/{stem}_gtFine_labelIds.png'))
    return jobs


def _write(task):
    """Render one scene at its dataset's size and write its image and raw label."""
    root, seed, scale, (dataset, split, index, image_rel, label_rel) = task
    h, w = scaled_size(dataset, scale)
    key = index + (SYNTHIA_INDEX_OFFSET if dataset == 'synthia' else 0)
    img, train_ids = render_sample(seed, split, key, h, w)
    raw = LUTS[dataset][train_ids]
    image_path, label_path = os.path.join(root, image_rel), os.path.join(root, label_rel)
    if not cv2.imwrite(image_path, img[..., ::-1]):
        raise OSError(f'cannot write {image_path}')
    if dataset == 'gta5':
        label = Image.fromarray(raw.astype(np.uint8), 'P')
        label.putpalette(gta5_label_palette())
        label.save(label_path, compress_level=1)
    elif dataset == 'synthia':  # 16-bit RGB, class id in red (cv2 writes BGR)
        zeros = np.zeros_like(raw)
        ok = cv2.imwrite(label_path, np.stack([zeros, zeros, raw], axis=-1))
        if not ok:
            raise OSError(f'cannot write {label_path}')
    else:
        if not cv2.imwrite(label_path, raw.astype(np.uint8)):
            raise OSError(f'cannot write {label_path}')
    return dataset


def scaled_size(dataset, scale=1.0):
    """(h, w) of `dataset`'s images at `scale` (1: the real size)."""
    return tuple(max(8, round(n * scale)) for n in SIZES[dataset])


def _params(images, val_images, datasets, seed, scale):
    return dict(version=VERSION, images=images, val_images=images if val_images is None
                else val_images, datasets=sorted(datasets), seed=seed,
                sizes={d: list(scaled_size(d, scale)) for d in sorted(datasets)})


def make_release(out, images=4, val_images=None, datasets=DATASETS, seed=0, workers=None,
                 log=None, scale=1.0):
    """Write the release under `out` (see the module docstring) unless it is there with the same
    parameters; returns `out` as a Path. `workers`: processes (default: cpu count; 0/1 in
    process). `log(str)`: progress lines. `scale` < 1: every size scaled down (quick CPU tests,
    e.g. benchmarks/gpu_check.py --tiny; not a real-size release)."""
    out = Path(out)
    datasets = tuple(datasets)
    bad = [d for d in datasets if d not in DATASETS]
    if bad or not datasets:
        raise ReleaseError(f'datasets {list(datasets)}: expected some of {", ".join(DATASETS)}')
    if not isinstance(images, int) or images < 1:
        raise ReleaseError(f'images={images!r}: expected a positive integer')
    if val_images is not None and (not isinstance(val_images, int) or val_images < 0):
        raise ReleaseError(f'val_images={val_images!r}: expected a non-negative integer')
    if not isinstance(scale, (int, float)) or not 0 < scale <= 1:
        raise ReleaseError(f'scale={scale!r}: expected a number in (0, 1]')
    params = _params(images, val_images, datasets, seed, scale)
    marker = out / 'release.json'
    if marker.is_file():
        old = json.loads(marker.read_text()).get('params')
        if old == params:
            return out
        raise ReleaseError(f'{out} holds a synthetic release made with {old}, not {params}')
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ReleaseError(f'{out} exists and is not an empty folder or a synthetic release')
    if not out.parent.is_dir():
        raise ReleaseError(f'{out.parent} is not a folder')
    log = log or (lambda msg: None)
    tmp = out.parent / f'{out.name}.tmp-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    jobs = plan(images, val_images, datasets)
    start = time.perf_counter()
    try:
        for d in {os.path.dirname(os.path.join(tmp, rel)) for j in jobs for rel in j[3:]}:
            os.makedirs(d, exist_ok=True)
        workers = (os.cpu_count() or 1) if workers is None else workers
        tasks = [(str(tmp), seed, scale, j) for j in jobs]
        if workers > 1:
            with Pool(min(workers, len(tasks))) as pool:
                for _ in pool.imap_unordered(_write, tasks):
                    pass
        else:
            for t in tasks:
                _write(t)
        size = 'full-size' if scale == 1 else f'scale-{scale:g}'
        log(f'{len(jobs)} {size} images and raw labels rendered in '
            f'{time.perf_counter() - start:.1f} s ({workers} workers)')
        nproc = max(workers, 1)
        if 'gta5' in datasets:
            convert('gta5', str(tmp / 'gta5'), nproc=nproc)
        if 'synthia' in datasets:
            convert('synthia', str(tmp / 'synthia'), nproc=nproc)
        if 'cityscapes' in datasets:  # 16 classes (SYNTHIA protocol), then 19 (its statistics)
            convert('cityscapes', str(tmp / 'cityscapes'), num_classes=16, nproc=nproc)
            convert('cityscapes', str(tmp / 'cityscapes'), nproc=nproc)
        log(f'labels converted to train ids ({time.perf_counter() - start:.1f} s in all)')
        (tmp / 'release.json').write_text(json.dumps(dict(
            params=params, synthetic=True, generator='mmseg_ext.datasets.synthshift_generator',
            note='SynthShift scenes at the real sizes, for set-up and cost tests only'), indent=1))
        fsync_tree(tmp)
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(tmp, out)
        fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m mmseg_ext.tools.make_release',
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', required=True, help='release root to write (new or empty)')
    parser.add_argument('--images', type=int, default=4,
                        help='images per dataset (GTA5, SYNTHIA, Cityscapes train); default 4')
    parser.add_argument('--val-images', type=int, default=None,
                        help='Cityscapes val images (default: --images)')
    parser.add_argument('--datasets', nargs='+', default=list(DATASETS), metavar='NAME',
                        help=f'some of {", ".join(DATASETS)} (default: all)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--scale', type=float, default=1.0,
                        help='scale every size by this (0, 1]; for quick tests only (default 1)')
    parser.add_argument('--workers', type=int, default=None,
                        help='processes (default: the cpu count)')
    args = parser.parse_args(argv)
    try:
        out = make_release(args.out, args.images, args.val_images, args.datasets, args.seed,
                           args.workers, log=print, scale=args.scale)
    except (ReleaseError, ConversionError) as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)
    print(f'synthetic release: {out}')
    return 0


if __name__ == '__main__':
    main()
