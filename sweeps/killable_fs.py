"""Test-only fault injection on an object store (adasweep_base.testing): while
ADASWEEP_TEST_KILL_AT names the point `checkpoint_upload`, the file system Tune gets
(sweeps/tune_run.py) passes through `kill_point('checkpoint_upload')` each time a file of a Tune
checkpoint (a path with `/checkpoint_`) is opened for writing, so the n-th file of a process's
checkpoint uploads dies with the earlier files on the store and this one and the later ones not.
Without the variable the file system is returned as it is."""
import os

import pyarrow.fs as pafs

from adasweep_base.testing import ENV, kill_point


def killable_fs(fs):
    """`fs`, or `fs` behind a KillingHandler while the kill point is set."""
    if fs is None or not (os.environ.get(ENV) or '').startswith('checkpoint_upload'):
        return fs
    return pafs.PyFileSystem(KillingHandler(fs))


def _pass_through(name):
    def method(self, *args):
        return getattr(self.fs, name)(*args)
    method.__name__ = name
    return method


class KillingHandler(pafs.FileSystemHandler):
    """A FileSystemHandler over another pyarrow file system `fs`."""

    def __init__(self, fs):
        self.fs = fs

    def __reduce__(self):  # Tune pickles the file system to the trials
        return KillingHandler, (self.fs,)

    def __eq__(self, other):
        return isinstance(other, KillingHandler) and self.fs.equals(other.fs)

    def get_type_name(self):
        return f'killable+{self.fs.type_name}'

    def get_file_info_selector(self, selector):
        return self.fs.get_file_info(selector)

    def delete_root_dir_contents(self):
        return self.fs.delete_dir_contents('/', accept_root_dir=True)

    def delete_dir_contents(self, path, missing_dir_ok=False):
        return self.fs.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def create_dir(self, path, recursive):
        return self.fs.create_dir(path, recursive=recursive)

    def open_output_stream(self, path, metadata):
        if '/checkpoint_' in path:
            kill_point('checkpoint_upload')
        return self.fs.open_output_stream(path, metadata=metadata)

    def open_append_stream(self, path, metadata):
        return self.fs.open_append_stream(path, metadata=metadata)

    normalize_path = _pass_through('normalize_path')
    get_file_info = _pass_through('get_file_info')
    delete_dir = _pass_through('delete_dir')
    delete_file = _pass_through('delete_file')
    move = _pass_through('move')
    copy_file = _pass_through('copy_file')
    open_input_stream = _pass_through('open_input_stream')
    open_input_file = _pass_through('open_input_file')
