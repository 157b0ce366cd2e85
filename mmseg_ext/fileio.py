"""Durable file writes: data that survives the machine's death (power loss, kernel panic).

`os.replace` alone is atomic but not durable: after a crash the new name can point at an empty
or truncated file (its data was still in the page cache), or the rename itself can be lost (the
folder entry was not written). So the file is fsynced before the rename and its folder after.

Standard library only, and no relative imports: `sweeps/results.py` loads this file by path
without importing the `mmseg_ext` package (which pulls in torch).
"""
import os
import tempfile
from pathlib import Path


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


def atomic_write(path, write, defer_dirs=None):
    """Write `path` atomically and durably: `write(tmp)` fills a dot-prefixed temp file in the same
    folder, which is fsynced, renamed onto `path`, and the folder fsynced. Returns `path`.

    `defer_dirs` (a set): add the folder to it instead of fsyncing it, for a batch of writes
    whose folders are fsynced once at the end (`fsync_dirs`) before the next step depends on
    them: one folder fsync per batch instead of one per file."""
    path = Path(path)
    makedirs(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    os.close(fd)
    try:
        write(tmp)
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if defer_dirs is None:
        fsync_dir(path.parent)
    else:
        defer_dirs.add(path.parent)
    return path


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
