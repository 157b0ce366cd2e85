"""Procedural generator of the SynthShift benchmark (synthetic GTA-like source -> "real" target).

Street scenes are laid out in 3-D (pinhole camera over a ground plane: road, sidewalks, facades
along the street, objects standing on the ground), so objects lower in the image are larger and
adjacency is physical (riders on bikes, lights and signs on poles). The source is rendered with
flat per-class colours; the target with another palette, textures, shadows, illumination, blur
and noise, and with different layout/object statistics.

The work is split by job: `synthshift_canvas` (classes, palettes, camera), `synthshift_objects`
(street objects), `synthshift_scene` (layout), `synthshift_render` (target appearance and
`render_sample`); this module writes the benchmark to disk (`generate_synthshift`).
"""
import contextlib
import json
import os
import pathlib
import shutil
import sys
from multiprocessing import Pool

import numpy as np
from PIL import Image

from adasweep_base.fileio import fsync_dir, fsync_tree
from adasweep_base.classes import CITYSCAPES_CLASSES, IGNORE_INDEX
from adasweep_base.process import pid_alive
from .synthshift_render import render_sample  # noqa: F401  (re-exported: importers use this module)

# 3: the default target-train pool is 500 images (was 1000); a folder made with the old default
# is refused rather than silently used with another pool size.
VERSION = 3
SPLITS = (('source', 0), ('target_train', 1), ('target_val', 2))
TRAIN_CITIES, VAL_CITY = ('synthville', 'procburg', 'randomstadt'), 'valdorf'
# the folders of each split (images, labels), as meta.json's integrity record 'files' names them
FOLDERS = {'source': ('source/images', 'source/labels'),
           'target_train': ('target/leftImg8bit/train', 'target/gtFine/train'),
           'target_val': ('target/leftImg8bit/val', 'target/gtFine/val')}


def _paths(root, split_id, i, n):
    """(image, label) paths of image i of n: GTA5 layout for the source, Cityscapes for the target."""
    if split_id == 0:
        return root / f'source/images/{i + 1:05d}.png', root / f'source/labels/{i + 1:05d}_labelTrainIds.png'
    sub, city = ('train', TRAIN_CITIES[i * len(TRAIN_CITIES) // n]) if split_id == 1 else ('val', VAL_CITY)
    stem = f'{sub}/{city}/{city}_000000_{i:06d}'
    return (root / f'target/leftImg8bit/{stem}_leftImg8bit.png',
            root / f'target/gtFine/{stem}_gtFine_labelTrainIds.png')


def _work(task):
    root, seed, split_id, i, n, H, W = task
    img, lab = render_sample(seed, split_id, i, H, W)
    ip, lp = _paths(root, split_id, i, n)
    Image.fromarray(img).save(ip)
    Image.fromarray(lab).save(lp)
    return split_id, np.bincount(lab.ravel(), minlength=256)


def _progress(n):
    """A progress bar on stderr (mmengine, else tqdm, else None)."""
    try:
        from mmengine.utils import ProgressBar
        return ProgressBar(n, file=sys.stderr)
    except ImportError:
        try:
            from tqdm import tqdm
        except ImportError:
            return None
        return tqdm(total=n, file=sys.stderr)


def file_record(root):
    """{folder: {'files': number of PNGs, 'bytes': their total size}} of the FOLDERS under `root`
    (sub-folders included, dot files left out): what meta.json records, checked on every load
    (one stat per file, no decoding)."""
    def walk(path):
        files = size = 0
        try:
            entries = list(os.scandir(path))
        except FileNotFoundError:
            return 0, 0
        for e in entries:
            if e.name.startswith('.'):
                continue
            if e.is_dir(follow_symlinks=False):
                f, b = walk(e.path)
                files, size = files + f, size + b
            elif e.name.endswith('.png'):
                files, size = files + 1, size + e.stat().st_size
        return files, size
    out = {}
    for folders in FOLDERS.values():
        for folder in folders:
            files, size = walk(os.path.join(root, folder))
            out[folder] = dict(files=files, bytes=size)
    return out


def _read_params(root):
    return json.loads((root / 'meta.json').read_text())['params']


def generate_synthshift(root, seed=0, num_source=3000, num_target_train=500, num_target_val=300,
                        height=64, width=128, progress=True, workers=None):
    """Generate SynthShift under `root` unless already there; return `root` as a Path.

    Image i of split s is drawn from np.random.default_rng([seed, s, i]) (s: 0 source, 1 target
    train, 2 target val), so the files do not depend on `workers` (default min(2, cpu count);
    0 or 1: in-process). Written into the sibling `root.tmp-<pid>` and renamed at the end
    (atomic), after every file and folder was fsynced (durable: a power loss cannot leave a
    complete-looking folder with truncated files); meta.json records each folder's number of
    files and bytes (`file_record`), which `ensure_synthshift` checks on load. Raises ValueError
    if `root` holds a SynthShift generated with other parameters (or is a non-empty folder
    without meta.json).
    """
    root = pathlib.Path(root)
    params = dict(version=VERSION, seed=seed, num_source=num_source, num_target_train=num_target_train,
                  num_target_val=num_target_val, height=height, width=width)
    if (root / 'meta.json').exists():
        if _read_params(root) == params:
            return root
        raise ValueError(f'{root} holds SynthShift generated with {_read_params(root)}, not {params}')
    if root.is_file() or (root.exists() and any(root.iterdir())):
        raise ValueError(f'{root} exists and is not a SynthShift root (no meta.json)')
    for old in root.parent.glob(f'{root.name}.tmp-*'):  # leftovers of killed generations
        if not pid_alive(old.name.rsplit('-', 1)[1]):
            shutil.rmtree(old, ignore_errors=True)
    tmp = root.parent / f'{root.name}.tmp-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    sizes = (num_source, num_target_train, num_target_val)
    tasks = [(tmp, seed, sid, i, sizes[sid], height, width) for _, sid in SPLITS for i in range(sizes[sid])]
    counts, shares = np.zeros((3, 256), np.int64), np.zeros((3, 256), np.int64)
    try:
        for d in {p.parent for t in tasks for p in _paths(t[0], *t[2:5])}:
            d.mkdir(parents=True, exist_ok=True)
        workers = min(2, os.cpu_count() or 1) if workers is None else workers
        bar = _progress(len(tasks)) if progress else None
        with Pool(max(workers, 1)) if workers > 1 else contextlib.nullcontext() as pool:
            for sid, cnt in (pool.imap_unordered(_work, tasks, chunksize=8) if pool else map(_work, tasks)):
                counts[sid] += cnt
                shares[sid] += cnt > 0
                bar is not None and bar.update()
        if bar is not None:
            bar.close() if hasattr(bar, 'close') else sys.stderr.write('\n')
        meta = dict(params=params, classes=list(CITYSCAPES_CLASSES), frequencies={}, image_share={}, void_fraction={})
        for name, sid in SPLITS:
            lab = max(counts[sid, :19].sum(), 1)
            meta['frequencies'][name] = {c: round(k / lab, 6) for c, k in zip(CITYSCAPES_CLASSES, counts[sid].tolist())}
            meta['image_share'][name] = {c: round(k / max(sizes[sid], 1), 4)
                                         for c, k in zip(CITYSCAPES_CLASSES, shares[sid].tolist())}
            meta['void_fraction'][name] = round(counts[sid, IGNORE_INDEX].item() / max(counts[sid].sum(), 1), 6)
        meta['files'] = file_record(tmp)
        (tmp / 'meta.json').write_text(json.dumps(meta, indent=1))
        fsync_tree(tmp)
        try:
            os.replace(tmp, root)
        except OSError:  # a concurrent generation finished first
            if not ((root / 'meta.json').exists() and _read_params(root) == params):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            fsync_dir(root.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root
