"""Greedy selection with square suppression, exactly as the RIPU reference (build.py)
does it, computed in parallel rounds instead of one full-map max per pick.

``sel = greedy_select(score, num, label_radius, suppress_radius, blocked=None)``
    score (H, W) real tensor; ``blocked`` optional bool (H, W), True = cannot be picked.
    Reference procedure: repeat ``num`` times: take the highest score among available
    positions (ties: smallest column, then smallest row, as the reference's two max
    reductions), label the box of ``label_radius`` around it, block the box of
    ``suppress_radius`` (both clipped at the border). RIPU RA uses (k, 2k), PA (0, k).
    Returns ``Selection(centers, labelled, blocked)``:
      centers  LongTensor (num, 2), (row, col) in pick order;
      labelled BoolTensor (H, W), union of the label boxes;
      blocked  BoolTensor (H, W), the input ``blocked`` plus every suppression box.
    Positions with score -inf are not available (the reference only reaches them once
    everything else is exhausted). If fewer than ``num`` positions can be picked a
    ValueError is raised (the reference silently picks -inf positions). NaN scores are
    rejected. On CPU it runs with one intra-op thread (restored afterwards).

Why the parallel rounds are exact. Give every available position a unique key
(score, then column-major index reversed), so the reference is the sequential greedy
"scan positions by decreasing key, accept one unless an accepted position lies within
Chebyshev distance R = suppress_radius" (the relation is symmetric). Since the
available set only shrinks and keys are unique, the reference picks in strictly
decreasing key order, and by induction over keys: v is picked <=> no higher-key
neighbour (distance <= R) is picked. Hence a round that accepts every undecided v whose
higher-key neighbours are all rejected, then rejects every undecided v with an accepted
higher-key neighbour, only makes decisions the reference makes, and each round decides
at least the highest undecided position. Picks with a key above every undecided key are
final and are the reference's first picks in order, so we stop as soon as ``num`` of
them exist. Only higher-key positions influence a decision, so it suffices to run on
a prefix (top keys) of the available positions: we try about 4 * num positions and grow
the prefix until it holds ``num`` picks; m = (num - 1) * (2R + 1)^2 + 1 always suffices,
since each accepted position removes at most (2R + 1)^2 of them. The rounds run on
explicit higher-key neighbour lists of the prefix (small windows / prefixes) or as
min-pools over a rank map (``_dense_rounds``).
"""
from typing import NamedTuple

import torch

from ..ops.window import box_max, box_min, one_intraop_thread

_SPARSE_LIMIT = 1 << 23  # max candidates x min(window size, candidates) for neighbour lists


class Selection(NamedTuple):
    centers: torch.Tensor
    labelled: torch.Tensor
    blocked: torch.Tensor


def _check_int(name, v, lo):
    if not isinstance(v, int) or isinstance(v, bool) or v < lo:
        raise ValueError(f'{name} must be an int >= {lo}, got {v!r}')


def _threshold(vals, need):
    """A value t with need <= #(vals >= t); vals flat, -inf = unavailable."""
    n = vals.numel()
    step = n >> 16
    if step >= 2 and need * 4 < n:  # estimate from a strided sample, verify with one pass
        sample = vals[::step]
        j = min(sample.numel(), need // step + need // (4 * step) + 64)
        t = sample.topk(j, sorted=False).values.min()
        if t > float('-inf') and int(torch.count_nonzero(vals >= t)) >= need:
            return t
    return vals.topk(need, sorted=False).values.min()


def _sparse_rounds(rows, cols, H, W, R, num):
    """Rounds on explicit higher-key neighbour lists; returns accepted ranks (sorted)."""
    M, Wp = rows.numel(), W + 2 * R
    dev = rows.device
    own = torch.arange(M, dtype=torch.int32, device=dev)
    if (2 * R + 1) ** 2 <= M:  # neighbours from the window offsets
        rank = torch.full(((H + 2 * R) * Wp,), M, dtype=torch.int32, device=dev)
        pos = (rows + R) * Wp + (cols + R)
        rank[pos] = own
        d = torch.arange(-R, R + 1, device=dev)
        nbr = rank[pos[:, None] + (d[:, None] * Wp + d[None, :]).flatten()]
        del rank
    else:  # fewer candidates than window positions: all pairs
        r32, c32 = rows.int(), cols.int()
        near = ((r32[:, None] - r32).abs_() <= R) & ((c32[:, None] - c32).abs_() <= R)
        nbr = torch.where(near, own, M)
    nbr = torch.where(nbr < own[:, None], nbr, M)  # keep higher-key neighbours only
    state = torch.zeros(M + 1, dtype=torch.uint8, device=dev)  # 0 open, 1 picked, 2 out
    state[M] = 2
    und = own.long()
    while True:
        acc = (state[nbr] == 2).all(1)
        state[und[acc]] = 1
        rej = (state[nbr] == 1).any(1)
        state[und[rej]] = 2
        keep = ~(acc | rej)
        und, nbr = und[keep], nbr[keep]
        if und.numel() == 0 or int(torch.count_nonzero(state[:int(und[0])] == 1)) >= num:
            break
    return (state[:M] == 1).nonzero().squeeze(1)


def _dense_rounds(rows, cols, H, W, R, num):
    """Same rounds as max-pools over a rank map (for large windows / huge prefixes)."""
    M = rows.numel()
    dtype = torch.int32 if M < 2**31 - 1 else torch.int64
    big = torch.iinfo(dtype).max
    rank = torch.full((H, W), big, dtype=dtype, device=rows.device)
    rank[rows, cols] = torch.arange(M, dtype=dtype, device=rows.device)
    und = rank != big
    picked = []
    while True:
        live = rank.masked_fill(~und, big)
        new = und & (box_min(live, R) == live)
        picked.append(rank[new])
        und &= ~box_max(new, R)
        if not bool(und.any()):
            break
        first = rank.masked_fill(~und, big).min()
        if int((torch.cat(picked) < first).sum()) >= num:
            break
    return torch.cat(picked).sort().values


def _paint(centers, r, H, W, out):
    """out |= union of the radius-r boxes (clipped) around centers."""
    n, s = centers.shape[0], 2 * r + 1
    if n * s * s <= H * W:
        d = torch.arange(-r, r + 1, device=centers.device)
        y = (centers[:, 0, None] + d).clamp_(0, H - 1)  # clamping repeats border pixels
        x = (centers[:, 1, None] + d).clamp_(0, W - 1)
        out[y[:, :, None], x[:, None, :]] = True
    else:
        pts = torch.zeros((H, W), dtype=torch.bool, device=centers.device)
        pts[centers[:, 0], centers[:, 1]] = True
        out |= box_max(pts, r)
    return out


@torch.no_grad()
def greedy_select(score, num, label_radius, suppress_radius, blocked=None):
    """Exact parallel version of the reference's sequential greedy pick; see module doc."""
    if not torch.is_tensor(score) or score.ndim != 2:
        shape = tuple(score.shape) if torch.is_tensor(score) else type(score).__name__
        raise ValueError(f'score must be an (H, W) tensor, got {shape}')
    if score.dtype == torch.bool or score.is_complex():
        raise ValueError(f'score must be real-valued, got {score.dtype}')
    _check_int('num', num, 1)
    _check_int('label_radius', label_radius, 0)
    _check_int('suppress_radius', suppress_radius, 0)
    H, W = score.shape
    if blocked is not None and (not torch.is_tensor(blocked) or blocked.dtype != torch.bool
                                or blocked.shape != score.shape
                                or blocked.device != score.device):
        got = ((blocked.dtype, tuple(blocked.shape), str(blocked.device))
               if torch.is_tensor(blocked) else type(blocked))
        raise ValueError(f'blocked must be a bool tensor of shape {(H, W)} on '
                         f'{score.device}, got {got}')
    # one thread: nearly as fast on an idle machine (15 vs 10 ms for RA k=1), 20x faster
    # on a busy one (see window.one_intraop_thread)
    with one_intraop_thread(score.device):
        return _select(score, num, label_radius, suppress_radius, blocked)


def _select(score, num, label_radius, suppress_radius, blocked):
    H, W = score.shape
    if score.is_floating_point() and bool(score.isnan().any()):
        raise ValueError('score contains NaN')
    vals = score.flatten()
    if not score.is_floating_point():  # integer scores: float64 keeps the order up to 2**53
        vals = vals.double()
    if blocked is not None:
        vals = vals.masked_fill(blocked.flatten(), float('-inf'))
    pool = int(torch.count_nonzero(vals > float('-inf')))
    R = suppress_radius
    K = (2 * R + 1) ** 2
    if pool < num:
        raise ValueError(f'budget num={num} is larger than the pool: only {pool} positions '
                         f'are available')

    bound = min(pool, (num - 1) * K + 1)  # a prefix this long always holds num picks
    need = min(bound, 4 * num)  # usually plenty; grow the prefix if not
    while True:
        t = _threshold(vals, need)
        idx = (vals >= t).nonzero().squeeze(1)  # a prefix of the key order (row-major)
        rows, cols = idx // W, idx % W
        order = torch.argsort(cols * H + rows)  # ties: smaller column, then smaller row
        rows, cols = rows[order], cols[order]
        order = torch.sort(vals[idx][order], descending=True, stable=True).indices
        M = min(idx.numel(), 4 * need)  # cut huge tie groups: any key-order prefix will do
        rows, cols = rows[order[:M]], cols[order[:M]]
        rounds = _sparse_rounds if M * min(K, M) <= _SPARSE_LIMIT else _dense_rounds
        picks = rounds(rows, cols, H, W, R, num)
        if picks.numel() >= num or M >= bound:
            break
        need = min(bound, M * 4)
    if picks.numel() < num:  # only possible when the prefix is the whole pool
        raise ValueError(f'budget num={num} is larger than the pool: only {picks.numel()} '
                         f'positions can be picked with suppress_radius={R}')
    picks = picks[:num]
    centers = torch.stack([rows[picks], cols[picks]], 1)
    labelled = _paint(centers, label_radius, H, W,
                      torch.zeros((H, W), dtype=torch.bool, device=score.device))
    out_blocked = blocked.clone() if blocked is not None else torch.zeros(
        (H, W), dtype=torch.bool, device=score.device)
    return Selection(centers, labelled, _paint(centers, R, H, W, out_blocked))
