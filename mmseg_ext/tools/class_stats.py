"""Per-class pixel statistics of train-id label maps, in the DAFormer formats.

Written next to a dataset (ROOT) and read by rare-class sampling (DAFormer RCS) and
class-balanced sampling (RIPU/FADA-style):

- ``ROOT/sample_class_stats.json``: a list with one entry per label file,
  ``{"file": <label path relative to ROOT>, "<class id>": <pixel count>, ...}``
  (only classes present in that file).
- ``ROOT/samples_with_class.json``: ``{"<class id>": [[<file>, <pixel count>], ...]}``
  (only files containing the class, in file order).
"""
import json
import os
from multiprocessing import Pool

import numpy as np
from PIL import Image

from adasweep_base.fileio import atomic_write

SAMPLE_CLASS_STATS = 'sample_class_stats.json'
SAMPLES_WITH_CLASS = 'samples_with_class.json'


def _count(args):
    path, num_classes = args
    label = np.array(Image.open(path))
    bad = (label >= num_classes) & (label != 255)
    if bad.any():
        raise ValueError(f'{path}: train id {int(label[bad][0])} is not in [0, {num_classes}) '
                         f'or 255; wrong num_classes?')
    return np.bincount(label[label < num_classes].ravel(), minlength=num_classes)


def compute_class_stats(label_paths, root, num_classes, nproc=1):
    """Return the sample_class_stats list for train-id label files (paths made relative to root)."""
    tasks = [(p, num_classes) for p in label_paths]
    if nproc > 1 and len(tasks) > 1:
        with Pool(nproc) as pool:
            counts = pool.map(_count, tasks, chunksize=8)
    else:
        counts = [_count(t) for t in tasks]
    stats = []
    for path, cnt in zip(label_paths, counts):
        entry = {'file': os.path.relpath(path, root).replace(os.sep, '/')}
        entry.update({str(c): int(cnt[c]) for c in np.flatnonzero(cnt)})
        stats.append(entry)
    return stats


def samples_with_class(sample_class_stats):
    """Invert sample_class_stats into {"<class id>": [[file, count], ...]}, classes sorted."""
    out = {}
    for entry in sample_class_stats:
        for c, n in entry.items():
            if c != 'file':
                out.setdefault(c, []).append([entry['file'], n])
    return {c: out[c] for c in sorted(out, key=int)}


def _write_json(path, obj):
    """Write obj as JSON to path atomically and durably (adasweep_base.fileio.atomic_write)."""
    def write(tmp):
        with open(tmp, 'w') as f:
            json.dump(obj, f, indent=2)
    atomic_write(path, write)


def write_class_stats(label_paths, root, num_classes, nproc=1):
    """Compute and write ROOT/sample_class_stats.json and ROOT/samples_with_class.json."""
    stats = compute_class_stats(label_paths, root, num_classes, nproc=nproc)
    _write_json(os.path.join(root, SAMPLE_CLASS_STATS), stats)
    _write_json(os.path.join(root, SAMPLES_WITH_CLASS), samples_with_class(stats))
    return stats


def load_class_stats(root):
    """Read both files back: (sample_class_stats, samples_with_class) with int class ids.

    sample_class_stats: [{'file': str, <int class>: count, ...}, ...];
    samples_with_class: {<int class>: [[file, count], ...]}.
    """
    paths = [os.path.join(root, n) for n in (SAMPLE_CLASS_STATS, SAMPLES_WITH_CLASS)]
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(
                f'class statistics not found: {p} (write them with '
                f'`python -m mmseg_ext.tools.convert_datasets <dataset> {root}`)')
    with open(paths[0]) as f:
        stats = [{k if k == 'file' else int(k): v for k, v in e.items()} for e in json.load(f)]
    with open(paths[1]) as f:
        with_class = {int(c): v for c, v in json.load(f).items()}
    return stats, with_class
