"""ADA-MCU's online purchase (AdaptiveSamplingHook._buy) on the model's device (issue 24 item 3):
the uncertainty and the draw stay where the model's outputs are, only the bought pixels'
indices leave, and on the CPU it buys exactly what the code before the change bought (digests
computed with main at 35f2238)."""
import hashlib
import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch
from runner_utils import REPO
from test_image_selection_device import DeviceBound

# sha256 of (rel, bought flat indices, labels) of 2 purchases + the sampler state, per image set
EXPECTED = 'e351f03432bb0eb3'


def _bench():
    path = osp.join(REPO, 'benchmarks', 'bench_selection_round.py')
    spec = importlib.util.spec_from_file_location('bench_selection_round', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _buy_twice(tmp_path, wrap=False, device='cpu'):
    bench = _bench()
    model, pipeline = bench.model_of(bench.TINY['config'], device)
    pool = bench.pool_of(str(tmp_path), 3, bench.TINY['size'])
    hook, samples, runner = bench.adamcu_setup(model, pool, pipeline, budget=dict(ratio=0.2))
    if wrap:  # the heads' outputs refuse to move their float maps to the CPU
        for head in (model.decode_head, model.auxiliary_head):  # (forward_heads calls
            # head.forward, so the hooks go on the classifiers)
            head.conv_seg.register_forward_hook(lambda m, i, out: out.as_subclass(DeviceBound))
    hook._buy(runner, samples[:2], 0)
    hook._buy(runner, samples[1:], 1)
    h = hashlib.sha256()
    for rel in sorted(hook._pending):
        flat, labels = hook._pending[rel]
        h.update(rel.encode() + np.ascontiguousarray(flat, np.int64).tobytes()
                 + np.ascontiguousarray(labels).tobytes())
    h.update(repr(sorted(hook.sampler.state_dict().items())).encode())
    return h.hexdigest()[:16], hook.sampler.bought


def test_cpu_purchase_is_that_of_the_code_before(tmp_path):
    digest, bought = _buy_twice(tmp_path)
    assert bought > 0
    assert digest == EXPECTED


def test_only_bought_indices_leave_the_device(tmp_path):
    """The code before this change moved each image's uncertainty map to the CPU."""
    DeviceBound.limit, DeviceBound.moved, DeviceBound.seen = 64 * 128, [], 0
    with torch.no_grad():
        digest, bought = _buy_twice(tmp_path, wrap=True)
    assert DeviceBound.seen > 0 and DeviceBound.moved == []
    assert bought > 0 and digest == EXPECTED


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_purchase(tmp_path):
    """On CUDA the purchase runs on the device and buys (u may differ from the CPU's by float
    rounding, so the pixels may too)."""
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    _, bought_cpu = _buy_twice(tmp_path / 'a')
    _, bought_cuda = _buy_twice(tmp_path / 'b', device='cuda')
    assert bought_cuda > 0 and abs(bought_cuda - bought_cpu) <= 0.05 * bought_cpu
