"""ADA-MCU multi-level contrastive loss against a naive per-pixel loop of Eq. 9-11."""
import math

import pytest
import torch
from mmseg.registry import MODELS

from mmseg_ext.models.losses import MultiLevelContrastiveLoss
from mmseg_ext.models.losses.contrastive_roles import random_group_rank

IG = 255
BIG = 10_000  # caps above every count: nothing is dropped, the loss is deterministic
T_, F_ = True, False


def tiny(seed=0, D=4):
    """2 source + 2 target images of 2x3 pixels, C = 3, hand-made labels / predictions."""
    g = torch.Generator().manual_seed(seed)
    src_label = torch.tensor([[[0, 0, 1], [1, 2, IG]], [[2, 2, 0], [1, 1, 0]]])
    src_pred = torch.tensor([[[0, 1, 1], [1, 0, 2]], [[2, 0, 0], [1, 2, 0]]])
    tgt_label = torch.tensor([[[0, IG, 1], [2, 2, IG]], [[1, IG, 0], [0, 2, 1]]])
    tgt_pred = torch.tensor([[[1, 0, 1], [2, 0, 1]], [[1, 2, 2], [0, 1, 1]]])
    tgt_hu = torch.tensor([[[T_, F_, T_], [F_, T_, F_]], [[F_, T_, T_], [F_, T_, F_]]])
    src_cm = torch.tensor([[[T_, F_, T_], [T_, F_, T_]], [[T_, T_, F_], [T_, F_, T_]]])
    tgt_cm = torch.tensor([[[F_, T_, T_], [T_, F_, T_]], [[T_, F_, F_], [T_, F_, T_]]])
    return dict(src_embed=torch.randn(2, D, 2, 3, generator=g, dtype=torch.float64),
                src_label=src_label, src_pred=src_pred,
                tgt_embed=torch.randn(2, D, 2, 3, generator=g, dtype=torch.float64),
                tgt_label=tgt_label, tgt_pred=tgt_pred, tgt_high_uncertainty=tgt_hu,
                src_centre_mask=src_cm, tgt_centre_mask=tgt_cm)


def ref_loss(inp, W=None, levels=('intra_image', 'cross_image', 'cross_domain'),
             units=('pixel', 'centre'), tau=0.1, C=3):
    """Naive loops: every pixel a record, Eq. 10 with explicit exp / sum, Eq. 9 and 11 means."""
    Wd = [[0.0] * C for _ in range(C)] if W is None else W.tolist()

    def s(u, v, a, b):  # DCCM-weighted logit, positives unit weight
        w = 1.0 if u == v else 1.0 + Wd[u][v]
        return w * float(a @ b) / tau

    def unit(x):
        return x / x.norm()

    pix = []  # (img, dom, y, x, label, pred, emb, anchor, centre)
    for dom, pre in enumerate(('src', 'tgt')):
        E, L, P, CM = (inp[f'{pre}_embed'], inp[f'{pre}_label'], inp[f'{pre}_pred'],
                       inp[f'{pre}_centre_mask'])
        for n in range(E.shape[0]):
            for y in range(E.shape[2]):
                for x in range(E.shape[3]):
                    lab, prd = int(L[n, y, x]), int(P[n, y, x])
                    anchor = lab != IG and prd != lab
                    if dom == 1:
                        anchor = anchor and bool(inp['tgt_high_uncertainty'][n, y, x])
                    centre = bool(CM[n, y, x]) and (lab == IG or lab == prd)
                    pix.append(dict(img=n + 2 * dom, dom=dom, lab=lab, prd=prd, anchor=anchor,
                                    centre=centre, emb=unit(E[n, :, y, x].detach())))

    def paired(level, a, b):  # a, b: dicts with img and dom
        if level == 'intra_image':
            return a['img'] == b['img']
        if level == 'cross_image':
            return a['dom'] == b['dom'] and a['img'] != b['img']
        return a['dom'] != b['dom']

    def info_nce(anchors, pool, level):
        total = 0.0
        for d in (0, 1):
            losses = []
            for a in anchors:
                if a['dom'] != d:
                    continue
                P = [q for q in pool if paired(level, a, q) and q['cls'] == a['cls']
                     and q is not a.get('self')]
                N = [q for q in pool if paired(level, a, q) and q['cls'] != a['cls']]
                if not P or not N:
                    continue
                neg = sum(math.exp(s(a['cls'], q['cls'], a['emb'], q['emb'])) for q in N)
                terms = []
                for q in P:
                    e = math.exp(s(a['cls'], q['cls'], a['emb'], q['emb']))
                    terms.append(-math.log(e / (e + neg)))
                losses.append(sum(terms) / len(terms))
            if losses:
                total += sum(losses) / len(losses)
        return total

    total = 0.0
    if 'pixel' in units:
        pool = [dict(p, cls=p['lab']) for p in pix if p['lab'] != IG]
        anchors = []
        for p in pix:
            if p['anchor']:
                me = next(q for q in pool if q['img'] == p['img'] and q['emb'] is p['emb'])
                anchors.append(dict(p, cls=p['lab'], self=me))
        for level in levels:
            total += info_nce(anchors, pool, level)
    if 'centre' in units:
        def centres(key):  # key(pixel) -> group id
            out = {}
            for grp in sorted({key(p) for p in pix}):
                for c in range(C):
                    mem = [p['emb'] for p in pix if key(p) == grp and p['centre'] and p['prd'] == c]
                    if mem:
                        out[(grp, c)] = unit(sum(mem) / len(mem))
            return out

        img_c = centres(lambda p: p['img'])
        has = {(p['img'], p['lab']) for p in pix if p['anchor']}
        pool = [dict(img=i, dom=i // 2, cls=c, emb=e) for (i, c), e in img_c.items()]
        anchors = [dict(img=i, dom=i // 2, cls=c, emb=e) for (i, c), e in img_c.items()
                   if (i, c) in has]
        for level in levels:
            if level != 'cross_domain':
                total += info_nce(anchors, pool, level)
        if 'cross_domain' in levels:
            dom_c = centres(lambda p: p['dom'])
            has_d = {(p['dom'], p['lab']) for p in pix if p['anchor']}
            pool = [dict(img=d, dom=d, cls=c, emb=e) for (d, c), e in dom_c.items()]
            anchors = [dict(img=d, dom=d, cls=c, emb=e) for (d, c), e in dom_c.items()
                       if (d, c) in has_d]
            total += info_nce(anchors, pool, 'cross_domain')
    return total


def make(**kw):
    kw = {'max_anchors_per_class': BIG, 'max_positives_per_class': BIG,
          'max_negatives_per_class': BIG, **kw}
    return MultiLevelContrastiveLoss(**kw)


def W3(seed=1):
    return torch.rand(3, 3, generator=torch.Generator().manual_seed(seed))


def test_registered():
    loss = MODELS.build(dict(type='MultiLevelContrastiveLoss', temperature=0.2))
    assert isinstance(loss, MultiLevelContrastiveLoss)
    assert loss.loss_name == 'loss_mcu' and loss.loss_name.startswith('loss_')


@pytest.mark.parametrize('use_w', [False, True])
@pytest.mark.parametrize('levels,units', [
    (('intra_image', 'cross_image', 'cross_domain'), ('pixel', 'centre')),
    (('intra_image',), ('pixel',)),
    (('cross_image',), ('pixel',)),
    (('cross_domain',), ('pixel',)),
    (('intra_image', 'cross_image'), ('centre',)),
    (('cross_domain',), ('centre',)),
])
def test_matches_naive_loop(use_w, levels, units):
    inp = tiny()
    W = W3() if use_w else None
    got = make(levels=levels, units=units, temperature=0.1)(**inp, dccm_weights=W)
    want = ref_loss(inp, W, levels=levels, units=units, tau=0.1)
    assert want > 0
    assert got.dtype == torch.float64
    assert torch.isclose(got, torch.tensor(want, dtype=got.dtype), rtol=1e-10, atol=0)


def test_loss_weight_and_temperature():
    inp = tiny(seed=3)
    base = make()(**inp)
    assert torch.isclose(make(loss_weight=0.5)(**inp), 0.5 * base)
    got = make(temperature=0.5)(**inp)
    assert torch.isclose(got, torch.tensor(ref_loss(inp, tau=0.5), dtype=got.dtype))


def test_unnormalised_embeddings_scale():
    inp = tiny(seed=4)
    scaled = dict(inp, src_embed=inp['src_embed'] * 3, tgt_embed=inp['tgt_embed'] * 0.2)
    assert torch.isclose(make()(**inp), make()(**scaled))
    assert not torch.isclose(make(normalize=False)(**inp), make(normalize=False)(**scaled))


def test_gradients_flow():
    inp = tiny(seed=5)
    src = inp['src_embed'].clone().requires_grad_()
    tgt = inp['tgt_embed'].clone().requires_grad_()
    loss = make()(**dict(inp, src_embed=src, tgt_embed=tgt), dccm_weights=W3())
    loss.backward()
    for g in (src.grad, tgt.grad):
        assert torch.isfinite(g).all() and g.abs().sum() > 0
    # finite-difference check of one coordinate
    eps = 1e-6
    bumped = inp['src_embed'].clone()
    bumped[0, 1, 0, 1] += eps
    num = (make()(**dict(inp, src_embed=bumped), dccm_weights=W3())
           - make()(**inp, dccm_weights=W3())) / eps
    assert torch.isclose(src.grad[0, 1, 0, 1], num, rtol=1e-3, atol=1e-5)


def test_dccm_switch():
    inp = tiny(seed=6)
    W = W3()
    off = make(use_dccm=False)(**inp, dccm_weights=W)
    zeros = make()(**inp, dccm_weights=torch.zeros(3, 3))
    assert torch.equal(off, zeros)
    assert torch.equal(off, make()(**inp))  # None = no weighting
    on = make()(**inp, dccm_weights=W)
    assert not torch.isclose(on, off)
    # the diagonal (recall in CategoryCorrelation) does not weight positives
    assert torch.isclose(on, make()(**inp, dccm_weights=W + 5 * torch.eye(3)))


def test_levels_switch_and_additivity():
    inp = tiny(seed=7)
    full = make()(**inp)
    parts = []
    for level in ('intra_image', 'cross_image', 'cross_domain'):
        part = make(levels=(level,))(**inp)
        assert not torch.isclose(part, full)
        parts.append(part)
    assert torch.isclose(sum(parts), full)
    units = [make(units=(u,))(**inp) for u in ('pixel', 'centre')]
    assert torch.isclose(sum(units), full)
    with pytest.raises(ValueError, match='levels'):
        make(levels=())
    with pytest.raises(ValueError, match='units'):
        make(units=())


def test_no_anchors_zero_with_grad():
    inp = tiny(seed=8)
    src = inp['src_embed'].clone().requires_grad_()
    tgt = inp['tgt_embed'].clone().requires_grad_()
    src_pred = torch.where(inp['src_label'] == IG, 0, inp['src_label'])
    # target: misclassified labelled pixels exist but none is high-uncertainty
    loss_fn = make()
    loss = loss_fn(**dict(inp, src_embed=src, tgt_embed=tgt, src_pred=src_pred,
                          tgt_high_uncertainty=torch.zeros_like(inp['tgt_high_uncertainty'])))
    assert loss.requires_grad and loss.item() == 0
    assert loss_fn.last_stats['num_anchors'] == 0
    loss.backward()
    assert torch.equal(src.grad, torch.zeros_like(src))
    assert torch.equal(tgt.grad, torch.zeros_like(tgt))


def test_target_anchor_rule():
    inp = tiny()
    loss_fn = make()
    loss_fn(**inp)
    # src: img0 (0,1), (1,1); img1 (0,1), (1,1); tgt: img0 (0,0), (1,1); img1 (0,2), (1,1)
    assert loss_fn.last_stats['num_src_anchors'] == 4
    assert loss_fn.last_stats['num_tgt_anchors'] == 4
    loss_fn(**dict(inp, tgt_high_uncertainty=torch.ones_like(inp['tgt_high_uncertainty'])))
    lab, prd = inp['tgt_label'], inp['tgt_pred']
    assert loss_fn.last_stats['num_tgt_anchors'] == int(((lab != IG) & (prd != lab)).sum())


def test_random_group_rank_is_permutation_per_group():
    g = torch.Generator().manual_seed(0)
    group = torch.randint(0, 5, (200,), generator=g)
    rank = random_group_rank(group, torch.Generator().manual_seed(1))
    for k in range(5):
        r = rank[group == k].sort().values
        assert torch.equal(r, torch.arange(len(r)))
    again = random_group_rank(group, torch.Generator().manual_seed(1))
    other = random_group_rank(group, torch.Generator().manual_seed(2))
    assert torch.equal(rank, again) and not torch.equal(rank, other)
    assert random_group_rank(torch.zeros(0, dtype=torch.long)).numel() == 0


def big_input(seed=0, N=2, C=4, H=12, W=12, D=8):
    g = torch.Generator().manual_seed(seed)
    lab = torch.randint(0, C, (N, H, W), generator=g)
    return dict(src_embed=torch.randn(N, D, H, W, generator=g), src_label=lab,
                src_pred=torch.randint(0, C, (N, H, W), generator=g),
                tgt_embed=torch.randn(N, D, H, W, generator=g),
                tgt_label=torch.randint(0, C, (N, H, W), generator=g),
                tgt_pred=torch.randint(0, C, (N, H, W), generator=g),
                tgt_high_uncertainty=torch.rand(N, H, W, generator=g) < 0.5,
                src_centre_mask=torch.rand(N, H, W, generator=g) < 0.5,
                tgt_centre_mask=torch.rand(N, H, W, generator=g) < 0.5)


def capped(mask, lab, C, cap):
    N = lab.shape[0]
    cnt = torch.bincount((torch.arange(N)[:, None, None] * C + lab)[mask], minlength=N * C)
    return int(cnt.clamp(max=cap).sum())


def test_caps_bound_samples():
    C, cap_a, cap_p, cap_n = 4, 3, 5, 7
    inp = big_input(C=C)
    loss_fn = MultiLevelContrastiveLoss(max_anchors_per_class=cap_a,
                                        max_positives_per_class=cap_p,
                                        max_negatives_per_class=cap_n)
    loss = loss_fn(**inp, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and loss > 0
    st = loss_fn.last_stats
    src_a = inp['src_pred'] != inp['src_label']
    tgt_a = (inp['tgt_pred'] != inp['tgt_label']) & inp['tgt_high_uncertainty']
    assert src_a.sum() > 2 * C * cap_a  # the cap really bites
    assert st['num_src_anchors'] == capped(src_a, inp['src_label'], C, cap_a)
    assert st['num_tgt_anchors'] == capped(tgt_a, inp['tgt_label'], C, cap_a)
    assert st['num_anchors'] <= 2 * 2 * C * cap_a
    every = torch.ones_like(src_a)
    assert st['num_pool'] == (capped(every, inp['src_label'], C, cap_n)
                              + capped(every, inp['tgt_label'], C, cap_n))
    # the same generator seed gives the same sample, another seed another one
    again = loss_fn(**inp, generator=torch.Generator().manual_seed(0))
    other = loss_fn(**inp, generator=torch.Generator().manual_seed(1))
    assert torch.equal(loss, again) and not torch.equal(loss, other)


def test_caps_above_counts_are_exact():
    inp = big_input(seed=2, H=6, W=6)
    a = make()(**inp, generator=torch.Generator().manual_seed(0))
    b = make()(**inp, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(a, b, rtol=1e-5)


def one_line(fn):
    with pytest.raises(ValueError) as e:
        fn()
    assert '\n' not in str(e.value)
    return str(e.value)


def test_bad_arguments():
    for t in (0, -0.1, float('nan'), float('inf'), True):
        assert 'temperature' in one_line(lambda: MultiLevelContrastiveLoss(temperature=t))
    assert 'levels' in one_line(lambda: MultiLevelContrastiveLoss(levels=('intra', )))
    assert 'levels' in one_line(lambda: MultiLevelContrastiveLoss(levels='intra_image'))
    assert 'levels' in one_line(
        lambda: MultiLevelContrastiveLoss(levels=('intra_image', 'intra_image')))
    assert 'units' in one_line(lambda: MultiLevelContrastiveLoss(units=('pixel', 'center')))
    assert 'max_anchors' in one_line(lambda: MultiLevelContrastiveLoss(max_anchors_per_class=0))
    assert 'loss_weight' in one_line(lambda: MultiLevelContrastiveLoss(loss_weight=-1))
    assert 'loss_name' in one_line(lambda: MultiLevelContrastiveLoss(loss_name='mcu'))


def test_bad_inputs():
    inp = tiny()
    loss = make()
    assert 'src_label' in one_line(lambda: loss(**dict(inp, src_label=inp['src_label'][:, :1])))
    assert 'tgt_pred' in one_line(lambda: loss(**dict(inp, tgt_pred=inp['tgt_pred'].float())))
    assert 'tgt_high_uncertainty' in one_line(lambda: loss(**dict(
        inp, tgt_high_uncertainty=inp['tgt_high_uncertainty'].long())))
    assert 'src_centre_mask' in one_line(lambda: loss(**dict(
        inp, src_centre_mask=inp['src_centre_mask'][0])))
    assert 'src_embed' in one_line(lambda: loss(**dict(inp, src_embed=inp['src_embed'][0])))
    assert 'channels' in one_line(lambda: loss(**dict(inp, tgt_embed=inp['tgt_embed'][:, :3])))
    assert 'dccm_weights' in one_line(lambda: loss(**inp, dccm_weights=torch.zeros(3, 2)))
    assert '[0, 2)' in one_line(lambda: loss(**inp, dccm_weights=torch.zeros(2, 2)))


def test_low_precision_embeddings():
    inp = big_input(seed=5, H=6, W=6)
    ref = make()(**inp)
    half = make()(**dict(inp, src_embed=inp['src_embed'].bfloat16(),
                         tgt_embed=inp['tgt_embed'].bfloat16()))
    assert half.dtype == torch.float32 and torch.isclose(half, ref, rtol=2e-2)


def test_domains_of_different_size():
    inp = big_input(seed=3, H=6, W=6)
    other = big_input(seed=4, N=3, H=4, W=5)
    inp.update({k: v for k, v in other.items() if k.startswith('tgt')})
    loss = make()(**inp)
    assert torch.isfinite(loss) and loss > 0
