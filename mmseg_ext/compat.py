"""The one place that works around upstream packaging of mmcv-lite, mmengine and torch.

1. mmcv-lite ships no compiled ops (`mmcv._ext`), yet mmsegmentation 1.2.2 imports `mmcv.ops`
   unguarded in four modules. When `mmcv._ext` is missing we put a stand-in `mmcv.ops` into
   `sys.modules`: its `point_sample` is mmcv's own pure-PyTorch function (loaded from mmcv's file),
   every other name is a placeholder that raises `MissingCompiledOpError` naming the op and the fix
   (`make mmcv-full`) when it is called or instantiated. With full mmcv installed nothing changes.

2. mmengine 0.10.7 calls `torch.load` without `weights_only`; torch >= 2.6 then refuses mmengine's
   own checkpoints (they pickle a message hub with `HistoryBuffer`s and numpy arrays). We keep
   `weights_only=True` for every load and allow-list exactly the data types that mmengine writes
   into its checkpoints, and stop `HistoryBuffer` from pickling its built-in statistics methods
   as `getattr` calls, so checkpoints written with this package loaded resume and load, while an
   outside file still cannot run arbitrary code while unpickling.
"""
import importlib.util
import sys
import types
import warnings

COMPILED_OPS_HINT = ('needs mmcv compiled ops (mmcv._ext), which mmcv-lite does not ship; '
                     'run `make mmcv-full` to build mmcv 2.1.0 with ops (about 20 min on 2 cores)')


class MissingCompiledOpError(RuntimeError):
    """A component asked for an mmcv op that only exists in a compiled mmcv build."""


def has_compiled_mmcv_ops():
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except (ImportError, ValueError):
        return False


def _missing_op(name):

    def refuse(*args, **kwargs):
        raise MissingCompiledOpError(f'mmcv.ops.{name} {COMPILED_OPS_HINT}')

    # A class works both where mmseg calls the op and where it instantiates or subclasses it.
    return type(name, (), {'__new__': refuse, '__doc__': f'Stand-in: {name} {COMPILED_OPS_HINT}'})


class _OpsStandIn(types.ModuleType):

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        placeholder = _missing_op(name)
        setattr(self, name, placeholder)
        return placeholder


def _load_point_sample():
    import mmcv
    path = f'{mmcv.__path__[0]}/ops/point_sample.py'
    spec = importlib.util.spec_from_file_location('mmcv_ext_standin_point_sample', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.point_sample


def install_mmcv_ops_standin(force=False):
    """Install the `mmcv.ops` stand-in when compiled ops are missing; return whether it is in use.

    `force=True` installs it even over compiled ops (for tests only).
    """
    current = sys.modules.get('mmcv.ops')
    if isinstance(current, _OpsStandIn):
        return True
    if has_compiled_mmcv_ops() and not force:
        return False
    import mmcv
    ops = _OpsStandIn('mmcv.ops', 'mmcv-lite stand-in for mmcv.ops (see mmseg_ext.compat)')
    ops.point_sample = _load_point_sample()
    sys.modules['mmcv.ops'] = ops
    mmcv.ops = ops
    return True


def mmengine_checkpoint_globals():
    """The non-tensor types that mmengine 0.10.7 pickles into the checkpoints it saves."""
    import collections

    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    dtype_classes = [type(np.dtype(t)) for t in
                     (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                      np.uint32, np.uint64, np.float16, np.float32, np.float64)]
    return [HistoryBuffer, multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype,
            collections.OrderedDict, *dtype_classes]


_BUILTIN_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getstate(self):
    # mmengine pickles every registered statistics method, the built-in ones as
    # `getattr(HistoryBuffer, 'min')`; allow-listing `getattr` would let any file run code, so we
    # leave out the built-ins (every HistoryBuffer registers them again) and keep custom ones.
    state = dict(self.__dict__)
    custom = {k: v for k, v in self._statistics_methods.items() if k not in _BUILTIN_STATISTICS}
    if custom:
        state['statistics_methods'] = custom
    return state


def allow_mmengine_checkpoints():
    import torch
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())


def apply():
    if install_mmcv_ops_standin():
        # mmcv.cnn tries this optional op itself and warns; with the stand-in that is expected.
        warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention')
    allow_mmengine_checkpoints()
