"""Durable file writes: data that survives the machine's death (power loss, kernel panic).

`os.replace` alone is atomic but not durable: after a crash the new name can point at an empty
or truncated file (its data was still in the page cache), or the rename itself can be lost (the
folder entry was not written). So the file's data is made durable before the rename and its
folder fsynced after.

A batch of files (`atomic_write_many`) is written to temp files first, then made durable at once
(`sync_files`: one `syncfs(2)` of their filesystem where that is known to be safe, else one fsync
per file), then renamed into place, then each folder fsynced once.

Standard library only (see the package docstring: `sweeps/results.py` imports it without torch).
"""
import ctypes
import os
import platform
import re
import sys
import tempfile
from pathlib import Path

# Filesystems whose syncfs(2) writes back every dirty file and flushes the device cache (statfs
# f_type magic). Elsewhere (NFS, FUSE, Lustre, overlayfs, ...) syncfs may do less than fsync or
# drop errors, so it is not used.
SYNCFS_FILESYSTEMS = {0xEF53: 'ext2/3/4', 0x58465342: 'xfs', 0x9123683E: 'btrfs',
                      0xF2F52010: 'f2fs', 0x01021994: 'tmpfs'}
# Fewer files than this are fsynced one by one: as cheap, and syncfs would also wait for every
# other process's dirty data on that filesystem (checkpoints, other trials).
SYNCFS_MIN_FILES = 16
_libc = False  # not looked up yet


def _syncfs_libc():
    """libc with syncfs, or None: Linux >= 5.8 only (older kernels' syncfs never reports
    write-back errors, where fsync does)."""
    global _libc
    if _libc is False:
        _libc = None
        release = [int(x) for x in re.findall(r'\d+', platform.release())[:2]]
        if sys.platform.startswith('linux') and release >= [5, 8]:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                libc.syncfs, libc.fstatfs  # noqa: B018  (AttributeError where missing)
                _libc = libc
            except (OSError, AttributeError):
                pass
    return _libc


def _syncfs(path):
    """syncfs(2) the filesystem of `path` (a folder) if that is safe there (see above); returns
    whether it did. Raises OSError if syncfs fails (a write-back error)."""
    libc = _syncfs_libc()
    if libc is None:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        buf = ctypes.create_string_buffer(256)  # struct statfs; f_type (a word) comes first
        if libc.fstatfs(fd, buf) != 0:
            return False
        if ctypes.c_ulong.from_buffer(buf).value & 0xFFFFFFFF not in SYNCFS_FILESYSTEMS:
            return False
        if libc.syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f'syncfs: {os.strerror(err)}', path)
        return True
    finally:
        os.close(fd)


def fsync_path(path, directory=False):
    """fsync one file, or one folder (its entries: names created, renamed or removed in it)."""
    flags = os.O_RDONLY | (getattr(os, 'O_DIRECTORY', 0) if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path):
    fsync_path(path, directory=True)


def sync_files(paths):
    """Make the data of `paths` (written and closed files) durable: one syncfs(2) per filesystem
    for a batch of at least SYNCFS_MIN_FILES files where syncfs is safe, else fsync each file.
    Their folders' entries are not covered (fsync the folders after renames into them)."""
    by_fs = {}
    for p in paths:
        by_fs.setdefault(os.stat(p).st_dev, []).append(os.fspath(p))
    for group in by_fs.values():
        if len(group) < SYNCFS_MIN_FILES or not _syncfs(os.path.dirname(group[0]) or '.'):
            for p in group:
                fsync_path(p)


def makedirs(path):
    """mkdir -p `path`, making the new folders durable (each one's parent fsynced)."""
    path = Path(path)
    missing = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        fsync_dir(d.parent)


def atomic_write_many(writes, defer_dirs=None):
    """Write a batch of files, each atomically, all durably: `writes` = (path, write) pairs, an
    iterable (a generator: each `write` runs as it is drawn, so the data need not all be in
    memory). `write(tmp)` fills a dot-prefixed temp file in the path's folder; once all are
    written they are made durable at once (`sync_files`), renamed onto their paths, and their
    folders fsynced, once each. When this returns every file is on disk. A crash leaves every
    path with its old or its new content, never a partial one (and maybe stray temp files).
    Returns the paths.

    `defer_dirs` (a set): add the folders to it instead of fsyncing them, for the caller to
    fsync (`fsync_dirs`) before the next step depends on them."""
    paths, tmps = [], []
    try:
        for path, write in writes:
            path = Path(path)
            makedirs(path.parent)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
            os.close(fd)
            tmps.append(tmp)
            write(tmp)
            paths.append(path)
        sync_files(tmps)  # the data on disk before any name points at it
        for tmp, path in zip(tmps, paths):
            os.replace(tmp, path)
    except BaseException:
        for tmp in tmps:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise
    dirs = {p.parent for p in paths}
    if defer_dirs is None:
        fsync_dirs(dirs)
    else:
        defer_dirs.update(dirs)
    return paths


def atomic_write(path, write, defer_dirs=None):
    """Write `path` atomically and durably: `write(tmp)` fills a dot-prefixed temp file in the same
    folder, which is fsynced, renamed onto `path`, and the folder fsynced. Returns `path`.

    `defer_dirs`: as in atomic_write_many (a batch is better written with that)."""
    return atomic_write_many([(path, write)], defer_dirs)[0]


def fsync_dirs(dirs):
    """fsync the folders collected by atomic_write(..., defer_dirs=dirs), and empty the set."""
    for d in sorted(dirs):
        fsync_dir(d)
    dirs.clear()


def fsync_tree(root):
    """fsync every file and folder under `root` (root included), e.g. before renaming a folder
    written in a temp place into its final one."""
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            fsync_path(os.path.join(dirpath, name))
        fsync_dir(dirpath)


def atomic_replace(path, write):
    """Write `path` atomically but not durably: `write(tmp)` fills a dot-prefixed temp file in
    the same folder, which is renamed onto `path` (readers see the old file or the new one,
    never a part; a failed write leaves no temp file). No fsync: for many small outputs that a
    rerun checks and rewrites (converted label maps) or that the caller makes durable at once
    (`fsync_tree`, `sync_files`). Returns `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
