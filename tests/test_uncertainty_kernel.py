"""The one entropy kernel (mmseg_ext.ops.uncertainty) gives, bit for bit, the expressions each
caller had before it existed (issue 22): every epsilon convention with its own op order."""
import math

import pytest
import torch

from mmseg_ext.active import point_ent, ripu, scores
from mmseg_ext.ops.uncertainty import (RIPU_EPS, TINY_EPS, entropy_of, plogp, self_information,
                                       sum_plogp, two_head_uncertainty)

DTYPES = (torch.float32, torch.float64)


def _probs(shape, dim, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(shape, generator=g, dtype=torch.float64) * 6
    logits.select(dim, 0).fill_(-float('inf'))  # exact zeros (0 log 0)
    return torch.softmax(logits, dim).to(dtype)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('dim', (0, 1))
def test_ripu_convention_add_1e_6(dtype, dim):
    p = _probs((5, 19, 33), dim, dtype)
    # active/scores.py entropy_of before the kernel: in place on one temporary
    assert torch.equal(entropy_of(p, dim), (p + 1e-6).log_().mul_(p).sum(dim).neg_())
    # active/scores.py segment impurity: not in place, multiplied the other way round
    assert torch.equal(entropy_of(p, dim, RIPU_EPS), -(p * (p + 1e-6).log()).sum(dim))
    # active/ripu.py: chunked into a preallocated output, per-class terms, the pure window
    want = torch.empty(p.sum(dim).shape, dtype=dtype)
    got = torch.empty_like(want)
    torch.sum((p + 1e-6).log_().mul_(p), dim, out=want)
    sum_plogp(p, dim, RIPU_EPS, out=got)
    assert torch.equal(got, want)
    assert torch.equal(plogp(p, RIPU_EPS), (p + 1e-6).log_().mul_(p))
    one = torch.ones((), dtype=dtype)
    assert float(-plogp(one, RIPU_EPS)) == float(-(one + 1e-6).log_().mul_(one))


@pytest.mark.parametrize('dtype', DTYPES)
def test_point_ent_convention_clamp_1e_30(dtype):
    p = _probs((19, 16, 24), 0, dtype)
    want = p.clamp_min(1e-30).log_().mul_(p).sum(0)
    assert torch.equal(sum_plogp(p, 0, TINY_EPS, clamp=True), want)
    assert torch.equal(point_ent.patch_entropy(p, (4, 6)),
                       want.view(4, 4, 6, 4).mean((1, 3)).neg_())
    assert not torch.equal(sum_plogp(p, 0, TINY_EPS), sum_plogp(p, 0, RIPU_EPS))


@pytest.mark.parametrize('dtype', DTYPES)  # half precision is softmaxed in float32 first
def test_advent_self_information_log2_1e_30(dtype):
    p = _probs((2, 19, 8, 9), 1, dtype)
    want = -p * torch.log2(p + 1e-30) / math.log2(19)
    assert torch.equal(self_information(p), want)


def _old_two_head(main, aux, gamma):
    """ADA-MCU Eq. 1-3 as active/adamcu.py computed it before the kernel (out of place)."""
    main = main if main.dtype in DTYPES else main.float()
    aux = aux if aux.dtype in DTYPES else aux.float()
    dtype = torch.promote_types(main.dtype, aux.dtype)
    log_p = torch.log_softmax(main.to(dtype), 1)
    p = log_p.exp()
    ent = torch.where(p > 0, p * log_p, 0).sum(1).neg().div(math.log(main.shape[1]))
    if gamma == 0:
        return ent
    log_q = torch.log_softmax(aux.to(dtype), 1)
    kl = torch.where(p > 0, (log_p - log_q) * p, 0).sum(1).clamp_min(0)
    return ent + kl * gamma


@pytest.mark.parametrize('dtypes', ((torch.float32, torch.float32), (torch.float64,) * 2,
                                    (torch.float16, torch.float16),
                                    (torch.float32, torch.float64)))
@pytest.mark.parametrize('gamma', (0.0, 0.5, 2.0))
def test_ada_mcu_convention_log_softmax_no_epsilon(dtypes, gamma):
    g = torch.Generator().manual_seed(3)
    main = (torch.randn(2, 19, 6, 7, generator=g) * 5)
    main[:, 3] = -float('inf')  # p = 0 counts as 0
    aux = torch.randn(2, 19, 6, 7, generator=g) * 5
    main, aux = main.to(dtypes[0]), aux.to(dtypes[1])
    assert torch.equal(two_head_uncertainty(main, aux, gamma), _old_two_head(main, aux, gamma))


def test_callers_use_the_kernel():
    """The acquisition scores are the kernel's, not copies of it."""
    assert scores.entropy_of is entropy_of and scores.two_head_uncertainty is two_head_uncertainty
    logits = torch.randn(19, 12, 16, generator=torch.Generator().manual_seed(1))
    e, _ = ripu._entropy_and_label(logits)
    assert torch.equal(e, scores.entropy(logits))
