"""Byte formats of the active-label store: PNG files, packed deltas, per-image round records.

PNGs are written grayscale, 8 bit, every row with PNG filter type 0 ("None", PNG spec section
9.2) and deflated with zlib's run-length strategy (`encode_png`): sparse labels in a 255
background compress better unfiltered than with "Up" (a single bought pixel is one run break
instead of two) at the same speed. Any PNG reader decodes them.

A labels file may carry the image's round records in a private ancillary chunk `adSt` before its
pixel data (PNG spec 5.4: ancillary, private, safe to copy; readers such as libpng/OpenCV and
Pillow skip it): `records_chunk` / `parse_png`.

A delta (what one image newly bought, blocked and got pseudo labels for in one round) is packed
as _PARTS byte strings (`pack_delta`): the newly blocked pixels as runs (`pack_runs`: run gaps and
lengths as uint32 byte planes, deflated); one bit per newly blocked pixel, set where it was also
bought (packed, deflated); bought pixels outside the newly blocked ones as runs (pixels blocked
in an earlier round); pseudo-labelled pixels as runs; their pseudo classes (deflated).
"""
import struct
import zlib

import numpy as np

IGNORE = 255
BLOCKED, BOUGHT, PSEUDO = 1, 2, 4
NONE = np.zeros(0, np.int64)
PARTS = 5  # blocked runs, bought bits, other bought runs, pseudo runs, pseudo classes
RECORDS = b'adSt'  # the chunk type of the round records (ancillary, private, safe to copy)
RECORDS_VERSION = 1
_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_RECORD_HEAD = struct.Struct('<q5I')  # round number, the five part sizes


def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def encode_idat(array):
    """The deflated pixel data of a grayscale 8-bit PNG of the (H, W) uint8 `array`: filter
    type None on every row, Z_RLE (see the module docstring)."""
    array = np.ascontiguousarray(array, np.uint8)
    h, w = array.shape
    raw = np.empty((h, w + 1), np.uint8)
    raw[:, 0] = 0  # filter type None
    raw[:, 1:] = array
    deflate = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    return deflate.compress(raw) + deflate.flush()


def assemble_png(shape, idat, extra=b''):
    """PNG bytes from the deflated pixel data `idat` of a (H, W) grayscale image; `extra`: whole
    chunks (e.g. `records_chunk`) placed before the pixel data."""
    h, w = shape
    return b''.join((_SIGNATURE, chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)),
                     extra, chunk(b'IDAT', idat), chunk(b'IEND', b'')))


def encode_png(array, extra=b''):
    """The bytes of a grayscale 8-bit PNG of the (H, W) uint8 `array` (see assemble_png)."""
    return assemble_png(np.shape(array), encode_idat(array), extra)


def parse_png(data):
    """(shape (H, W), grayscale 8 bit?, the records chunk's data or None) of PNG bytes, from the
    chunks before the pixel data (which is not read)."""
    if data[:8] != _SIGNATURE or data[12:16] != b'IHDR':
        raise ValueError('not a PNG file (no signature / IHDR)')
    w, h, depth, color = struct.unpack('>IIBB', data[16:26])
    records, at = None, 8
    while at + 8 <= len(data):
        length, kind = struct.unpack('>I4s', data[at:at + 8])
        if kind in (b'IDAT', b'IEND'):
            break
        if kind == RECORDS:
            body = data[at + 8:at + 8 + length]
            if len(body) != length or struct.unpack('>I', data[at + 8 + length:at + 12 + length]
                                                   )[0] != zlib.crc32(kind + body):
                raise ValueError('the round records of a label file are damaged (bad CRC)')
            records = body
        at += 12 + length
    return (h, w), (depth, color) == (8, 0), records


def records_chunk(records):
    """[(round number, parts)] -> the `adSt` chunk (whole, with length and CRC)."""
    body = [struct.pack('<BI', RECORDS_VERSION, len(records))]
    for rnd, parts in records:
        body.append(_RECORD_HEAD.pack(int(rnd), *map(len, parts)))
        body.extend(parts)
    return chunk(RECORDS, b''.join(body))


def parse_records(body):
    """The records chunk's data -> [(round number, parts)] (parts as bytes)."""
    if body is None:
        return []
    version, count = struct.unpack_from('<BI', body)
    if version != RECORDS_VERSION:
        raise ValueError(f'round records of version {version}, this version reads '
                         f'{RECORDS_VERSION}')
    out, at = [], 5
    for _ in range(count):
        rnd, *sizes = _RECORD_HEAD.unpack_from(body, at)
        at += _RECORD_HEAD.size
        parts = []
        for size in sizes:
            parts.append(body[at:at + size])
            at += size
        out.append((rnd, tuple(parts)))
    return out


def pack_runs(idx):
    """Sorted unique flat indices -> bytes: the runs of consecutive indices as (gap since the
    previous run's end, length) uint32 pairs, stored as 4 byte planes and deflated."""
    if not idx.size:
        return b''
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = idx[np.r_[0, breaks]]
    ends = idx[np.r_[breaks - 1, idx.size - 1]] + 1
    gaps = starts - np.r_[0, ends[:-1]]
    if ends[-1] >= 1 << 32:
        raise ValueError('images of 2**32 pixels or more are not supported')
    values = np.concatenate([gaps, ends - starts]).astype('<u4')
    return zlib.compress(values.view(np.uint8).reshape(-1, 4).T.tobytes(), 6)


def unpack_runs(data):
    if not data:
        return NONE
    planes = np.frombuffer(zlib.decompress(data), np.uint8).reshape(4, -1)
    values = np.ascontiguousarray(planes.T).view('<u4').ravel().astype(np.int64)
    gaps, lengths = np.split(values, 2)
    ends = np.cumsum(gaps + lengths)
    before = np.cumsum(lengths) - lengths  # indices in earlier runs
    return np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(ends - lengths - before,
                                                                      lengths)


def pack_delta(bought, blocked, pseudo, pseudo_labels):
    """One image's delta (flat indices) -> PARTS byte strings (see the module docstring)."""
    at = np.minimum(np.searchsorted(blocked, bought), max(blocked.size - 1, 0))
    inside = blocked[at] == bought if blocked.size else np.zeros(bought.size, bool)
    bits = np.zeros(blocked.size, bool)
    bits[at[inside]] = True
    return (pack_runs(blocked),
            zlib.compress(np.packbits(bits).tobytes(), 6) if bought.size else b'',
            pack_runs(bought[~inside]), pack_runs(pseudo),
            zlib.compress(np.asarray(pseudo_labels, np.uint8).tobytes(), 6) if pseudo.size
            else b'')


def unpack_delta(parts):
    """PARTS byte strings -> (bought, blocked, pseudo, pseudo_labels)."""
    blocked = unpack_runs(parts[0])
    bought = NONE
    if parts[1]:
        bits = np.unpackbits(np.frombuffer(zlib.decompress(parts[1]), np.uint8),
                             count=blocked.size).astype(bool)
        bought = blocked[bits]
    other = unpack_runs(parts[2])
    if other.size:
        bought = np.sort(np.concatenate([bought, other]))
    pseudo = unpack_runs(parts[3])
    labels = np.frombuffer(zlib.decompress(parts[4]), np.uint8) if parts[4] else \
        np.zeros(0, np.uint8)
    return bought, blocked, pseudo, labels
