import math

import numpy as np
import pytest
import torch

from mmseg_ext.active import scores as B
from mmseg_ext.active.ripu import pixel_scores, region_scores
from mmseg_ext.active.select import greedy_select
from mmseg_ext.active.strategies import LEGACY_NAMES, STRATEGIES, Budget, Pick, build_strategy, names

H, W, C = 48, 96, 6


def _logits(seed=0, c=C, h=H, w=W):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(c, h, w, generator=g) * 2


def _image(seed=0, h=H, w=W):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x > w // 3) * 200, (y > h // 2) * 180, ((x + y) > (h + w) // 3) * 150], -1)
    base = base + 60 * ((x // 8 + y // 8) % 2)[..., None]
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- budgets

def test_region_counts_cityscapes():
    ra = build_strategy('ripu_ra', k=1)
    assert ra.units_per_round(1024, 2048, Budget(ratio=0.022, rounds=5)) == 1026
    assert build_strategy('ripu_ra', k=9).units_per_round(
        1024, 2048, Budget(ratio=0.022, rounds=5)) == 26
    assert ra.units_per_round(1024, 2048, Budget(ratio=0.05, rounds=5)) == 2331
    for name in ('impurity', 'uncertainty', 'rand', 'ent', 'sconf', 'canny_ent'):
        assert build_strategy(name).units_per_round(
            1024, 2048, Budget(ratio=0.022, rounds=5)) == 1026, name


def test_pixel_counts_cityscapes():
    b = Budget(pixels=40, rounds=5, resolution=(640, 1280))
    assert build_strategy('ripu_pa').units_per_round(1024, 2048, b) == 21
    assert build_strategy('ent', unit='pixel').units_per_round(1024, 2048, b) == 21
    assert build_strategy('ripu_pa').units_per_round(1024, 2048, Budget(pixels=40, rounds=5)) == 8
    # a ratio budget also works for pixel units, a pixel budget for regions
    assert build_strategy('rand', unit='pixel').units_per_round(
        1024, 2048, Budget(ratio=0.022, rounds=5)) == 9228
    assert build_strategy('ripu_ra').units_per_round(64, 128, Budget(pixels=90, rounds=1)) == 10


def test_segment_counts_are_pixels():
    b = Budget(ratio=0.022, rounds=5)
    assert build_strategy('ripu_rect').units_per_round(1024, 2048, b) == math.ceil(
        1024 * 2048 * 0.022 / 5)
    assert build_strategy('ripu_superpixel').units_per_round(64, 128, b) == 37


@pytest.mark.parametrize('kwargs, match', [
    (dict(), 'exactly one'), (dict(ratio=0.1, pixels=3), 'exactly one'),
    (dict(ratio=1.5), 'ratio'), (dict(pixels=-1), 'pixels'),
    (dict(ratio=0.1, rounds=0), 'rounds'), (dict(ratio=0.1, resolution=(2, 2)), 'resolution'),
])
def test_budget_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Budget(**kwargs)


# ---------------------------------------------------------------- registry / options

def test_registry_and_unknown_name():
    assert set(names('image')) == {'RIPU-RA', 'RIPU-PA', 'RIPU-Impurity', 'RIPU-Uncertainty',
                                   'RAND', 'ENT', 'SCONF', 'MAR', 'Canny-ENT', 'RIPU-Rect',
                                   'RIPU-Superpixel', 'POINT-ENT'}
    for name in names('image'):
        cls = STRATEGIES.get(name)
        s = build_strategy(dict(type=name))
        assert isinstance(s, cls) and s.name == name and s.scope == 'image'
        assert s.unit in ('region', 'pixel', 'segment', 'point')
        assert set(s.options) == set(cls.defaults)  # defaults list every option
    for old, new in LEGACY_NAMES['image'].items():  # the names before the registry still work
        assert build_strategy(old).name == new
    with pytest.raises(ValueError) as e:
        build_strategy('nope')
    assert 'RIPU-RA' in str(e.value) and 'Canny-ENT' in str(e.value)
    with pytest.raises(ValueError, match='scope'):
        build_strategy('ADeADA', scope='image')
    assert len(set(names())) == len(names())  # unique across scopes


@pytest.mark.parametrize('name, kwargs, word', [
    ('ripu_ra', dict(k=-1), 'k'), ('ripu_ra', dict(k=1.5), 'k'), ('ripu_ra', dict(kk=1), 'kk'),
    ('ripu_pa', dict(radius=3), 'radius'), ('ent', dict(unit='image'), 'unit'),
    ('sconf', dict(suppress_radius=-2), 'suppress_radius'),
    ('ripu_rect', dict(cell=(0, 4)), 'cell'),
    ('ripu_superpixel', dict(n_segments=0), 'n_segments'),
    ('ripu_superpixel', dict(compactness=-1.0), 'compactness'),
    ('canny_ent', dict(low=300, high=100), 'low'),
    ('ripu_ra', dict(entropy_norm_classes=1), 'entropy_norm_classes'),
])
def test_bad_options(name, kwargs, word):
    with pytest.raises(ValueError, match=word):
        build_strategy(name, **kwargs)


def test_units_and_radii():
    assert build_strategy('ripu_ra').unit == 'region'
    assert build_strategy('ripu_pa').unit == 'pixel'
    assert build_strategy('ripu_rect').unit == 'segment'
    s = build_strategy('ent', unit='pixel')
    assert (s.unit, s.label_radius, s.suppress_radius) == ('pixel', 0, 0)
    s = build_strategy('ent', unit='pixel', suppress_radius=32)
    assert s.suppress_radius == 32
    s = build_strategy('sconf', k=2)
    assert (s.unit, s.label_radius, s.suppress_radius) == ('region', 2, 4)
    s = build_strategy('ripu_pa', k=5)
    assert (s.label_radius, s.suppress_radius) == (0, 5)


# ---------------------------------------------------------------- picks obey their unit

def _frame(k):
    b = torch.zeros(H, W, dtype=torch.bool)
    if k:
        b[:k], b[-k:], b[:, :k], b[:, -k:] = True, True, True, True
    return b


REGION = ['ripu_ra', 'impurity', 'uncertainty', 'rand', 'ent', 'sconf', 'mar', 'canny_ent']


@pytest.mark.parametrize('name', REGION)
@pytest.mark.parametrize('k', [1, 2])
def test_region_pick_area(name, k):
    s = build_strategy(name, k=k)
    count = 6
    blocked = _frame(k)  # centres away from the border: boxes are never clipped
    pick = s.select(_logits(), count, blocked=blocked, image=_image(),
                    generator=torch.Generator().manual_seed(0))
    assert isinstance(pick, Pick) and pick.units == count
    assert pick.centers.shape == (count, 2)
    assert int(pick.labelled.sum()) == count * (2 * k + 1) ** 2
    assert not blocked[pick.centers[:, 0], pick.centers[:, 1]].any()
    assert (pick.blocked >= blocked).all() and (pick.blocked >= pick.labelled).all()


@pytest.mark.parametrize('name, kwargs', [
    ('ripu_pa', dict(k=4)), ('rand', dict(unit='pixel')), ('ent', dict(unit='pixel')),
    ('sconf', dict(unit='pixel', suppress_radius=3)), ('mar', dict(unit='pixel')),
    ('canny_ent', dict(unit='pixel')),
])
def test_pixel_pick_count(name, kwargs):
    s = build_strategy(name, **kwargs)
    assert s.unit == 'pixel'
    pick = s.select(_logits(), 11, image=_image(), generator=torch.Generator().manual_seed(0))
    assert pick.units == 11 and int(pick.labelled.sum()) == 11
    assert torch.equal(pick.labelled[pick.centers[:, 0], pick.centers[:, 1]],
                       torch.ones(11, dtype=torch.bool))


@pytest.mark.parametrize('name', REGION + ['ripu_pa', 'ripu_rect', 'ripu_superpixel'])
def test_rounds_never_relabel(name):
    s = build_strategy(name, **({'k': 3} if name == 'ripu_pa' else {}))
    logits, img = _logits(3), _image(3)
    budget = Budget(ratio=0.05, rounds=2) if s.unit != 'pixel' else Budget(pixels=20, rounds=2)
    count = s.units_per_round(H, W, budget)
    gen = torch.Generator().manual_seed(1)
    p1 = s.select(logits, count, image=img, generator=gen)
    p2 = s.select(logits, count, blocked=p1.blocked, image=img, generator=gen)
    assert not (p1.labelled & p2.labelled).any()
    assert (p2.blocked >= p1.blocked).all()
    if p2.centers is not None and p2.centers.ndim == 2:
        assert not p1.blocked[p2.centers[:, 0], p2.centers[:, 1]].any()


def test_segment_pick_budget():
    img = _image()
    for s in (build_strategy('ripu_rect'), build_strategy('ripu_rect', cell=(3, 5)),
              build_strategy('ripu_superpixel', n_segments=64)):
        budget = s.units_per_round(H, W, Budget(ratio=0.05, rounds=1))
        pick = s.select(_logits(), budget, image=img)
        seg = s.segments(H, W, img)
        n = int(pick.labelled.sum())
        assert pick.units == pick.centers.numel() >= 1
        assert budget <= n < budget + int(torch.bincount(seg.flatten()).max())
        assert torch.equal(pick.labelled, torch.isin(seg, pick.centers))


def test_count_zero_and_missing_image():
    pick = build_strategy('ripu_ra').select(_logits(), 0)
    assert pick.units == 0 and not pick.labelled.any() and not pick.blocked.any()
    for name in ('canny_ent', 'ripu_superpixel'):
        with pytest.raises(ValueError, match='image'):
            build_strategy(name).select(_logits(), 3)
    with pytest.raises(ValueError, match='image'):
        build_strategy('canny_ent').select(_logits(), 3, image=_image(h=10))


def test_pool_exhaustion_raises():
    with pytest.raises(ValueError):
        build_strategy('ripu_pa', k=32).select(_logits(), 10)


# ---------------------------------------------------------------- what each strategy ranks

def test_ripu_strategies_use_ripu_scores():
    logits = _logits(4)
    for name, part in (('ripu_ra', 0), ('impurity', 1), ('uncertainty', 2)):
        pick = build_strategy(name, k=1).select(logits, 9)
        ref = greedy_select(region_scores(logits, 1)[part], 9, 1, 2)
        assert torch.equal(pick.centers, ref.centers), name
        assert torch.equal(pick.labelled, ref.labelled)
    pick = build_strategy('ripu_pa', k=5).select(logits, 7)
    ref = greedy_select(pixel_scores(logits, 5), 7, 0, 5)
    assert torch.equal(pick.centers, ref.centers)


def test_rand_reproducible():
    s = build_strategy('rand')
    a = s.select(_logits(), 10, generator=torch.Generator().manual_seed(7))
    b = s.select(_logits(1), 10, generator=torch.Generator().manual_seed(7))
    c = s.select(_logits(), 10, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a.centers, b.centers)  # independent of the logits
    assert not torch.equal(a.centers, c.centers)
    px = build_strategy('rand', unit='pixel')
    a = px.select(_logits(), 10, generator=torch.Generator().manual_seed(7))
    b = px.select(_logits(), 10, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.labelled, b.labelled)


def test_pixel_baselines_pick_top_scores():
    logits = _logits(5)
    p = torch.softmax(logits, 0)
    top2 = p.topk(2, 0).values
    for name, ref in (('sconf', 1 - p.max(0).values),
                      ('ent', -(p * torch.log(p + 1e-6)).sum(0)),
                      ('mar', top2[1] - top2[0])):
        pick = build_strategy(name, unit='pixel').select(logits, 15)
        thr = ref.flatten().topk(15).values[-1]
        assert (ref[pick.labelled] >= thr).all(), name
        assert int((ref > thr).sum()) <= 15


def test_region_baselines_first_pick_is_best_window():
    logits = _logits(6)
    for name, fn in (('ent', B.entropy), ('sconf', B.least_confidence)):
        pick = build_strategy(name, k=1).select(logits, 3)
        wm = B.window_mean(fn(logits), 1)
        r, c = pick.centers[0].tolist()
        assert wm[r, c] == wm.max(), name
        assert torch.equal(pick.centers, greedy_select(wm, 3, 1, 2).centers)


def test_canny_ent_only_edges():
    img = _image()
    edges = B.canny_edges(img)
    assert edges.dtype == torch.bool and 0 < int(edges.sum()) < H * W
    pick = build_strategy('canny_ent', unit='pixel').select(_logits(), 25, image=img)
    assert edges[pick.labelled].all()
    pick = build_strategy('canny_ent').select(_logits(), 5, image=img)
    assert edges[pick.centers[:, 0], pick.centers[:, 1]].all()
    ent = B.entropy(_logits()).masked_fill(~edges, float('-inf'))
    ref = greedy_select(ent, 25, 0, 0)
    pick = build_strategy('canny_ent', unit='pixel').select(_logits(), 25, image=img)
    assert torch.equal(pick.centers, ref.centers)


# ---------------------------------------------------------------- baseline scores

def test_baseline_scores():
    logits = _logits(7, c=4, h=5, w=6)
    p = torch.softmax(logits, 0).numpy().astype(np.float64)
    assert np.allclose(B.entropy(logits).numpy(), -(p * np.log(p + 1e-6)).sum(0), atol=1e-5)
    assert np.allclose(B.least_confidence(logits).numpy(), 1 - p.max(0), atol=1e-6)
    ps = np.sort(p, 0)
    assert np.allclose(B.margin(logits).numpy(), ps[-2] - ps[-1], atol=1e-6)
    x = torch.arange(30, dtype=torch.float32).view(5, 6)
    wm = B.window_mean(x, 1)
    assert wm[2, 3] == x[1:4, 2:5].mean() and wm[0, 0] == x[:2, :2].mean()
    r = B.random_scores((3, 4), torch.Generator().manual_seed(0))
    assert r.shape == (3, 4) and r.dtype == torch.float64 and ((r >= 0) & (r < 1)).all()
