"""File helpers of the active-label store: durable batches, JSON/npz writes, fast PNG reads, and
the files of stores written by earlier versions (their state PNGs and round delta files)."""
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from adasweep_base.fileio import atomic_write, atomic_write_many
from . import codec

try:  # libpng through OpenCV decodes a grayscale PNG about twice as fast as Pillow
    import cv2
except ImportError:  # pragma: no cover (mmseg needs it)
    cv2 = None

DELTA_FORMAT = 2


def file_sig(path):
    """What identifies one version of a file (inode, times, size); OSError if it is missing."""
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size


def bytes_file(path, data):
    """One file of a batch for `save_batch`: `data` (bytes) written to it."""
    def write(tmp):
        with open(tmp, 'wb') as fh:
            fh.write(data)
    write.size = len(data)
    return path, write


def save_batch(files):
    """Write `files` = (path, write) pairs (an iterable, drawn one at a time), all of them on
    disk (data and folders) when this returns (`adasweep_base.fileio.atomic_write_many`)."""
    atomic_write_many(files)


def save_json(path, obj, lines=False):
    text = '\n'.join(json.dumps(o) for o in obj) + '\n' if lines else json.dumps(obj, indent=1)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def save_npz(path, arrays, compressed=True):
    def write(tmp):
        with open(tmp, 'wb') as fh:  # a path would get '.npz' appended
            (np.savez_compressed if compressed else np.savez)(fh, **arrays)
    atomic_write(path, write)


def decode_png(data):
    """PNG bytes -> (H, W) uint8 array (OpenCV for grayscale 8-bit files, else Pillow: a palette
    image gives its indices, as `np.array(Image.open(path))`)."""
    if cv2 is not None and data[24:26] == b'\x08\x00':  # IHDR: bit depth 8, grayscale
        array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if array is not None and array.ndim == 2:
            return array
    import io
    return np.array(Image.open(io.BytesIO(data)))


def load_png(path):
    with open(path, 'rb') as fh:
        return decode_png(fh.read())


def load_delta_file(pending, npz):
    """{rel: (bought, blocked, pseudo, pseudo_labels)} flat indices (and pseudo classes) of a
    round delta file: format 2 (packed parts) or ae49e50's int64 arrays."""
    with np.load(npz) as data:
        if 'format' in data.files:
            return {rel: codec.unpack_delta(parts)
                    for rel, parts in load_delta_parts(pending, data, npz).items()}

        def get(key):
            return data[key] if key in data.files else codec.NONE
        return {rel: (data[f'{i}_bought'], data[f'{i}_blocked'], get(f'{i}_pseudo'),
                      get(f'{i}_pseudo_labels').astype(np.uint8))
                for i, rel in enumerate(pending['images'])}


def load_delta_parts(pending, data, npz):
    """{rel: the packed parts} of a format-2 delta file (`data`: it, opened with np.load)."""
    if int(data['format']) != DELTA_FORMAT:
        raise ValueError(f'{npz}: delta format {int(data["format"])}, this version reads '
                         f'{DELTA_FORMAT} and the ae49e50 one')
    blob, sizes = data['blob'].tobytes(), data['sizes']
    ends = np.cumsum(sizes.ravel()).tolist()
    cuts = [blob[a:b] for a, b in zip([0] + ends[:-1], ends)]
    return {rel: tuple(cuts[codec.PARTS * i:codec.PARTS * (i + 1)])
            for i, rel in enumerate(pending['images'])}


def legacy_image_files(label_path, state_path, flat, gt):
    """The label and state files of an image of an earlier version's store (a state PNG beside
    the labels) after its delta `flat`: how those versions applied a round (an interrupted one
    is completed the same way)."""
    bought, blocked, pseudo, pseudo_labels = flat
    state = load_png(state_path)
    old = load_png(label_path) if (state & codec.PSEUDO).any() else None
    state.flat[blocked] |= codec.BLOCKED
    state.flat[bought] |= codec.BOUGHT | codec.BLOCKED
    state.flat[pseudo] |= codec.PSEUDO
    labels = np.where(state & codec.BOUGHT, gt, np.uint8(codec.IGNORE))
    if old is not None or pseudo.size:
        kept = (state & codec.PSEUDO).astype(bool) & ~(state & codec.BOUGHT).astype(bool)
        if old is not None:
            labels[kept] = old[kept]
        new = np.zeros(labels.size, bool)
        new[pseudo] = True
        new &= kept.ravel()
        labels.flat[np.flatnonzero(new)] = pseudo_labels[new[pseudo]]
    return [bytes_file(label_path, codec.encode_png(labels)),
            bytes_file(state_path, codec.encode_png(state))]
