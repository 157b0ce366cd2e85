import fcntl
import json
import os
from pathlib import Path

from mmseg.registry import DATASETS

from adasweep_base.fileio import makedirs
from .checked_seg_dataset import CheckedSegDataset, DatasetError
from adasweep_base.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE

# Default generation parameters of the embedded benchmark (see docs/data.md).
SYNTHSHIFT_DEFAULTS = dict(seed=0, num_source=3000, num_target_train=500, num_target_val=300,
                           height=64, width=128)


def default_synthshift_root():
    """`$ADASWEEP_DATA/synthshift`, else `data/synthshift` in the project checkout."""
    base = os.environ.get('ADASWEEP_DATA') or Path(__file__).resolve().parents[2] / 'data'
    return str(Path(base) / 'synthshift')


def _check_complete(root, meta):
    """DatasetError unless every split folder holds the number of PNG files (and bytes) that
    meta.json records: a folder whose files were lost or truncated (a power loss before the
    generator made its writes durable, a disk error, a user) is refused, not trained on. A
    meta.json without the record ('files', older generations) gets the counts its params imply.
    One stat per file, no decoding."""
    from .synthshift_generator import FOLDERS, file_record
    found = file_record(root)
    recorded = meta.get('files')
    if recorded is None:
        p = meta['params']
        sizes = dict(source=p['num_source'], target_train=p['num_target_train'],
                     target_val=p['num_target_val'])
        recorded = {f: dict(files=sizes[split]) for split, folders in FOLDERS.items()
                    for f in folders}
    for folder, want in recorded.items():
        have = found.get(folder, dict(files=0, bytes=0))
        if have['files'] != want['files'] or have['bytes'] != want.get('bytes', have['bytes']):
            what = (f'{have["files"]} PNG files ({have["bytes"]} bytes), meta.json records '
                    f'{want["files"]}' + (f' ({want["bytes"]} bytes)' if 'bytes' in want else ''))
            raise DatasetError(f'SynthShift at {root}: {folder} has {what}: files are missing or '
                               'truncated; delete the folder to regenerate it')


def ensure_synthshift(root=None, progress=True, **params):
    """Generate SynthShift under `root` unless it is already there; safe across processes.

    Without `params` an existing SynthShift of any size is used as it is (e.g. a small one made
    for tests); with `params` it must have been generated with exactly those. An existing one
    must be complete (file counts and sizes as its meta.json records, `_check_complete`).
    """
    from .synthshift_generator import VERSION, generate_synthshift
    root = Path(root or default_synthshift_root()).resolve()
    explicit = bool(params)
    params = {**SYNTHSHIFT_DEFAULTS, **params}
    if (root / 'meta.json').is_file():
        try:
            meta = json.loads((root / 'meta.json').read_text())
            version = meta['params'].get('version')
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise DatasetError(f'SynthShift at {root}: meta.json is unreadable '
                               f'({type(e).__name__}: {e}); delete the folder to regenerate it'
                               ) from None
        if explicit:
            generate_synthshift(root, progress=False, **params)  # checks the parameters match
        if version != VERSION:
            raise DatasetError(f'SynthShift at {root} was made by generator version {version}, '
                               f'this is version {VERSION}: delete the folder to regenerate it')
        _check_complete(root, meta)
        return str(root)
    makedirs(root.parent)
    with open(root.parent / f'.{root.name}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent trials: one generates, the others wait
        generate_synthshift(root, progress=progress, **params)
    return str(root)


@DATASETS.register_module()
class SynthShiftDataset(CheckedSegDataset):
    """The embedded synthetic -> "real" benchmark with the 19 Cityscapes classes.

    `domain='source'` reads the GTA5-style layout (`source/images`, `source/labels`),
    `domain='target'` the Cityscapes-style one (`target/leftImg8bit/<split>`,
    `target/gtFine/<split>`). The data is generated on first use (`generate` overrides
    SYNTHSHIFT_DEFAULTS); `data_root=None` means `default_synthshift_root()`.
    """
    METAINFO = dict(classes=CITYSCAPES_CLASSES, palette=[list(p) for p in CITYSCAPES_PALETTE])

    def __init__(self, domain='source', split='train', data_root=None, generate=None, **kwargs):
        if domain not in ('source', 'target'):
            raise DatasetError(f"SynthShiftDataset: domain={domain!r}, expected 'source' or 'target'")
        if split not in ('train', 'val') or (domain == 'source' and split != 'train'):
            raise DatasetError(f'SynthShiftDataset: split={split!r} for domain {domain!r}, expected '
                               "'train' (source) or 'train'/'val' (target)")
        root = ensure_synthshift(data_root, **(generate or {}))
        if domain == 'source':
            prefix = dict(img_path='source/images', seg_map_path='source/labels')
            suffixes = dict(img_suffix='.png', seg_map_suffix='_labelTrainIds.png')
        else:
            prefix = dict(img_path=f'target/leftImg8bit/{split}',
                          seg_map_path=f'target/gtFine/{split}')
            suffixes = dict(img_suffix='_leftImg8bit.png',
                            seg_map_suffix='_gtFine_labelTrainIds.png')
        self.domain, self.split = domain, split
        super().__init__(data_root=root, data_prefix=prefix, **suffixes, **kwargs)
