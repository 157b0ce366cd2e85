"""Convert official GTA5 / SYNTHIA / Cityscapes label releases to train-id PNGs, in place.

  python -m mmseg_ext.tools.convert_datasets {gta5,synthia,cityscapes} ROOT
         [--num-classes N] [--nproc N]

gta5 (19 classes only)
  expects ROOT/images/NNNNN.png and ROOT/labels/NNNNN.png (palettised 'P' PNG, palette index =
  Cityscapes label id); writes ROOT/labels/NNNNN_labelTrainIds.png.
synthia (SYNTHIA-RAND-CITYSCAPES; 16 classes by default, or 19)
  expects ROOT/RGB/NNNNNNN.png and ROOT/GT/LABELS/NNNNNNN.png (16-bit RGB PNG, class id in the
  red channel); writes ROOT/GT/LABELS/NNNNNNN_labelTrainIds.png (16- or 19-class ids).
cityscapes (19 classes by default, or 16)
  expects ROOT/leftImg8bit/<split>/<city>/*_leftImg8bit.png and
  ROOT/gtFine/<split>/<city>/*_gtFine_labelIds.png for split train and/or val; writes
  *_gtFine_labelTrainIds.png (19) or *_gtFine_labelTrainIds16.png (16) next to them.

Outputs are uint8 grey PNGs, 255 = ignore. Every output is written to a temp file and renamed,
unchanged outputs are left alone, so reruns are safe. After converting, the per-class pixel
statistics ROOT/sample_class_stats.json and ROOT/samples_with_class.json (DAFormer formats, see
class_stats.py) are written from the train-id labels (Cityscapes: train split only; they describe
the variant of the last run). The whole release is checked (every label decoded) before anything
is written; a bad release gives `error: <message>` and exit status 2.
"""
import argparse
import os
import sys
from functools import lru_cache
from multiprocessing import Pool

import numpy as np
from PIL import Image

from adasweep_base.classes import (CITYSCAPES_ID_TO_TRAINID_16, CITYSCAPES_ID_TO_TRAINID_19,
                                        SYNTHIA_ID_TO_TRAINID_16, SYNTHIA_ID_TO_TRAINID_19,
                                        lookup_table)
from adasweep_base.fileio import atomic_replace
from mmseg_ext.tools.class_stats import write_class_stats

MAPPINGS = {
    ('gta5', 19): CITYSCAPES_ID_TO_TRAINID_19,
    ('synthia', 16): SYNTHIA_ID_TO_TRAINID_16,
    ('synthia', 19): SYNTHIA_ID_TO_TRAINID_19,
    ('cityscapes', 19): CITYSCAPES_ID_TO_TRAINID_19,
    ('cityscapes', 16): CITYSCAPES_ID_TO_TRAINID_16,
}
DEFAULT_NUM_CLASSES = {'gta5': 19, 'synthia': 16, 'cityscapes': 19}
TRAINID_SUFFIX = '_labelTrainIds.png'


class ConversionError(ValueError):
    """A release that is missing, malformed or incomplete."""


# ----------------------------------------------------------------------------- listing


def _require_dirs(root, dirs, name):
    if not os.path.isdir(root):
        raise ConversionError(f'dataset root not found: {root}')
    missing = [d + '/' for d in dirs if not os.path.isdir(os.path.join(root, d))]
    if missing:
        expected = ' and '.join(d + '/' for d in dirs)
        raise ConversionError(f'{root} is not a {name} release: expected folders {expected} '
                              f'(missing: {", ".join(missing)})')


def _pngs(folder, suffix='.png'):
    """{name without suffix: path} of the non-hidden files in folder ending with suffix,
    converter outputs excluded."""
    out = {}
    for name in os.listdir(folder):
        if (name.endswith(suffix) and not name.startswith('.') and '_labelTrainIds' not in name):
            out[name[:-len(suffix)]] = os.path.join(folder, name)
    return out


def _pair(labels, images, label_dir, image_dir, what):
    """Sorted label paths; every label needs an image with the same key and vice versa."""
    if not labels:
        raise ConversionError(f'no {what} label files found in {label_dir}')
    for keys, have, want, want_dir in ((set(labels) - set(images), 'label', 'image', image_dir),
                                       (set(images) - set(labels), 'image', 'label', label_dir)):
        if keys:
            key = sorted(keys)[0]
            path = (labels if have == 'label' else images)[key]
            more = f' ({len(keys) - 1} more)' if len(keys) > 1 else ''
            raise ConversionError(
                f'{what} {have} {path} has no matching {want} in {want_dir}{more}')
    return [labels[k] for k in sorted(labels)]


def gta5_labels(root):
    """Raw GTA5 label paths, paired with ROOT/images/."""
    _require_dirs(root, ['images', 'labels'], 'GTA5')
    lab, img = os.path.join(root, 'labels'), os.path.join(root, 'images')
    return _pair(_pngs(lab), _pngs(img), lab, img, 'GTA5')


def synthia_labels(root):
    """Raw SYNTHIA label paths, paired with ROOT/RGB/."""
    _require_dirs(root, ['RGB', 'GT/LABELS'], 'SYNTHIA-RAND-CITYSCAPES')
    lab, img = os.path.join(root, 'GT', 'LABELS'), os.path.join(root, 'RGB')
    return _pair(_pngs(lab), _pngs(img), lab, img, 'SYNTHIA')


def cityscapes_labels(root):
    """{split: raw *_gtFine_labelIds.png paths} for the splits train/val present in gtFine/."""
    _require_dirs(root, ['gtFine', 'leftImg8bit'], 'Cityscapes')
    splits = [s for s in ('train', 'val') if os.path.isdir(os.path.join(root, 'gtFine', s))]
    if not splits:
        raise ConversionError(f'no split folder train/ or val/ in {os.path.join(root, "gtFine")}')
    out = {}
    for split in splits:
        lab, img = os.path.join(root, 'gtFine', split), os.path.join(root, 'leftImg8bit', split)
        if not os.path.isdir(img):
            raise ConversionError(f'{img} not found: expected images for the labels in {lab}')
        labels, images = {}, {}
        for folder, suffix, found in ((lab, '_gtFine_labelIds.png', labels),
                                      (img, '_leftImg8bit.png', images)):
            for city in sorted(os.listdir(folder)):
                if os.path.isdir(os.path.join(folder, city)):
                    found.update({f'{city}/{k}': p for k, p in
                                  _pngs(os.path.join(folder, city), suffix).items()})
        out[split] = _pair(labels, images, lab, img, f'Cityscapes {split}')
    return out


def output_path(dataset, src, num_classes):
    """Train-id label path written for the raw label src."""
    if dataset == 'cityscapes':
        suffix = '_gtFine_labelTrainIds16.png' if num_classes == 16 else '_gtFine_labelTrainIds.png'
        return src[:-len('_gtFine_labelIds.png')] + suffix
    return src[:-len('.png')] + TRAINID_SUFFIX


# ----------------------------------------------------------------------------- per file


@lru_cache(maxsize=None)
def _lut(dataset, num_classes):
    return lookup_table(MAPPINGS[dataset, num_classes])


def _check_label(job):
    """Full check of one raw label: its mode, every chunk's checksum (`verify`) and a complete
    decode by the reader the conversion uses, so that a corrupt or truncated file is refused
    before anything is written (a header-only check let one through to fail mid-conversion)."""
    dataset, _, src, _ = job
    expected = ('RGB', 'RGBA') if dataset == 'synthia' else ('P', 'L')
    try:
        with Image.open(src) as im:
            mode = im.mode
            im.verify()
    except Exception as e:  # noqa: BLE001 - any unreadable file is a bad release
        raise _unreadable(src, e) from None
    if mode not in expected:
        what = {'gta5': "a palettised ('P') PNG whose palette index is the Cityscapes label id",
                'synthia': 'a 16-bit RGB PNG with the class id in the red channel',
                'cityscapes': "a grey ('L') PNG of Cityscapes label ids"}[dataset]
        raise ConversionError(f'label {src} has mode {mode!r}, expected {what}')
    try:
        _read_ids(dataset, src)
    except ConversionError:
        raise
    except Exception as e:  # noqa: BLE001
        raise _unreadable(src, e) from None


def _unreadable(src, e):
    why = ' '.join(str(e).split()) or type(e).__name__
    return ConversionError(f'cannot read label {src}: {why}')


def _read_ids(dataset, src):
    """Raw class-id map of one label: palette index / grey value, or SYNTHIA red channel."""
    if dataset != 'synthia':
        return np.array(Image.open(src))  # 'P' -> palette indices, never converted to RGB
    import cv2
    img = cv2.imread(src, cv2.IMREAD_UNCHANGED)  # BGR(A), uint16
    if img is None or img.ndim != 3 or img.shape[2] < 3:
        raise ConversionError(f'cannot read {src} as a 3-channel SYNTHIA label PNG')
    return img[..., 2]


def _save_png(arr, dst):
    """Save a uint8 array as an 'L' PNG, atomically (adasweep_base.fileio.atomic_replace: not
    fsynced one by one; a rerun checks every output, and make_release fsyncs the tree)."""
    def write(tmp):
        with open(tmp, 'wb') as f:
            Image.fromarray(arr, mode='L').save(f, format='PNG')
    atomic_replace(dst, write)


def _convert_one(job):
    """Convert one label; returns False when an identical output already existed."""
    dataset, num_classes, src, dst = job
    out = _lut(dataset, num_classes)[_read_ids(dataset, src)]
    if os.path.exists(dst):
        try:
            if np.array_equal(np.array(Image.open(dst)), out):
                return False
        except Exception:  # noqa: BLE001 - unreadable old output: overwrite it
            pass
    _save_png(out, dst)
    return True


def _map(func, tasks, nproc, progress=False):
    """[func(t) for t in tasks], in a process pool when nproc > 1, with an optional bar."""
    from mmengine.utils import ProgressBar
    bar = ProgressBar(len(tasks)) if progress else None
    results = []
    if nproc > 1 and len(tasks) > 1:
        nproc = min(nproc, len(tasks))
        chunk = max(1, min(16, len(tasks) // (4 * nproc)))
        with Pool(nproc) as pool:
            for r in pool.imap(func, tasks, chunk):
                results.append(r)
                if bar:
                    bar.update()
    else:
        for t in tasks:
            results.append(func(t))
            if bar:
                bar.update()
    if bar:
        bar.file.write('\n')
    return results


# ----------------------------------------------------------------------------- driver


def convert(dataset, root, num_classes=None, nproc=None, progress=False):
    """Validate and convert one release in place; returns the list of train-id label paths."""
    if dataset not in DEFAULT_NUM_CLASSES:
        raise ConversionError(f'unknown dataset {dataset!r}, expected one of '
                              f'{", ".join(DEFAULT_NUM_CLASSES)}')
    num_classes = num_classes or DEFAULT_NUM_CLASSES[dataset]
    if (dataset, num_classes) not in MAPPINGS:
        allowed = sorted(n for d, n in MAPPINGS if d == dataset)
        raise ConversionError(f'{dataset} supports --num-classes {" or ".join(map(str, allowed))}, '
                              f'got {num_classes}')
    nproc = nproc or min(4, os.cpu_count() or 1)
    if dataset == 'cityscapes':
        splits = cityscapes_labels(root)
        srcs = [p for s in splits for p in splits[s]]
        stats_srcs = splits.get('train', [])
    else:
        srcs = gta5_labels(root) if dataset == 'gta5' else synthia_labels(root)
        stats_srcs = srcs
    jobs = [(dataset, num_classes, s, output_path(dataset, s, num_classes)) for s in srcs]
    _map(_check_label, jobs, nproc)  # everything is validated (decoded) before anything is written
    written = _map(_convert_one, jobs, nproc, progress)
    if progress:
        print(f'{dataset}: {sum(written)} train-id labels written, '
              f'{len(written) - sum(written)} already up to date')
    if stats_srcs:
        outs = [output_path(dataset, s, num_classes) for s in stats_srcs]
        write_class_stats(outs, root, num_classes, nproc=nproc)
        if progress:
            print(f'class statistics of {len(outs)} labels -> {root}/sample_class_stats.json, '
                  f'{root}/samples_with_class.json')
    return [j[3] for j in jobs]


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m mmseg_ext.tools.convert_datasets',
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('dataset', choices=sorted(DEFAULT_NUM_CLASSES))
    parser.add_argument('root', help='root folder of the official release (converted in place)')
    parser.add_argument('--num-classes', type=int, default=None,
                        help='gta5: 19; synthia: 16 (default) or 19; '
                             'cityscapes: 19 (default) or 16')
    parser.add_argument('--nproc', type=int, default=None,
                        help='worker processes (default: min(4, cpu count))')
    args = parser.parse_args(argv)
    try:
        convert(args.dataset, args.root, args.num_classes, args.nproc, progress=True)
    except ConversionError as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)
    return 0


if __name__ == '__main__':
    main()
