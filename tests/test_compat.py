"""mmseg_ext.compat: the mmcv-lite ops stand-in and checkpoint loading on torch >= 2.6."""
import os
import pickle
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import mmseg_ext  # noqa: F401
from mmseg_ext import compat


def test_mmseg_subpackages_import_with_the_standin():
    import mmseg.apis  # noqa: F401
    import mmseg.datasets  # noqa: F401
    import mmseg.models  # noqa: F401
    import mmseg.utils  # noqa: F401
    import mmseg.visualization  # noqa: F401
    assert compat.install_mmcv_ops_standin() == (not compat.has_compiled_mmcv_ops())


@pytest.mark.skipif(compat.has_compiled_mmcv_ops(), reason='full mmcv installed')
def test_standin_point_sample_is_mmcvs_pure_pytorch_function():
    from mmcv.ops import point_sample
    feats = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    points = torch.rand(2, 7, 2)
    expected = F.grid_sample(feats, (2 * points - 1).unsqueeze(2), align_corners=False).squeeze(3)
    torch.testing.assert_close(point_sample(feats, points, align_corners=False), expected)


@pytest.mark.skipif(compat.has_compiled_mmcv_ops(), reason='full mmcv installed')
@pytest.mark.parametrize('name', ['sigmoid_focal_loss', 'CrissCrossAttention', 'DeformConv2d'])
def test_standin_ops_raise_a_clear_error(name):
    import mmcv.ops
    op = getattr(mmcv.ops, name)
    with pytest.raises(compat.MissingCompiledOpError, match=rf'mmcv\.ops\.{name} .*make mmcv-full'):
        op(torch.zeros(1))


def test_no_standin_when_compiled_ops_exist():
    # A process where `mmcv._ext` can be found: the stand-in must stay out of the way.
    code = (
        'import importlib.machinery, sys, types\n'
        "ext = types.ModuleType('mmcv._ext')\n"
        "ext.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)\n"
        "sys.modules['mmcv._ext'] = ext\n"
        'import importlib.util\n'
        f'spec = importlib.util.spec_from_file_location("compat", {compat.__file__!r})\n'
        'compat = importlib.util.module_from_spec(spec); spec.loader.exec_module(compat)\n'
        'assert compat.has_compiled_mmcv_ops()\n'
        'assert compat.install_mmcv_ops_standin() is False\n'
        "assert not isinstance(sys.modules.get('mmcv.ops'), compat._OpsStandIn)\n"
        "print('no-standin-ok')\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'no-standin-ok' in out.stdout


class _Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_outside_checkpoint_with_code_is_refused(tmp_path):
    from mmengine.runner import load_checkpoint
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': _Evil()}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(torch.nn.Linear(2, 2), str(path))


def test_plain_outside_weights_load(tmp_path):
    from mmengine.runner import load_checkpoint
    src, dst = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    torch.save(src.state_dict(), tmp_path / 'w.pth')
    load_checkpoint(dst, str(tmp_path / 'w.pth'))
    torch.testing.assert_close(dst.weight, src.weight)


def test_message_hub_round_trips_with_weights_only(tmp_path):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('compat-test')
    for i in range(5):
        hub.update_scalar('train/loss', float(i))
    hub.update_info('iter', 5)
    torch.save({'message_hub': hub.state_dict()}, tmp_path / 'hub.pth')
    state = torch.load(tmp_path / 'hub.pth', weights_only=True)['message_hub']
    restored = MessageHub.get_instance('compat-test-restored')
    restored.load_state_dict(state)
    assert restored.get_scalar('train/loss').mean() == pytest.approx(2.0)
    assert restored.get_scalar('train/loss').current() == 4.0
