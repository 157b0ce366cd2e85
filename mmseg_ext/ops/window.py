"""Square-window helpers over the last two dims of a tensor (torch ops only).

``box_sum(x, r)``   sum over the (2r+1) x (2r+1) window, zero padding (same as an
                    all-ones conv2d with padding r); small integer / bool inputs -> int32.
``box_max(x, r)``   max over the window; out-of-image positions are ignored.
``box_min(x, r)``   min over the window; out-of-image positions are ignored.
``window_count(h, w, r)``  number of in-image pixels of each window (float32).
``one_intraop_thread()``   context manager used by the acquisition code on CPU.

Sums use shifted adds for small r and a doubling scheme for large r, max/min a doubling
scheme: O(log r) elementwise ops per axis, no integral images (float32 stays accurate).
"""
import contextlib
from concurrent.futures import ThreadPoolExecutor

import torch

_SHIFT_ADD_MAX_R = 3


@contextlib.contextmanager
def one_intraop_thread(device='cpu'):
    """Inside the block torch CPU ops use one intra-op thread; yields the previous count.

    The acquisition code issues hundreds of mid-sized ops. With intra-op threads each
    is an OpenMP parallel region, and on a busy machine every region waits for a
    descheduled worker (measured 5-50x slower on 2 shared cores); it runs them with one
    thread instead and, where it helps, spreads independent chunks over Python threads.
    No-op (yields 1) for non-CPU devices.
    """
    if torch.device(device).type != 'cpu':
        yield 1
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield n
    finally:
        torch.set_num_threads(n)


def _check_r(r):
    if not isinstance(r, int) or isinstance(r, bool) or r < 0:
        raise ValueError(f'window radius must be an int >= 0, got {r!r}')


def _sum1d(x, r, dim):
    n = x.shape[dim]
    if r <= _SHIFT_ADD_MAX_R:
        out = x.clone()
        for d in range(1, min(r, n - 1) + 1):
            out.narrow(dim, d, n - d).add_(x.narrow(dim, 0, n - d))
            out.narrow(dim, 0, n - d).add_(x.narrow(dim, d, n - d))
        return out
    # zero padding, then binary decomposition of the window length: s holds sums of
    # w consecutive values (w = 1, 2, 4, ...), O(log r) adds, no float64 needed
    span = 2 * r + 1
    pad = x.new_zeros(x.shape[:dim % x.ndim] + (r,) + x.shape[dim % x.ndim + 1:])
    s = torch.cat([pad, x, pad], dim)
    out, off, w = None, 0, 1
    while True:
        if span & w:
            part = s.narrow(dim, off, n)
            out = part.clone() if out is None else out.add_(part)
            off += w
        if 2 * w > span:
            return out
        m = s.shape[dim] - w
        s = s.narrow(dim, 0, m) + s.narrow(dim, w, m)
        w *= 2


def box_sum(x, r):
    """Zero-padded (2r+1)^2 box sum over the last two dims. Same dtype as x, except
    bool/uint8/int8/int16 give int32."""
    _check_r(r)
    if x.dtype in (torch.bool, torch.uint8, torch.int8, torch.int16):
        x = x.to(torch.int32)
    if r == 0:
        return x.clone()
    return _sum1d(_sum1d(x, r, -1), r, -2)


def _ext1d(x, r, dim, op):
    """Sliding op (max or min) over [i-r, i+r] along dim, clipped at the ends."""
    n = x.shape[dim]
    if r == 0 or n == 1:
        return x
    r = min(r, n - 1)
    # pad by edge replication: max/min with a duplicate of an in-window value is a no-op
    y = torch.cat([x.narrow(dim, 0, 1).expand_as(x.narrow(dim, 0, r)), x,
                   x.narrow(dim, n - 1, 1).expand_as(x.narrow(dim, 0, r))], dim)
    span, w = 2 * r + 1, 1
    while 2 * w <= span:  # y[i] <- op(y[i : i + 2w])
        m = y.shape[dim]
        y = op(y.narrow(dim, 0, m - w), y.narrow(dim, w, m - w))
        w *= 2
    if w < span:  # two overlapping windows of width w cover width span
        m = y.shape[dim]
        s = span - w
        y = op(y.narrow(dim, 0, m - s), y.narrow(dim, s, m - s))
    return y


def box_max(x, r):
    """Max over the (2r+1)^2 window (in-image pixels only), last two dims."""
    _check_r(r)
    return _ext1d(_ext1d(x, r, -1, torch.maximum), r, -2, torch.maximum) if r else x.clone()


def box_min(x, r):
    """Min over the (2r+1)^2 window (in-image pixels only), last two dims."""
    _check_r(r)
    return _ext1d(_ext1d(x, r, -1, torch.minimum), r, -2, torch.minimum) if r else x.clone()


def window_count(h, w, r, device=None):
    """(h, w) float32 map: in-image pixel count of the (2r+1)^2 window."""
    _check_r(r)

    def axis(n):
        i = torch.arange(n, device=device)
        return ((i + r).clamp(max=n - 1) - (i - r).clamp(min=0) + 1).to(torch.float32)

    return axis(h)[:, None] * axis(w)[None, :]


def over_row_chunks(height: int, rows: int, workers: int, chunk) -> None:
    """chunk(r0) for every r0 in range(0, height, rows): independent row chunks, spread over
    `workers` Python threads (each op on one intra-op thread: see one_intraop_thread)."""
    starts = list(range(0, height, rows))

    def work(part):
        for r0 in part:
            chunk(r0)
    if workers > 1 and len(starts) > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, [starts[i::workers] for i in range(workers)]))
    else:
        work(starts)

