"""Image-scope selection on the logits' device (issue 24 item 3): ActiveSelectionHook._pick
keeps scores, picks and pseudo labels where the logits are (only the pick masks leave), and on
the CPU its deltas are bit for bit those of the code before the change (digests below were
computed with that code, main at 35f2238)."""
import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from mmseg_ext.active.label_store import ActiveLabelStore
from mmseg_ext.hooks import ActiveSelectionHook
from mmseg_ext.hooks.target_pool import TargetPool

H, W, C = 32, 64, 19

# (name, strategy, budget) -> sha256 of what _pick handed the store, rounds 0 and 1
CASES = {
    'RIPU-RA': (dict(type='RIPU-RA', k=1), dict(ratio=0.04)),
    'RIPU-PA': (dict(type='RIPU-PA', k=2), dict(ratio=0.01)),
    'RIPU-Impurity': (dict(type='RIPU-Impurity', k=1), dict(ratio=0.04)),
    'RIPU-Uncertainty': (dict(type='RIPU-Uncertainty', k=2), dict(ratio=0.04)),
    'RIPU-Rect': (dict(type='RIPU-Rect', cell=(4, 8)), dict(ratio=0.04)),
    'RIPU-Superpixel': (dict(type='RIPU-Superpixel', n_segments=64), dict(ratio=0.02)),
    'RAND': (dict(type='RAND'), dict(ratio=0.04)),
    'RAND-pixel': (dict(type='RAND', unit='pixel'), dict(ratio=0.04)),
    'ENT': (dict(type='ENT'), dict(ratio=0.04)),
    'ENT-pixel': (dict(type='ENT', unit='pixel', suppress_radius=1), dict(ratio=0.02)),
    'SCONF': (dict(type='SCONF'), dict(ratio=0.04)),
    'MAR': (dict(type='MAR'), dict(ratio=0.04)),
    'Canny-ENT': (dict(type='Canny-ENT', unit='pixel'), dict(ratio=0.02)),
    'POINT-ENT': (dict(type='POINT-ENT', grid=(4, 8), k=5, points_per_patch=3), None),
    'POINT-ENT-dense': (dict(type='POINT-ENT', grid=(4, 8), k=5, points_per_patch=3,
                             pseudo='dense', stride=2), None),
    'POINT-ENT-random': (dict(type='POINT-ENT', grid=(4, 8), k=5, points_per_patch=3,
                              selection='random'), None),
}
EXPECTED = {
    'Canny-ENT': ['c3b73ed5ba5f8942', '79b0d8efa4ed6e2d', '2e428512fae80a32', 'dafca41797bca5f1'],
    'ENT': ['d33735ecf85f3d67', '21a4e55a1c5afea2', 'b88656be4b7d915d', 'cb5994bb67b2fa1a'],
    'ENT-pixel': ['bc2acc50d28121cb', '9ae3db09f9c95efe', '6d7efe2be7c78c4e', '1785e7bc28c84446'],
    'MAR': ['5673047a975367e1', '220a6686ce78ed54', '6bdab69ccdd7e007', '494db1af0a18509b'],
    'POINT-ENT': ['6b26578972df7701', 'e00d8e77532b65fa'],
    'POINT-ENT-dense': ['1613e88c66456f57', '9a40d04de6e890ed'],
    'POINT-ENT-random': ['591ab60cab66f301', '12792433226f9146'],
    'RAND': ['38664f3d75224bfc', '2da864bf18db1d6f', 'd5f1fc6d95b8cad4', 'b0cf3893d61b2932'],
    'RAND-pixel': ['f3ad8eea617e432a', 'b3f2a535b5320373', '2382a8fe6f8dcc57', 'c42e4dc791502606'],
    'RIPU-Impurity': ['6e65171dcd5b8583', '11be79a0d8072fa5', '1872e1c441fc932e', '3e2f4856ceecd591'],
    'RIPU-PA': ['fb273f1eb28944f1', 'c37732ca93ec14d7', 'ec16bdf40299fc9d', '71c85a7dad7cf896'],
    'RIPU-RA': ['82788a92cff66faa', 'b95d9e18e503d75e', '38345df9ec0e421d', 'eea9cf3d81688afb'],
    'RIPU-Rect': ['96f46a4dfc7510ec', 'bad15bbceed8e8ae', '9c26b1d8bee92555', 'c73217f021a107f6'],
    'RIPU-Superpixel': ['3f01583d3ac25856', 'bba8c2ae257872cb', '739da298a3e643d0', 'ae19c1b54ab624ae'],
    'RIPU-Uncertainty': ['313d4e8b6b169faf', 'cac5f51f7a864e39', '9edf1890dbf8d17c', '9af5d642e1d199f9'],
    'SCONF': ['36e037043e2240a6', '28e92b69c7070530', 'ecbed4ed436b4c31', '3e9d529d0e0ffeeb'],
}


def _pool(root, n=2):
    rng = np.random.default_rng(0)
    items, infos = [], []
    for i in range(n):
        gt = np.kron(rng.integers(0, C, (H // 8, W // 8), dtype=np.uint8),
                     np.ones((8, 8), np.uint8))
        gt[0, :5] = 255
        palette = rng.integers(0, 256, (C, 3), dtype=np.uint8)
        img = palette[np.minimum(gt, C - 1)] // 2 + rng.integers(0, 64, (H, W, 3), np.uint8)
        img_path, gt_path = root / f'img_{i}.png', root / f'gt_{i}.png'
        Image.fromarray(img).save(img_path)
        Image.fromarray(gt).save(gt_path)
        items.append((f'img_{i}.png', str(gt_path)))
        infos.append(dict(img_path=str(img_path), gt_seg_map_path=str(gt_path),
                          seg_map_path=str(root / 'store' / 'labels' / f'img_{i}.png')))
    store = ActiveLabelStore(root / 'store')
    store.initialise(items)
    pool = TargetPool(infos)
    pool.store = store
    return pool


def _logits(i):
    g = torch.Generator().manual_seed(100 + i)
    coarse = torch.randn((1, C, H // 4, W // 4), generator=g) * 3
    fine = torch.nn.functional.interpolate(coarse, size=(H, W), mode='bilinear',
                                           align_corners=False)[0]
    return fine + 0.3 * torch.randn((C, H, W), generator=g)


def _hook(pool, strategy, budget):
    hook = ActiveSelectionHook(select_iters=[0, 1], strategy=strategy, budget=budget)
    hook.pool = pool
    return hook


def _digest(delta):
    h = hashlib.sha256()
    for key in ('bought', 'blocked', 'pseudo', 'pseudo_labels'):
        if key in delta:
            h.update(key.encode() + np.ascontiguousarray(delta[key]).tobytes())
    h.update(repr(sorted(delta['row'].items())).encode())
    return h.hexdigest()[:16]


def _rounds(pool, strategy, budget, wrap=lambda x: x):
    hook, digests = _hook(pool, strategy, budget), []
    # a round that gives pseudo labels is the last one to touch them (POINT-ENT: one round)
    for round_index in range(1 if strategy['type'] == 'POINT-ENT' else 2):
        deltas = {}
        for index in range(len(pool)):
            deltas.update(hook._pick(index, wrap(_logits(index)), round_index))
        digests += [_digest(deltas[k]) for k in sorted(deltas)]
        pool.store.commit_round(round_index, round_index, deltas, strategy=hook.strategy.name)
    return digests


@pytest.mark.parametrize('name', sorted(CASES))
def test_cpu_picks_are_those_of_the_code_before(tmp_path, name):
    digests = _rounds(_pool(tmp_path), *CASES[name])
    assert digests == EXPECTED[name]


class DeviceBound(torch.Tensor):
    """Logits that stand for logits on an accelerator: moving a floating tensor of at least
    `limit` elements computed from them to the CPU (.cpu(), .numpy(), .tolist(), .to('cpu'))
    raises. Bool / integer results (pick masks, indices, pseudo classes) may leave."""
    limit = None
    moved = []
    seen = 0  # calls made on such tensors (the wrapping took effect)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        cls.seen += 1
        name = getattr(func, '__name__', '')
        if name in ('cpu', 'numpy', 'tolist', 'to', '__array__') and args:
            t = args[0]
            to_cpu = name != 'to' or any(
                (isinstance(a, (str, torch.device)) and torch.device(a).type == 'cpu')
                for a in (*args[1:], kwargs.get('device')) if a is not None)
            if to_cpu and isinstance(t, torch.Tensor) and t.is_floating_point() and \
                    t.numel() >= cls.limit:
                cls.moved.append((name, tuple(t.shape)))
                raise AssertionError(f'.{name}() of a {tuple(t.shape)} float map computed from '
                                     'the logits: it would leave the device')
        return super().__torch_function__(func, types, args, kwargs)


@pytest.mark.parametrize('name', sorted(CASES))
def test_only_masks_leave_the_logits_device(tmp_path, name):
    """Scores and picks are computed where the logits are: with logits that refuse to move
    their float maps to the CPU, a pick still gives the same deltas (the code before this
    change moved the logits to the CPU first: logits.float().cpu())."""
    DeviceBound.limit, DeviceBound.moved, DeviceBound.seen = H * W, [], 0
    wrap = lambda x: x.as_subclass(DeviceBound)  # noqa: E731
    assert _rounds(_pool(tmp_path), *CASES[name], wrap=wrap) == EXPECTED[name]
    assert DeviceBound.seen > 0 and DeviceBound.moved == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('name', sorted(CASES))
def test_cuda_picks(tmp_path, name):
    """On CUDA: the same budget bought; RAND draws the CPU's numbers, so its picks are the
    CPU's bit for bit (other scores may differ from the CPU's by float rounding)."""
    digests, rows = [], []
    for device, sub in (('cpu', 'a'), ('cuda', 'b')):
        (tmp_path / sub).mkdir()
        pool = _pool(tmp_path / sub)
        hook = _hook(pool, *CASES[name])
        deltas = {}
        for index in range(len(pool)):
            deltas.update(hook._pick(index, _logits(index).to(device), 0))
        digests.append([_digest(deltas[k]) for k in sorted(deltas)])
        rows.append([(deltas[k]['row']['units'], deltas[k]['row']['pixels'])
                     for k in sorted(deltas)])
    assert rows[0] == rows[1] or name.startswith('RIPU-Rect') or 'Superpixel' in name
    if name.startswith('RAND'):
        assert digests[0] == digests[1]
