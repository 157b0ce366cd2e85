"""ADA-MCU acquisition core: uncertainty (Eq. 1-3), groups, DCCM (Eq. 7-8) and the adaptive
sampling schedule of Algorithm 1 (mmseg_ext.ops.uncertainty, mmseg_ext.ops.category_correlation,
mmseg_ext.active.adamcu)."""
import json
import math

import numpy as np
import pytest
import torch

from mmseg_ext.active import adamcu
from mmseg_ext.ops import category_correlation as dccm_ops
from mmseg_ext.ops import uncertainty as unc

# ----------------------------------------------------------------------------- uncertainty


def _naive_uncertainty(main, aux, gamma):
    """Per-pixel Eq. 1-3 in numpy float64 with explicit sums over classes."""
    m, a = main.double().numpy(), aux.double().numpy()
    p = np.exp(m - m.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    q = np.exp(a - a.max(1, keepdims=True))
    q /= q.sum(1, keepdims=True)
    C = m.shape[1]
    ent = np.zeros(m.shape[:1] + m.shape[2:])
    kl = np.zeros_like(ent)
    for c in range(C):
        ent -= p[:, c] * np.log(p[:, c])
        kl += p[:, c] * (np.log(p[:, c]) - np.log(q[:, c]))
    return ent / math.log(C) + gamma * kl


@pytest.mark.parametrize('gamma', [0.0, 0.5, 2.0])
def test_uncertainty_matches_naive_formula(gamma):
    g = torch.Generator().manual_seed(0)
    main = torch.randn(2, 5, 4, 3, generator=g, dtype=torch.float64) * 3
    aux = torch.randn(2, 5, 4, 3, generator=g, dtype=torch.float64) * 3
    got = unc.two_head_uncertainty(main, aux, gamma)
    assert got.shape == (2, 4, 3) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), _naive_uncertainty(main, aux, gamma),
                               rtol=1e-12, atol=1e-12)


def test_uncertainty_gamma_zero_is_normalised_entropy():
    g = torch.Generator().manual_seed(1)
    main = torch.randn(1, 7, 3, 3, generator=g, dtype=torch.float64)
    aux = torch.randn(1, 7, 3, 3, generator=g, dtype=torch.float64)
    p = torch.softmax(main, 1)
    ent = -(p * p.log()).sum(1) / math.log(7)
    torch.testing.assert_close(unc.two_head_uncertainty(main, aux, 0), ent)
    # uniform prediction -> 1, near one-hot -> ~0, whatever the auxiliary head says
    flat = torch.zeros(1, 7, 1, 1, dtype=torch.float64)
    assert unc.two_head_uncertainty(flat, aux[..., :1, :1], 0).item() == pytest.approx(1.0)
    sharp = flat.clone()
    sharp[0, 3] = 60.0
    assert unc.two_head_uncertainty(sharp, flat, 0).item() < 1e-20


def test_uncertainty_identical_heads_have_zero_kl():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 4, 5, 6, generator=g, dtype=torch.float64)
    torch.testing.assert_close(unc.two_head_uncertainty(x, x, 5.0), unc.two_head_uncertainty(x, x, 0.0),
                               rtol=0, atol=0)
    # the KL part is gamma-linear and non-negative
    y = torch.randn(3, 4, 5, 6, generator=g, dtype=torch.float64)
    u0, u1, u2 = (unc.two_head_uncertainty(x, y, gm) for gm in (0.0, 1.0, 2.0))
    assert bool(((u1 - u0) >= 0).all())
    torch.testing.assert_close(u2 - u0, 2 * (u1 - u0))
    # KL(p || q) and not KL(q || p)
    kl_pq = (torch.softmax(x, 1) * (torch.log_softmax(x, 1) - torch.log_softmax(y, 1))).sum(1)
    torch.testing.assert_close(u1 - u0, kl_pq)


def test_uncertainty_dtypes():
    x = torch.randn(1, 3, 2, 2)
    assert unc.two_head_uncertainty(x, x, 0.5).dtype == torch.float32
    assert unc.two_head_uncertainty(x.half(), x.half(), 0.5).dtype == torch.float32
    assert unc.two_head_uncertainty(x, x.double(), 0.5).dtype == torch.float64


@pytest.mark.parametrize('main, aux, gamma, match', [
    (torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), -0.1, 'gamma'),
    (torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), float('nan'), 'gamma'),
    (torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 3), 0.5, 'same shape'),
    (torch.zeros(3, 2, 2), torch.zeros(3, 2, 2), 0.5, 'main_logits'),
    (torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2, dtype=torch.long), 0.5, 'aux_logits'),
    (torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), 0.5, 'at least 2 classes'),
])
def test_uncertainty_bad_inputs(main, aux, gamma, match):
    with pytest.raises(ValueError, match=match):
        unc.two_head_uncertainty(main, aux, gamma)


# ----------------------------------------------------------------------------- groups


def test_groups_boundaries():
    u = torch.tensor([[0.0, 0.2, 0.2999, 0.3, 0.5, 0.6999, 0.7, 1.3]])
    got = unc.uncertainty_groups(u, 0.7, 0.3)
    assert got.dtype == torch.long and got.shape == u.shape
    assert got.tolist() == [[0, 0, 0, 1, 1, 1, 2, 2]]
    # equal thresholds: no medium group
    assert unc.uncertainty_groups(u, 0.5, 0.5).tolist() == [[0, 0, 0, 0, 2, 2, 2, 2]]
    assert unc.uncertainty_groups(u.view(1, 2, 4), 0.7, 0.0).shape == (1, 2, 4)
    assert int(unc.uncertainty_groups(u, 0.7, 0.0).min()) == 1


@pytest.mark.parametrize('pi_high, pi_low', [(0.3, 0.7), (0.5, -0.1), (float('nan'), 0.1),
                                             (float('inf'), 0.1)])
def test_groups_bad_thresholds(pi_high, pi_low):
    with pytest.raises(ValueError, match='pi_low <= pi_high'):
        unc.uncertainty_groups(torch.zeros(1, 2, 2), pi_high, pi_low)


def test_groups_bad_scores():
    with pytest.raises(ValueError, match='floating'):
        unc.uncertainty_groups(torch.zeros(1, 2, 2, dtype=torch.long), 0.7, 0.3)
    with pytest.raises(ValueError, match='NaN'):
        unc.uncertainty_groups(torch.tensor([[[float('nan')]]]), 0.7, 0.3)


# ----------------------------------------------------------------------------- DCCM


def _batch1():
    # class 0: 4 pixels predicted 0, 0, 1, 2; class 1: 2 pixels predicted 1, 0;
    # class 2 absent; two 255 pixels (predicted 2 and 1) must be ignored.
    label = torch.tensor([[[0, 0, 0, 0], [1, 1, 255, 255]]])
    pred = torch.tensor([[[0, 0, 1, 2], [1, 0, 2, 1]]])
    return pred, label


def test_confusion_rates_hand_example():
    pred, label = _batch1()
    R, present = dccm_ops.confusion_rates(pred, label, 3)
    assert R.dtype == torch.float64
    assert R.tolist() == [[0.5, 0.25, 0.25], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]
    assert present.tolist() == [True, True, False]


def test_dccm_update_exact_ema():
    dccm = dccm_ops.CategoryCorrelation(3, 0.9).double()
    assert isinstance(dccm, torch.nn.Module)
    assert dccm.weights.shape == (3, 3) and not dccm.weights.any()
    dccm.update(*_batch1())
    exp = torch.tensor([[0.05, 0.025, 0.025], [0.05, 0.05, 0.0], [0.0, 0.0, 0.0]],
                       dtype=torch.float64)
    torch.testing.assert_close(dccm.weights, exp)
    # only class 2 present: rows 0 and 1 unchanged
    label = torch.full((1, 2, 2), 2)
    pred = torch.tensor([[[2, 2], [2, 0]]])
    R, present = dccm.update(pred, label)
    assert present.tolist() == [False, False, True]
    exp[2] = torch.tensor([0.025, 0.0, 0.075], dtype=torch.float64)
    torch.testing.assert_close(dccm.weights, exp)
    # class 0 again, all correct: W0 = 0.9 * W0 + 0.1 * [1, 0, 0]
    dccm.update(torch.zeros(2, 1, 3, dtype=torch.long), torch.zeros(2, 1, 3, dtype=torch.long))
    exp[0] = torch.tensor([0.145, 0.0225, 0.0225], dtype=torch.float64)
    torch.testing.assert_close(dccm.weights, exp)
    # an all-ignored batch changes nothing
    dccm.update(torch.zeros(1, 2, 2, dtype=torch.long), torch.full((1, 2, 2), 255))
    torch.testing.assert_close(dccm.weights, exp)


def test_dccm_momentum_zero_is_last_batch_and_float32_default():
    dccm = dccm_ops.CategoryCorrelation(3, 0.0)
    assert dccm.weights.dtype == torch.float32
    pred, label = _batch1()
    dccm.update(pred, label)
    dccm.update(pred, label)
    R, _ = dccm_ops.confusion_rates(pred, label, 3)
    torch.testing.assert_close(dccm.weights, R.float())


def test_dccm_state_dict_round_trip():
    dccm = dccm_ops.CategoryCorrelation(3, 0.9)
    dccm.update(*_batch1())
    sd = dccm.state_dict()
    assert list(sd) == ['weights']
    other = dccm_ops.CategoryCorrelation(3, 0.9)
    other.load_state_dict(sd)
    torch.testing.assert_close(other.weights, dccm.weights, rtol=0, atol=0)
    with pytest.raises(RuntimeError):
        dccm_ops.CategoryCorrelation(4, 0.9).load_state_dict(sd)


@pytest.mark.parametrize('num_classes, momentum, match', [
    (3, 1.0, 'momentum'), (3, -0.1, 'momentum'), (3, float('nan'), 'momentum'),
    (0, 0.9, 'num_classes'), (True, 0.9, 'num_classes'), (2.0, 0.9, 'num_classes'),
])
def test_dccm_bad_config(num_classes, momentum, match):
    with pytest.raises(ValueError, match=match):
        dccm_ops.CategoryCorrelation(num_classes, momentum)


@pytest.mark.parametrize('pred, label, match', [
    (torch.zeros(1, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), 'integer'),
    (torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long), 'pred'),
    (torch.zeros(1, 2, 2, dtype=torch.long), torch.zeros(1, 2, 3, dtype=torch.long), 'same shape'),
    (torch.zeros(1, 2, 2, dtype=torch.long), torch.full((1, 2, 2), 3), 'label values'),
    (torch.full((1, 2, 2), 3), torch.zeros(1, 2, 2, dtype=torch.long), 'pred values'),
    (torch.zeros(1, 2, 2, dtype=torch.long), torch.zeros(1, 2, 2, dtype=torch.bool), 'integer'),
])
def test_dccm_bad_update(pred, label, match):
    dccm = dccm_ops.CategoryCorrelation(3, 0.9)
    with pytest.raises(ValueError, match=match):
        dccm.update(pred, label)
    assert not dccm.weights.any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_dccm_cuda_matches_cpu():
    cpu = dccm_ops.CategoryCorrelation(3, 0.9)
    gpu = dccm_ops.CategoryCorrelation(3, 0.9).cuda()
    pred, label = _batch1()
    cpu.update(pred, label)
    gpu.update(pred.cuda(), label.cuda())
    torch.testing.assert_close(gpu.weights.cpu(), cpu.weights)


# ----------------------------------------------------------------------------- sampler


def _map():
    """10 x 10 map: 4 pixels at 0.95, 20 at 0.85, 30 at 0.5, 46 at 0.1."""
    u = torch.full((100,), 0.1)
    u[:4] = 0.95
    u[4:24] = 0.85
    u[24:54] = 0.5
    return u[torch.randperm(100, generator=torch.Generator().manual_seed(3))].view(10, 10)


def test_sampler_algorithm1_schedule():
    s = adamcu.AdaptiveSampler(10, 1.0, 0.2, decay=0.9)
    assert (s.high_budget, s.medium_budget, s.phase, s.pi_high) == (5, 5, 'high', 1.0)
    u, blocked = _map(), torch.zeros(10, 10, dtype=torch.bool)
    g = torch.Generator().manual_seed(0)
    # call 1: pi_high 0.9, 4 candidates at 0.95, half of them bought
    m = s.select(u, blocked, g)
    assert s.pi_high == pytest.approx(0.9)
    assert int(m.sum()) == 2 and bool((u[m] == 0.95).all())
    assert (s.bought_high, s.bought, s.phase) == (2, 2, 'high')
    blocked |= m
    # call 2: pi_high 0.81, 22 candidates, half is 11 but only 3 left of M_e / 2
    m = s.select(u, blocked, g)
    assert s.pi_high == pytest.approx(0.81)
    assert int(m.sum()) == 3 and bool((u[m] >= 0.81).all()) and not (m & blocked).any()
    assert (s.bought_high, s.phase) == (5, 'medium')
    blocked |= m
    # call 3: medium group only, pi_high frozen
    m = s.select(u, blocked, g)
    assert s.pi_high == pytest.approx(0.81)
    assert int(m.sum()) == 5 and bool((u[m] == 0.5).all()) and not (m & blocked).any()
    assert (s.bought_medium, s.bought, s.phase) == (5, 10, 'done')
    blocked |= m
    # afterwards nothing, whatever is left
    for _ in range(3):
        m = s.select(u, torch.zeros_like(blocked), g)
        assert not m.any() and s.bought == 10 and s.pi_high == pytest.approx(0.81)
    assert s.phase == 'done'


def test_sampler_pi_high_decays_every_high_call_and_clamps_at_pi_low():
    s = adamcu.AdaptiveSampler(4, 1.0, 0.3, decay=0.9)
    u = torch.full((2, 3, 3), 0.2)  # all low: nothing to buy, schedule stays 'high'
    blocked = torch.zeros(2, 3, 3, dtype=torch.bool)
    for k in range(1, 8):
        assert not s.select(u, blocked).any()
        assert s.pi_high == pytest.approx(max(0.9 ** k, 0.3))
        assert s.phase == 'high' and s.num_decays == k
    assert s.pi_high == pytest.approx(0.4782969)
    for _ in range(20):
        s.select(u, blocked)
    assert s.pi_high == 0.3  # clamped, groups stay ordered
    # decay 1.0: pi_high constant
    s1 = adamcu.AdaptiveSampler(4, 0.8, 0.3, decay=1.0)
    s1.select(u, blocked)
    assert s1.pi_high == 0.8


def test_sampler_high_phase_decays_before_grouping():
    # Algorithm 1 l. 7: pi_high <- pi_high * r, then G_h; a 0.92 pixel is high at once
    s = adamcu.AdaptiveSampler(2, 1.0, 0.1, decay=0.9)
    u = torch.tensor([[0.92, 0.5]])
    m = s.select(u, torch.zeros(1, 2, dtype=torch.bool))
    assert m.tolist() == [[True, False]] and s.phase == 'medium'


def test_sampler_never_rebuys_blocked():
    g = torch.Generator().manual_seed(5)
    u = torch.rand(3, 16, 16, generator=g)
    blocked = torch.rand(3, 16, 16, generator=g) < 0.5
    s = adamcu.AdaptiveSampler(60, 0.5, 0.1, decay=0.9)
    total = 0
    for _ in range(50):
        if s.phase == 'done':
            break
        m = s.select(u, blocked, g)
        assert m.shape == u.shape and m.dtype == torch.bool
        assert not (m & blocked).any()
        blocked |= m
        total += int(m.sum())
    assert total == s.bought == 60
    # everything blocked: nothing bought even in the high phase, pi_high still decays
    s = adamcu.AdaptiveSampler(5, 0.5, 0.1)
    assert not s.select(u, torch.ones_like(blocked)).any()
    assert s.bought == 0 and s.num_decays == 1


def test_sampler_odd_budget_and_exact_totals():
    s = adamcu.AdaptiveSampler(5, 0.5, 0.1, decay=0.9)
    assert (s.high_budget, s.medium_budget) == (3, 2)
    u = torch.linspace(0, 1, 400).view(20, 20)
    blocked = torch.zeros(20, 20, dtype=torch.bool)
    m = s.select(u, blocked)
    assert int(m.sum()) == 3 and s.phase == 'medium'
    m2 = s.select(u, blocked | m)
    assert int(m2.sum()) == 2 and s.phase == 'done' and s.bought == 5
    assert bool(((u[m2] >= 0.1) & (u[m2] < 0.45)).all())
    assert adamcu.AdaptiveSampler(1, 0.5, 0.1).medium_budget == 0


def test_sampler_draws_uniformly_not_topk():
    # budget 2: one high pixel, then one medium pixel out of 10 with rising scores
    u = torch.tensor([[0.99] + [0.3 + 0.04 * i for i in range(10)]])
    counts = torch.zeros(11)
    g = torch.Generator().manual_seed(7)
    n = 2000
    for _ in range(n):
        s = adamcu.AdaptiveSampler(2, 1.0, 0.2, decay=0.9)
        blocked = s.select(u, torch.zeros(1, 11, dtype=torch.bool), g)
        assert blocked.tolist()[0][0]
        counts += s.select(u, blocked, g)[0].float()
    assert counts[0] == 0 and counts.sum() == n
    assert bool(((counts[1:] > 0.07 * n) & (counts[1:] < 0.13 * n)).all()), counts
    # high phase: 4 candidates, half bought uniformly -> each about 50 %
    u = torch.tensor([[0.91, 0.93, 0.95, 0.97, 0.1]])
    hits = torch.zeros(5)
    for _ in range(1000):
        s = adamcu.AdaptiveSampler(10, 1.0, 0.2)
        hits += s.select(u, torch.zeros(1, 5, dtype=torch.bool), g)[0].float()
    assert hits[4] == 0 and bool(((hits[:4] > 420) & (hits[:4] < 580)).all()), hits


def test_sampler_fractions():
    u = torch.full((1, 10), 0.9)
    s = adamcu.AdaptiveSampler(100, 0.95, 0.1, high_fraction=1.0)
    assert int(s.select(u, torch.zeros(1, 10, dtype=torch.bool)).sum()) == 10
    s = adamcu.AdaptiveSampler(100, 0.95, 0.1, high_fraction=0.25)
    assert int(s.select(u, torch.zeros(1, 10, dtype=torch.bool)).sum()) == 3  # ceil(2.5)
    s = adamcu.AdaptiveSampler(100, 0.95, 0.1)
    assert int(s.select(u[:, :1], torch.zeros(1, 1, dtype=torch.bool)).sum()) == 1  # ceil(.5)


def test_sampler_generator_determinism_and_shapes():
    u = torch.rand(2, 6, 6, generator=torch.Generator().manual_seed(0))
    z = torch.zeros(2, 6, 6, dtype=torch.bool)
    a = adamcu.AdaptiveSampler(20, 0.8, 0.1).select(u, z, torch.Generator().manual_seed(1))
    b = adamcu.AdaptiveSampler(20, 0.8, 0.1).select(u, z, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.any()
    m = adamcu.AdaptiveSampler(20, 0.8, 0.1).select(u[0], z[0])
    assert m.shape == (6, 6)


def test_sampler_state_round_trip():
    u = torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(0))
    s = adamcu.AdaptiveSampler(40, 1.0, 0.2, decay=0.9)
    g = torch.Generator().manual_seed(2)
    blocked = torch.zeros(2, 8, 8, dtype=torch.bool)
    for _ in range(3):
        blocked |= s.select(u, blocked, g)
    sd = s.state_dict()
    sd = json.loads(json.dumps(sd))  # plain Python numbers
    resumed = adamcu.AdaptiveSampler(40, 1.0, 0.2, decay=0.9)
    assert resumed.phase == 'high' and resumed.pi_high == 1.0
    resumed.load_state_dict(sd)
    for key in ('pi_high', 'bought_high', 'bought_medium', 'num_decays', 'phase', 'bought'):
        assert getattr(resumed, key) == getattr(s, key), key
    g2 = torch.Generator()
    g2.set_state(g.get_state())
    b2 = blocked.clone()
    for _ in range(50):
        if s.phase == 'done':
            break
        m1, m2 = s.select(u, blocked, g), resumed.select(u, b2, g2)
        assert torch.equal(m1, m2)
        blocked |= m1
        b2 |= m2
        assert resumed.state_dict() == s.state_dict()
    assert resumed.phase == 'done' and resumed.bought == 40


def test_sampler_load_state_dict_rejects_mismatch():
    sd = adamcu.AdaptiveSampler(40, 1.0, 0.2).state_dict()
    with pytest.raises(ValueError, match='budget'):
        adamcu.AdaptiveSampler(30, 1.0, 0.2).load_state_dict(sd)
    with pytest.raises(ValueError, match='decay'):
        adamcu.AdaptiveSampler(40, 1.0, 0.2, decay=0.8).load_state_dict(sd)
    bad = dict(sd)
    del bad['num_decays']
    with pytest.raises(ValueError, match='missing'):
        adamcu.AdaptiveSampler(40, 1.0, 0.2).load_state_dict(bad)
    bad = dict(sd, bought_high=21)
    with pytest.raises(ValueError, match='budget'):
        adamcu.AdaptiveSampler(40, 1.0, 0.2).load_state_dict(bad)


@pytest.mark.parametrize('kwargs, match', [
    (dict(budget=0, pi_high=0.7, pi_low=0.3), 'budget'),
    (dict(budget=-5, pi_high=0.7, pi_low=0.3), 'budget'),
    (dict(budget=2.5, pi_high=0.7, pi_low=0.3), 'budget'),
    (dict(budget=10, pi_high=0.3, pi_low=0.7), 'pi_low <= pi_high'),
    (dict(budget=10, pi_high=0.7, pi_low=-0.1), 'pi_low <= pi_high'),
    (dict(budget=10, pi_high=0.7, pi_low=0.3, decay=0.0), 'decay'),
    (dict(budget=10, pi_high=0.7, pi_low=0.3, decay=1.1), 'decay'),
    (dict(budget=10, pi_high=0.7, pi_low=0.3, high_fraction=0.0), 'high_fraction'),
    (dict(budget=10, pi_high=0.7, pi_low=0.3, medium_fraction=1.5), 'medium_fraction'),
])
def test_sampler_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        adamcu.AdaptiveSampler(**kwargs)


def test_sampler_bad_select_inputs():
    s = adamcu.AdaptiveSampler(10, 0.7, 0.3)
    u = torch.rand(4, 4)
    with pytest.raises(ValueError, match='blocked'):
        s.select(u, torch.zeros(4, 4))
    with pytest.raises(ValueError, match='blocked'):
        s.select(u, torch.zeros(4, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r'\(H, W\)'):
        s.select(u.view(1, 1, 4, 4), torch.zeros(1, 1, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match='floating'):
        s.select(torch.zeros(4, 4, dtype=torch.long), torch.zeros(4, 4, dtype=torch.bool))
    assert s.num_decays == 0 and s.bought == 0  # failed calls do not advance the schedule


def test_sampler_decays_once_per_decay_every_calls():
    """decay_every=k: the text's per-epoch decay; the first call of every k decays."""
    u = torch.full((4, 4), 0.95)
    s = adamcu.AdaptiveSampler(1000, 1.0, 0.1, decay=0.5, high_fraction=0.0625, decay_every=3)
    decays = []
    for _ in range(7):
        s.select(u, torch.zeros(4, 4, dtype=torch.bool))
        decays.append(s.num_decays)
    assert decays == [1, 1, 1, 2, 2, 2, 3]
    assert s.pi_high == pytest.approx(max(0.125, 0.1))
    resumed = adamcu.AdaptiveSampler(1000, 1.0, 0.1, decay=0.5, high_fraction=0.0625,
                                     decay_every=3)
    resumed.load_state_dict(s.state_dict())
    assert resumed.high_calls == 7 and resumed.num_decays == 3
    with pytest.raises(ValueError, match='decay_every'):
        adamcu.AdaptiveSampler(10, 1.0, 0.1, decay_every=0)
