"""RIPU acquisition scores (Xie et al., CVPR'22) with the semantics of the reference
code (BIT-DA/RIPU ``FloatingRegionScore`` / ``SpatialPurity``), computed faster.

``score, impurity, uncertainty = region_scores(logits, k, entropy_norm_classes=19)`` (RA)
    logits (C, H, W) at label resolution; p = softmax over C; pixel entropy
    e = -sum_c p_c log(p_c + 1e-6) / log(entropy_norm_classes); y = argmax_c p;
    n_c = count of class c in the (2k+1)^2 window (zero padding), count = in-image
    pixels of the window; impurity = -sum_c q_c log(q_c + 1e-6) / log(entropy_norm_classes)
    with q_c = n_c / count; uncertainty = (window sum of e) / count;
    score = impurity * uncertainty. All three are (H, W).
    ``entropy_norm_classes`` defaults to 19 because the reference hard-codes log(19)
    (also for C = 16); it is a constant factor and does not change the ranking.
    Pure windows get impurity -log(1 + 1e-6) / log(19) < 0, as in the reference.

``score = pixel_scores(logits, k)`` (PA)
    impurity and entropy as above but without the log(19) division and without
    window averaging of the entropy: score = e * impurity.

Paper: region N_k and impurity P are RIPU Sec. 3.3, Eq. (3)-(4); the region uncertainty
U is Eq. (5); the acquisition A = P * U is Eq. (6).

The argmax is taken on p with ties to the lowest class index, as torch.argmax. Both
functions run under no_grad and return tensors of the logits' float dtype (float32 for
half precision input); they match the reference to float rounding (summation order).
On CPU the softmax/entropy row chunks run on torch.get_num_threads() Python threads,
each op with one intra-op thread (see window.one_intraop_thread).

The impurity has two paths with bit-identical results. ``_neg_sum_qlogq_sparse`` (any
device and k) builds class histograms at impure pixels only, so its cost grows with the
number of class boundaries (3x slower on predictions with ragged boundaries). On CPU, for
k = 1..3 and C < 256, ``_neg_sum_qlogq_lut`` computes the same numbers densely: integer
box sums index small tables of q log(q + eps) (counts are integers in [0, (2k+1)^2]),
whose values are added in the order in which torch.sum adds them in the sparse path;
that order is read off torch.sum once per (C, dtype), and checked (``_sum_tree``). Its
cost does not depend on the data; where the order cannot be established, the sparse
path is used.
"""
import math
from typing import NamedTuple

import torch

from ..ops.uncertainty import RIPU_EPS, entropy_of, plogp, sum_plogp
from ..ops.window import box_max, box_min, box_sum, one_intraop_thread, over_row_chunks, window_count

_CHUNK_ELEMS = 1 << 19  # softmax/entropy in row chunks that stay in cache (CPU)
_SPARSE_MAX_WINDOW = 49  # impure-pixels-only impurity for windows up to 7x7
_LUT_MAX_K = 3  # the dense table path replaces that one (k = 1..3) on CPU
_LUT_CHUNK_ELEMS = 1 << 19  # int32 code elements per row chunk of the table path
_SUM_TREES = {}  # (C, dtype) -> torch.sum's tree over a row of C values, or None
_LUT_PLANS = {}  # (C, k, dtype) -> _LutPlan or None


def _check(logits, k):
    if not torch.is_tensor(logits) or logits.ndim != 3:
        shape = tuple(logits.shape) if torch.is_tensor(logits) else type(logits).__name__
        raise ValueError(f'logits must be a (C, H, W) tensor, got {shape}')
    if not logits.is_floating_point():
        raise ValueError(f'logits must be floating point, got {logits.dtype}')
    if not isinstance(k, int) or isinstance(k, bool) or k < 0:
        raise ValueError(f'k must be an int >= 0 (window 2k+1), got {k!r}')


def _entropy_and_label(logits, workers=1):
    """Pixel entropy -sum p log(p + eps) (H, W) and argmax_c p (H, W, uint8 or int64)."""
    x = logits.detach()  # worker threads do not inherit no_grad
    x = x if x.dtype in (torch.float32, torch.float64) else x.float()
    C, H, W = x.shape
    e = torch.empty((H, W), dtype=x.dtype, device=x.device)
    small = C < 256
    lab = torch.empty((H, W), dtype=torch.uint8 if small else torch.int64, device=x.device)
    # torch.argmax over a non-innermost dim is very slow on CPU: take the max of
    # (p == max) * (C - c) instead, which keeps argmax's first-index tie-break.
    rev = torch.arange(C, 0, -1, dtype=lab.dtype, device=x.device)[:, None, None]
    rows = H if x.device.type != 'cpu' else max(1, _CHUNK_ELEMS // (C * W))

    def chunk(r0):
        p = torch.softmax(x[:, r0:r0 + rows], 0)
        hit = p == p.amax(0)  # bool; as uint8 without a copy (same 0/1 bytes)
        hit = hit.view(torch.uint8) if small else hit.to(lab.dtype)
        torch.amax(hit.mul_(rev), 0, out=lab[r0:r0 + rows])
        sum_plogp(p, 0, RIPU_EPS, out=e[r0:r0 + rows])

    over_row_chunks(H, rows, workers, chunk)
    return e.neg_(), lab.neg_().add_(C)


def _neg_sum_qlogq_sparse(lab, C, k, count):
    """-sum_c q_c log(q_c + eps), q_c = n_c / count: the general path (any device, k, C).

    Its float order defines the results: for (2k+1)^2 <= 49 and C < 256, torch.sum over
    the C classes of each impure pixel's row; otherwise a subtraction per present class
    in class order. ``_neg_sum_qlogq_lut`` reproduces the first bit for bit."""
    s2 = (2 * k + 1) ** 2
    if s2 > _SPARSE_MAX_WINDOW or lab.dtype != torch.uint8:
        out = torch.zeros_like(count)
        present = torch.bincount(lab.flatten().long(), minlength=C).nonzero().flatten().tolist()
        for c in present:  # absent classes add exactly +0 in the reference
            q = box_sum(lab == c, k).div(count)  # exact int32 counts
            out.sub_(plogp(q, RIPU_EPS))
        return out
    # Small windows: pure windows (q = one-hot) all have the same value; the class
    # histogram is built only at impure pixels, from the gathered window labels.
    one = torch.ones((), dtype=count.dtype, device=count.device)
    out = torch.full_like(count, float(-plogp(one, RIPU_EPS)))
    idx = (box_max(lab, k) != box_min(lab, k)).flatten().nonzero().squeeze(1)
    if idx.numel() == 0:
        return out
    H, W = lab.shape
    padded = torch.nn.functional.pad(lab[None], (k, k, k, k), value=C)[0].flatten()
    d = torch.arange(2 * k + 1, device=lab.device)
    offs = (d[:, None] * (W + 2 * k) + d[None, :]).flatten()
    win = padded[((idx // W) * (W + 2 * k) + idx % W)[:, None] + offs].long()
    hist = torch.zeros((idx.numel(), C + 1), dtype=count.dtype, device=count.device)
    hist.scatter_add_(1, win, one.expand(win.shape))
    q = hist[:, :C].div_(count.flatten()[idx, None])
    out.view(-1)[idx] = entropy_of(q, 1, RIPU_EPS)
    return out


def _sum_tree(C, dtype):
    """The binary tree in which torch.sum adds a contiguous row of C values (this build
    and CPU), or None; cached. Read off torch.sum itself: with +M at i, -M at j and ones
    elsewhere (M = 2^80), the sum counts the ones added after i and j meet, so C minus it
    is the size of the subtree where they meet, which determines the tree. The tree is
    kept only if evaluating it reproduces torch.sum bit for bit on random rows."""
    key = (C, dtype)
    if key not in _SUM_TREES:
        with one_intraop_thread():  # as the sparse path runs its torch.sum
            _SUM_TREES[key] = _probe_sum_tree(C, dtype)
    return _SUM_TREES[key]


def _probe_sum_tree(C, dtype):
    i, j = torch.triu_indices(C, C, 1)
    x = torch.ones((i.numel(), C), dtype=dtype)
    rows = torch.arange(i.numel())
    x[rows, i], x[rows, j] = 2.0 ** 80, -2.0 ** 80
    meet = [[0] * C for _ in range(C)]
    for a, b, m in zip(i.tolist(), j.tolist(), (C - x.sum(1)).tolist()):
        meet[a][b] = meet[b][a] = m

    def build(S):
        if len(S) == 1:
            return S[0]
        A = [b for b in S if b == S[0] or meet[S[0]][b] < len(S)]
        B = [b for b in S if b not in A]
        if not B or any(meet[a][b] != len(S) for a in A for b in B):
            return None
        ta, tb = build(A), build(B)
        return None if ta is None or tb is None else (ta, tb)

    tree = build(list(range(C)))
    if tree is None:
        return None
    g = torch.Generator().manual_seed(C)
    for n in (1, 3, 1000, 1 << 16):
        v = torch.randn((n, C), generator=g, dtype=dtype)
        v *= torch.randint(-30, 31, (n, C), generator=g).to(dtype).exp2_()
        v[torch.rand((n, C), generator=g) < 0.5] = -0.0
        ref = v.sum(1)
        ours = _eval_tree(tree, lambda c: v[:, c])[0]
        if not torch.equal(ours, ref):
            return None
    return tree


def _eval_tree(node, leaf):
    """(tensor, owned): the tree's sum of leaf(...) tensors, added in its order; owned
    means the tensor is a new one that may be modified in place."""
    if not isinstance(node, tuple):
        return leaf(node), False
    a, own_a = _eval_tree(node[0], leaf)
    b, own_b = _eval_tree(node[1], leaf)
    if own_a:  # a + b == b + a exactly (IEEE addition commutes)
        return a.add_(b), True
    if own_b:
        return b.add_(a), True
    return torch.add(a, b), True


class _LutPlan(NamedTuple):
    codes: torch.Tensor   # (G, C + 1) int32; column C = the padding label (all zero)
    pairs: int            # groups 0..pairs-1 are leaf pairs, the rest single leaves
    lut2: torch.Tensor    # (count * B + n_a) * B + n_b -> t(n_a) + t(n_b)
    lut1: torch.Tensor    # count * B + n -> t(n)
    tree: object          # the sum tree over group indices (leaves: ints)


def _shift_singles(node, P):
    if isinstance(node, tuple):
        return (_shift_singles(node[0], P), _shift_singles(node[1], P))
    return node if node >= 0 else P - node - 1


def _lut_plan(C, k, dtype):
    """Everything ``_neg_sum_qlogq_lut`` needs for (C, k, dtype), or None; cached."""
    key = (C, k, dtype)
    if key in _LUT_PLANS:
        return _LUT_PLANS[key]
    tree = _sum_tree(C, dtype)
    plan = None
    if tree is not None:
        pairs, singles = [], []

        def relabel(node):  # subtrees with two leaves become one 'pair' leaf
            if not isinstance(node, tuple):
                singles.append(node)
                return -len(singles)  # single g -> -(g + 1)
            if not isinstance(node[0], tuple) and not isinstance(node[1], tuple):
                pairs.append(node)
                return len(pairs) - 1  # pair g -> g
            return (relabel(node[0]), relabel(node[1]))

        tree = relabel(tree)
        tree = _shift_singles(tree, len(pairs))
        B = (2 * k + 1) ** 2 + 1  # counts are integers in [0, (2k+1)^2]
        codes = torch.zeros((len(pairs) + len(singles), C + 1), dtype=torch.int32)
        codes[:len(pairs), :C] = B * B  # box sums of these add up count * B^2 ...
        codes[len(pairs):, :C] = B      # ... and count * B (zero padding)
        for g, (a, b) in enumerate(pairs):
            codes[g, a] += B
            codes[g, b] += 1
        for g, a in enumerate(singles):
            codes[len(pairs) + g, a] += 1
        # t(n) = q log(q + eps), q = n / count, with the ops of the sparse path; torch.log
        # gives the same value wherever an element sits in a tensor (checked by a test)
        n = torch.arange(B, dtype=dtype)
        q = n[None, :] / n[:, None]  # row = count (row 0 unused)
        t = plogp(q, RIPU_EPS)
        lut2 = (t[:, :, None] + t[:, None, :]).flatten()
        plan = _LutPlan(codes, len(pairs), lut2, t.flatten(), tree)
    _LUT_PLANS[key] = plan
    return plan


def _neg_sum_qlogq_lut(lab, k, plan, out, workers=1):
    """``_neg_sum_qlogq_sparse`` bit for bit, dense (CPU, uint8 labels, 1 <= k <= 3).

    Per window the sparse path sums t(n_c) = q_c log(q_c + eps) over the C classes with
    torch.sum, i.e. in the fixed tree of ``_sum_tree``. Here the class counts come from
    box sums of integer codes (one code plane per group of the tree: a pair of classes
    that the tree adds first, or a single class), each code also counting the window's
    in-image pixels, so a box sum is directly an index into a table of t(n_a) + t(n_b)
    (or t(n)) for that window size; the tables' values are then added in the tree's order.
    Absent classes give t(0) = -0.0, which leaves every sum unchanged, as in torch.sum.
    """
    H, W = lab.shape
    G, C = plan.codes.shape[0], plan.codes.shape[1] - 1
    padded = torch.nn.functional.pad(lab[None], (k, k, k, k), value=C)[0]
    rows = max(1, _LUT_CHUNK_ELEMS // (G * (W + 2 * k)))

    def chunk(r0):
        R = min(rows, H - r0)
        labels = padded[r0:r0 + R + 2 * k].flatten().int()
        codes = torch.empty((G, R + 2 * k, W + 2 * k), dtype=torch.int32, device=lab.device)
        for g in range(G):  # per group: a (G, N) gather and a transpose cost far more
            torch.index_select(plan.codes[g], 0, labels, out=codes[g].view(-1))
        v = codes[:, :R] + codes[:, 1:R + 1]
        for d in range(2, 2 * k + 1):
            v += codes[:, d:R + d]
        idx = v[..., :W] + v[..., 1:W + 1]
        for d in range(2, 2 * k + 1):
            idx += v[..., d:W + d]
        P = plan.pairs
        t2 = plan.lut2.index_select(0, idx[:P].flatten()).view(P, R, W)
        t1 = plan.lut1.index_select(0, idx[P:].flatten()).view(G - P, R, W)
        acc = _eval_tree(plan.tree, lambda g: t2[g] if g < P else t1[g - P])[0]
        torch.neg(acc, out=out[r0:r0 + R])

    over_row_chunks(H, rows, workers, chunk)
    return out


def _neg_sum_qlogq(lab, C, k, count, workers=1):
    """-sum_c q_c log(q_c + eps), q_c = n_c / count (RIPU Eq. 4 before the log(C) norm):
    the dense table path where it applies and reproduces the sparse one, else that."""
    if (1 <= k <= _LUT_MAX_K and lab.dtype == torch.uint8 and lab.device.type == 'cpu'
            and count.dtype in (torch.float32, torch.float64)):
        plan = _lut_plan(C, k, count.dtype)
        if plan is not None:
            return _neg_sum_qlogq_lut(lab, k, plan, torch.empty_like(count), workers)
    return _neg_sum_qlogq_sparse(lab, C, k, count)


@torch.no_grad()
def region_scores(logits, k, entropy_norm_classes=19):
    """RA score (RIPU region impurity x region uncertainty); see module docstring."""
    _check(logits, k)
    if not isinstance(entropy_norm_classes, int) or entropy_norm_classes < 2:
        raise ValueError(f'entropy_norm_classes must be an int >= 2, got {entropy_norm_classes!r}')
    norm = math.log(entropy_norm_classes)
    C, H, W = logits.shape
    with one_intraop_thread(logits.device) as workers:
        e, lab = _entropy_and_label(logits, workers)
        count = window_count(H, W, k, device=e.device).to(e.dtype)
        uncertainty = box_sum(e / norm, k).div_(count)
        impurity = _neg_sum_qlogq(lab, C, k, count, workers) / norm
        return impurity * uncertainty, impurity, uncertainty


@torch.no_grad()
def pixel_scores(logits, k):
    """PA score (RIPU pixel entropy x region impurity, unnormalised); see module docstring."""
    _check(logits, k)
    C, H, W = logits.shape
    with one_intraop_thread(logits.device) as workers:
        e, lab = _entropy_and_label(logits, workers)
        count = window_count(H, W, k, device=e.device).to(e.dtype)
        return e * _neg_sum_qlogq(lab, C, k, count, workers)
