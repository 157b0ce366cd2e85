"""The torch-free leaf modules of `mmseg_ext` the results layer needs (`fileio`: durable atomic
writes; `datasets.classes`: the 19 class names of the schema; `testing`: fault injection), for
processes that never import torch (`python sweeps/tables.py` and `report.py` start in about a
second; tests/test_durability.py checks that `sweeps.results` imports no torch).

Why a file is loaded by its path here, and only here: importing `mmseg_ext.fileio` runs
`mmseg_ext/__init__.py`, which applies `compat` and imports every component eagerly (torch,
mmseg) because importing the package is what registers them (`custom_imports=['mmseg_ext']` in
every config). A lazy package `__getattr__` would stop `import mmseg_ext` registering anything,
so it is not an option; the leaf modules are standard library (and numpy) only, written to be
loaded so (see mmseg_ext/fileio.py's docstring).

`ext_module(name)` is the package's own module once `mmseg_ext` is imported; before that, the
file executed once per process and kept in `sys.modules` as `_adasweep_light.<name>`, so every
caller shares one module object.
"""
import importlib.util
import os
import sys

PREFIX = '_adasweep_light.'


def ext_module(name):
    """Module `mmseg_ext.<name>` (a dependency-free file of the package) without importing the
    package: the package's own module if it is imported, else one shared copy (see above)."""
    mod = sys.modules.get(f'mmseg_ext.{name}') or sys.modules.get(PREFIX + name)
    if mod is None:
        pkg = importlib.util.find_spec('mmseg_ext')
        path = os.path.join(os.path.dirname(pkg.origin), *name.split('.')) + '.py'
        spec = importlib.util.spec_from_file_location(PREFIX + name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[PREFIX + name] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            del sys.modules[PREFIX + name]
            raise
    return mod


def atomic_write(path, write):
    """mmseg_ext.fileio.atomic_write: `write(tmp)` fills a temp file in `path`'s folder, which is
    fsynced and renamed over `path` (readers see the old file or the new one, never a part)."""
    return ext_module('fileio').atomic_write(path, write)


def cityscapes_classes():
    """CITYSCAPES_CLASSES of mmseg_ext.datasets.classes."""
    return tuple(ext_module('datasets.classes').CITYSCAPES_CLASSES)


def kill_point(name):
    """mmseg_ext.testing.kill_point (test-only fault injection, ADASWEEP_TEST_KILL_AT)."""
    ext_module('testing').kill_point(name)
