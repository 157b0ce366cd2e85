"""Dataset-wide region acquisition: region statistics (region_pool) and the strategies under a
pixel budget (pool-scope strategies), on hand-made pools."""

import pytest
import torch

from mmseg_ext.active import adeada
from mmseg_ext.active import scores as B
from mmseg_ext.active.region_pool import RegionPool, image_regions
from mmseg_ext.active.region_pool import FEATS
from mmseg_ext.active.strategies import SOURCE, build_strategy, names
from mmseg_ext.active.units import take_budget


def build_region_strategy(name, **options):
    """A pool-scope strategy by its old name (the names before the registry still work)."""
    return build_strategy(name, scope='pool', **options)


# ----------------------------------------------------------------------------- image_regions

def test_image_regions_match_a_naive_loop():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 6, 7, generator=g, dtype=torch.float64)
    feats = torch.randn(3, 6, 7, generator=g, dtype=torch.float64)
    seg = torch.randint(0, 4, (6, 7), generator=g)
    seg[seg == 2] = 3  # id 2 has no pixels: no row
    blocked = torch.zeros(6, 7, dtype=torch.bool)
    blocked[0, 0] = True
    rows = image_regions(logits, seg, blocked, feats)
    assert rows['segment'].tolist() == [0, 1, 3]
    p = torch.softmax(logits, 0)
    maps = dict(entropy=B.entropy(logits), confidence=B.least_confidence(logits),
                margin=B.margin(logits))
    for i, s in enumerate(rows['segment'].tolist()):
        m = seg == s
        assert rows['size'][i] == m.sum()
        assert bool(rows['available'][i]) == (not bool(blocked[m].any()))
        torch.testing.assert_close(rows['probs'][i], p[:, m].mean(1))
        torch.testing.assert_close(rows['feats'][i], feats[:, m].mean(1))
        for key, value in maps.items():
            torch.testing.assert_close(rows[key][i], value[m].mean(), msg=key)


def test_image_regions_checks_shapes():
    with pytest.raises(ValueError, match='segments'):
        image_regions(torch.zeros(2, 4, 4), torch.zeros(4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match='needs feats'):
        image_regions(torch.zeros(2, 4, 4), torch.zeros(4, 4, dtype=torch.long), grad=True)


# ----------------------------------------------------------------------------- pools

def _pool(sizes, entropy, classes=None, feats=None, available=None, num_classes=3):
    n = len(sizes)
    classes = torch.as_tensor(classes if classes is not None else [0] * n)
    probs = torch.full((n, num_classes), 0.1, dtype=torch.float64)
    probs[torch.arange(n), classes] = 0.8
    ent = torch.as_tensor(entropy, dtype=torch.float64)
    return RegionPool(image=torch.arange(n), segment=torch.zeros(n, dtype=torch.long),
                      size=torch.as_tensor(sizes), probs=probs, entropy=ent,
                      confidence=-ent, margin=ent * 2,
                      available=torch.ones(n, dtype=torch.bool) if available is None
                      else torch.as_tensor(available),
                      feats=feats)


def test_take_budget_stops_before_or_keeps_the_crossing_region():
    order, size = torch.tensor([2, 0, 1]), torch.tensor([10, 20, 30])
    assert take_budget(order, size, 45).tolist() == [2, 0]  # 30 + 10 = 40 <= 45 < 60
    assert take_budget(order, size, 45, overshoot=True).tolist() == [2, 0, 1]
    assert take_budget(order, size, 40).tolist() == [2, 0]
    assert take_budget(order, size, 40, overshoot=True).tolist() == [2, 0, 1]  # D2ADA: > budget
    assert take_budget(order, size, 0, overshoot=True).tolist() == [2]  # B <= 0: one region
    assert take_budget(order, size, 0).tolist() == []


def test_score_strategies_rank_the_whole_pool_and_skip_bought_regions():
    pool = _pool([10] * 5, [0.1, 0.9, 0.5, 0.7, 0.3], available=[1, 0, 1, 1, 1])
    assert build_region_strategy('ent').select(pool, 25).tolist() == [3, 2]
    assert build_region_strategy('conf').select(pool, 25).tolist() == [0, 4]  # confidence = -ent
    assert build_region_strategy('mar').select(pool, 30).tolist() == [3, 2, 4]
    rand = build_region_strategy('rand')
    picks = [tuple(rand.select(pool, 20, generator=torch.Generator().manual_seed(s)).tolist())
             for s in range(20)]
    assert all(1 not in p and len(p) == 2 for p in picks) and len(set(picks)) > 3


def test_budget_errors_are_one_line():
    pool = _pool([10] * 3, [0.1, 0.2, 0.3], available=[1, 1, 0])
    with pytest.raises(ValueError, match=r'above the 20 pixels'):
        build_region_strategy('ent').select(pool, 25)
    for bad in (0, -5, float('nan')):
        with pytest.raises(ValueError, match='must be > 0'):
            build_region_strategy('ent').select(pool, bad)
    with pytest.raises(ValueError, match='unknown strategy'):
        build_region_strategy('nope')
    with pytest.raises(ValueError, match='unknown option'):
        build_region_strategy('ent', alpha=1)
    with pytest.raises(ValueError, match='needs the source'):
        build_region_strategy('adeada').select(pool, 10)


@pytest.mark.parametrize('key,value', [('alpha', -0.1), ('beta', -1), ('alpha', float('inf')),
                                       ('decay', 'cosine'), ('sigma', 'log10'),
                                       ('candidate_cap', 0), ('ignore_classes', (-1,)),
                                       ('category_balance', 1)])
def test_adeada_rejects_bad_options(key, value):
    with pytest.raises(ValueError, match=f'option {key} must be'):
        build_region_strategy('adeada', **{key: value})


def test_adeada_schedules():
    half = build_region_strategy('adeada', alpha=1.0, beta=1.0)
    assert [half.fraction(k) for k in (1, 2, 3)] == [1.0, 0.5, 0.25]
    linear = build_region_strategy('adeada', alpha=1.0, beta=0.2, decay='linear')
    assert [round(linear.fraction(k), 6) for k in (1, 2, 5, 7)] == [1.0, 0.8, 0.2, 0.0]
    even = build_region_strategy('adeada', alpha=0.5, beta=0.0)
    assert {even.fraction(k) for k in range(1, 6)} == {0.5}
    reference = build_region_strategy('adeada', indexing='reference')
    assert reference.fraction(1) == 2.0 and reference.fraction(2) == 1.0  # D2ADA, unclipped
    assert SOURCE not in build_region_strategy('adeada', alpha=0.0).needs_at(1)
    assert build_region_strategy('adeada', alpha=2.0).fraction(1) == 1.0  # paper: clipped


def _domains(seed=0, n=600, shift=3.0):
    """Two classes; the target's class 1 has a cluster the source lacks (shifted by `shift`)."""
    g = torch.Generator().manual_seed(seed)
    src_cls = torch.randint(0, 2, (n,), generator=g)
    src = torch.randn(n, 2, generator=g, dtype=torch.float64) + src_cls[:, None] * 5.0
    tgt_cls = torch.randint(0, 2, (n,), generator=g)
    tgt = torch.randn(n, 2, generator=g, dtype=torch.float64) + tgt_cls[:, None] * 5.0
    novel = (tgt_cls == 1) & (torch.arange(n) % 2 == 0)
    tgt[novel, 0] += shift * 3
    return src, src_cls, tgt, tgt_cls, novel


def test_adeada_density_buys_target_regions_unlike_the_source():
    src, src_cls, tgt, tgt_cls, novel = _domains()
    n = len(tgt)
    source = _pool([1] * n, [0.0] * n, src_cls.tolist(), src)
    entropy = torch.rand(n, generator=torch.Generator().manual_seed(1))
    pool = _pool([1] * n, entropy.tolist(), tgt_cls.tolist(), tgt)
    density = build_region_strategy('adeada', alpha=1.0, beta=0.0, category_balance=False)
    picks = density.select(pool, 60, 1, source, torch.Generator().manual_seed(0))
    assert len(picks) == 60 and novel[picks].float().mean() > 0.9
    uncertainty = build_region_strategy('adeada', alpha=0.0)
    picks = uncertainty.select(pool, 60, 1, None)
    assert picks.tolist() == torch.sort(entropy, descending=True, stable=True).indices[:60].tolist()


def test_adeada_category_budgets_and_the_uncertainty_share():
    src, src_cls, tgt, tgt_cls, novel = _domains()
    n = len(tgt)
    source = _pool([1] * n, [0.0] * n, src_cls.tolist(), src)
    pool = _pool([1] * n, torch.linspace(0, 1, n).tolist(), tgt_cls.tolist(), tgt)
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    balanced = build_region_strategy('adeada', alpha=1.0, beta=0.0, sigma='log')
    picks = balanced.select(pool, 100, 1, source, gen())
    seed = int(torch.randint(2 ** 31 - 1, (1,), generator=gen()))  # as the strategy draws it
    scores = adeada.importance(src, src_cls, tgt, tgt_cls, 3, seed=seed)
    budgets = adeada.class_budgets(adeada.class_kl(scores, tgt_cls, 3), 100, 'log')
    got = torch.bincount(tgt_cls[picks], minlength=3)
    assert got.tolist() == budgets.tolist() and budgets[1] > budgets[0]  # shifted class: more
    for c in (0, 1):  # each class buys its most important regions
        mine = picks[tgt_cls[picks] == c]
        rest = torch.nonzero(tgt_cls == c).flatten()
        assert scores[mine].min() >= scores[rest[~torch.isin(rest, mine)]].max()
    # half of round 2 by density (a 50-pixel density budget), the rest by entropy
    half = build_region_strategy('adeada', alpha=1.0, beta=1.0)
    picks = half.select(pool, 100, 2, source, gen())
    assert len(picks) == 100
    dens, ent = picks[:50], picks[50:]
    left = torch.nonzero(~torch.isin(torch.arange(n), dens)).flatten()
    top = left[torch.sort(pool.entropy[left], descending=True, stable=True).indices[:50]]
    assert ent.tolist() == top.tolist()
    # ignored classes get no density budget
    skip = build_region_strategy('adeada', alpha=1.0, beta=0.0, ignore_classes=(1,))
    picks = skip.select(pool, 100, 1, source, gen())
    assert (tgt_cls[picks] == 0).all()


def test_adeada_without_fittable_classes_falls_back_to_entropy():
    # every target region predicted as a class the source never predicts: NaN importance
    src, src_cls, tgt, tgt_cls, _ = _domains()
    n = len(tgt)
    source = _pool([1] * n, [0.0] * n, [0] * n, src)
    pool = _pool([1] * n, torch.linspace(0, 1, n).tolist(), [2] * n, tgt)
    picks = build_region_strategy('adeada').select(pool, 10, 1, source)
    assert picks.tolist() == list(range(n - 1, n - 11, -1))


def test_overshoot_reference_buys_one_uncertainty_region_after_a_full_density_round():
    src, src_cls, tgt, tgt_cls, _ = _domains()
    n = len(tgt)
    source = _pool([1] * n, [0.0] * n, src_cls.tolist(), src)
    pool = _pool([3] * n, torch.linspace(0, 1, n).tolist(), tgt_cls.tolist(), tgt)
    ref = build_region_strategy('adeada', indexing='reference', overshoot=True)
    picks = ref.select(pool, 30, 2, source, torch.Generator().manual_seed(0))  # f_2 = 1
    # density budget 30 px in 3-px regions: each class keeps the region crossing its budget,
    # so the density part exceeds 30 px; the uncertainty budget (< 0) still buys one region
    density, last = picks[:-1], int(picks[-1])
    assert int(pool.size[density].sum()) > 30
    rest = [i for i in range(n) if i not in set(density.tolist())]
    assert last == max(rest, key=lambda i: (float(pool.entropy[i]), -i))
    paper = build_region_strategy('adeada').select(pool, 30, 2, source,
                                                   torch.Generator().manual_seed(0))
    assert int(pool.size[paper].sum()) == 30


def test_registry_names():
    assert names('pool') == sorted(['Pool-RAND', 'Pool-ENT', 'Pool-CONF', 'Pool-MAR', 'BADGE',
                                    'ReDAL', 'AADA', 'CLUE', 'ADeADA'])
    for name in ('badge', 'clue', 'redal', 'aada', 'adeada'):
        assert FEATS in build_region_strategy(name).needs


def test_clustering_baselines_fill_the_budget():
    g = torch.Generator().manual_seed(0)
    n = 200
    feats = torch.randn(n, 4, generator=g, dtype=torch.float64)
    pool = _pool(torch.randint(1, 6, (n,), generator=g).tolist(),
                 torch.rand(n, generator=g).tolist(), feats=feats)
    pool.grad = torch.randn(n, 12, generator=g, dtype=torch.float64)
    pool.edge = torch.rand(n, generator=g, dtype=torch.float64)
    source = _pool([1] * 50, [0.0] * 50, feats=torch.randn(50, 4, generator=g,
                                                            dtype=torch.float64) + 2)
    for name in ('badge', 'clue', 'redal', 'aada'):
        picks = build_region_strategy(name).select(pool, 100, 1, source,
                                                   torch.Generator().manual_seed(0))
        spent = int(pool.size[picks].sum())
        assert len(set(picks.tolist())) == len(picks), name
        assert 100 - 5 < spent <= 100, (name, spent)


def test_redal_clusters_follow_d2ada_500_by_default_and_the_budget_as_a_flag(monkeypatch):
    from mmseg_ext.active import region_baselines as RB
    g = torch.Generator().manual_seed(0)
    n = 1200
    pool = _pool([10] * n, torch.rand(n, generator=g).tolist(),
                 feats=torch.randn(n, 4, generator=g, dtype=torch.float64))
    pool.edge = torch.rand(n, generator=g, dtype=torch.float64)
    seen = []
    real = RB.redal_order

    def spy(*args, **kwargs):
        seen.append(kwargs['n_clusters'])
        return real(*args, **{**kwargs, 'decay': 1.0})  # no k-means: fast
    monkeypatch.setattr(RB, 'redal_order', spy)
    gen = torch.Generator().manual_seed(0)
    build_region_strategy('redal').select(pool, 100, 1, None, gen)
    build_region_strategy('redal', n_clusters='budget').select(pool, 100, 1, None, gen)
    build_region_strategy('redal', n_clusters=7).select(pool, 100, 1, None, gen)
    small = _pool([10] * 30, [0.5] * 30, feats=torch.randn(30, 4, dtype=torch.float64))
    small.edge = torch.zeros(30, dtype=torch.float64)
    build_region_strategy('redal').select(small, 100, 1, None, gen)  # capped at the 30 regions
    assert seen == [500, 10, 7, 30]
    for bad in (0, 'pool', 2.5, True):
        with pytest.raises(ValueError, match='n_clusters'):
            build_region_strategy('redal', n_clusters=bad)
