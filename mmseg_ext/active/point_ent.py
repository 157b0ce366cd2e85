"""POINT-ENT acquisition (paper 002, "point supervision via active selection"): entropy-scored
grid patches, N random points per patch, oracle labels in the top-K patches and G1's pseudo labels
elsewhere. Pure torch, no Runner; the acquisition strategy and the label store build on it.

Formulas (the paper's equations, and the readings of ../shared/reference/point_ent_reference.md):

ADVENT's self-information map (the discriminator input of Sec. 3.1, Eq. (2)-(3)) is the entropy
kernel's ``mmseg_ext.ops.uncertainty.self_information``.

``patch_entropy(prob, grid)``  (C, H, W) probabilities, grid (rows, cols) -> (rows, cols)
    Sec. 3.2, Eq. (5): the score of each patch of the regular grid, the mean over its pixels of
    the pixel entropy ``-sum_c p_c log p_c`` (natural log; 0 log 0 = 0). Eq. (5) writes a sum over
    h', w', c and calls it a mean; for equal patches both rank the same (reference C7). Patches
    are numbered row-major: patch ``i`` is grid cell ``(i // cols, i % cols)``.

``weak_labels(prob, gt, k, points_per_patch, grid, selection='entropy', pseudo='points',
generator=None)``  -> (labels (H, W) long, clicks int)
    Sec. 3.2, Eq. (6), and the implementation details of Sec. 4: every patch gets
    ``points_per_patch`` (N) distinct points drawn uniformly at random inside it. The K patches
    with the highest ``patch_entropy`` (``selection='entropy'``; ties go to the lower patch
    index) or K patches drawn uniformly without replacement (``selection='random'``, the paper's
    "random selection", reference C5) have their points labelled by the oracle, i.e. ``gt``; a
    point on void (255) stays 255 but is still a click (reference C8), so ``clicks = K * N``.
    The other patches get G1's pseudo label ``argmax_c prob`` (no threshold, reference C9):
    - ``pseudo='points'`` (default, reference C2 reading R1): at their N points only, as the
      implementation details and the full-labelling text describe;
    - ``pseudo='dense'`` (reading R2, Sec. 3.2 and Fig. 2): on every pixel of those patches;
    - ``pseudo='none'``: not at all (POINT-ENT without pseudo labels).
    Every other pixel is 255, including the non-point pixels of the top-K patches (reference C3).
    K = 0 is the paper's "self-training"; K = rows * cols with ``pseudo`` anything is "full
    labelling" (all points from the oracle, no pseudo labels; reference C4).

``acquire(...)``, same arguments -> ``Acquisition`` (what ``weak_labels`` is built on)
    ``labels`` and ``clicks`` as above, plus ``oracle`` (H, W) bool: the clicked pixels (void
    ones included: ``oracle.sum() == clicks``; oracle pixels bought = ``oracle.sum()``);
    ``pseudo`` (H, W) bool: the pixels given a pseudo label (pseudo pixels = ``pseudo.sum()``);
    ``patches`` (K,) long: the selected patch indices, best first for 'entropy', in draw order
    for 'random'; ``points`` (rows * cols, N) long: each patch's points as flat pixel indices
    ``h * W + w`` (drawn in every mode; only some are used); ``scores`` (rows, cols): the patch
    entropies (also computed for 'random', for display).

Randomness: everything is drawn from ``generator`` (torch's global generator of prob's device
when None) on the generator's device and moved to prob's (a CPU generator draws the same
numbers whatever device prob is on), in a fixed order: first the points of every patch (one ``torch.rand`` over (patches, patch pixels),
the N largest of each row), then, for 'random', the patches. The same seed therefore puts the
same points in every patch whatever ``k``, ``selection`` or ``pseudo`` is, so runs that differ
only in those options are paired. No Python loop over patches or points.

Bad input raises a one-line ValueError: a grid that does not divide (H, W); K negative or above
the number of patches; N below 1 or above the pixels of a patch; an unknown ``selection`` or
``pseudo``; prob / gt of the wrong shape. ``check_options(k, points_per_patch, grid, (H, W),
selection, pseudo)`` runs the option checks alone (a config, before training) and returns
(rows, cols, patch_h, patch_w); ``check_grid(grid, (H, W))`` the grid's alone.
"""
from typing import NamedTuple

import torch

from ..ops.uncertainty import TINY_EPS, sum_plogp
from ..ops.window import one_intraop_thread, over_row_chunks

IGNORE = 255
_CHUNK_ELEMS = 1 << 17  # p log p in row chunks that stay in cache (CPU)
SELECTIONS = ('entropy', 'random')
PSEUDO = ('points', 'dense', 'none')


class Acquisition(NamedTuple):
    labels: torch.Tensor   # (H, W) long, 255 = not labelled
    clicks: int            # oracle clicks, K * N (void ones included)
    oracle: torch.Tensor   # (H, W) bool, the clicked pixels
    pseudo: torch.Tensor   # (H, W) bool, the pixels with a pseudo label
    patches: torch.Tensor  # (K,) long, selected patch indices (row-major)
    points: torch.Tensor   # (rows * cols, N) long, each patch's points as flat pixel indices
    scores: torch.Tensor   # (rows, cols) patch entropy, Eq. (5)


def check_grid(grid, size):
    """(rows, cols) of ints >= 1 dividing size (H, W) -> (rows, cols, patch_h, patch_w)."""
    ok = (isinstance(grid, (tuple, list)) and len(grid) == 2
          and all(isinstance(g, int) and not isinstance(g, bool) and g >= 1 for g in grid))
    if not ok:
        raise ValueError(f'grid must be (rows, cols) of ints >= 1, got {grid!r}')
    rows, cols = grid
    height, width = size
    if height % rows or width % cols:
        raise ValueError(f'grid {tuple(grid)} does not divide the {height}x{width} (HxW) image: '
                         f'expected rows dividing {height} and cols dividing {width}')
    return rows, cols, height // rows, width // cols


def check_options(k, points_per_patch, grid, size, selection='entropy', pseudo='points'):
    """All of weak_labels' option checks (also for a config, before training): returns
    (rows, cols, patch_h, patch_w)."""
    rows, cols, ph, pw = check_grid(grid, size)
    patches = rows * cols
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= patches:
        raise ValueError(f'k={k!r}: expected an int in [0, {patches}] (the grid {rows}x{cols} '
                         f'has {patches} patches)')
    n = points_per_patch
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= ph * pw:
        raise ValueError(f'points_per_patch={n!r}: expected an int in [1, {ph * pw}] (the '
                         f'pixels of a {ph}x{pw} patch)')
    if selection not in SELECTIONS:
        raise ValueError(f'selection={selection!r}: expected one of {SELECTIONS}')
    if pseudo not in PSEUDO:
        raise ValueError(f'pseudo={pseudo!r}: expected one of {PSEUDO}')
    return rows, cols, ph, pw


def _check_prob(prob, name):
    if not torch.is_tensor(prob) or prob.ndim != 3 or not prob.is_floating_point():
        what = f'{tuple(prob.shape)} {prob.dtype}' if torch.is_tensor(prob) \
            else type(prob).__name__
        raise ValueError(f'{name}: prob must be a floating (C, H, W) tensor, got {what}')


def patch_entropy(prob, grid):
    """Sec. 3.2, Eq. (5): (C, H, W) probabilities -> (rows, cols), the mean over each patch of
    the grid of the pixel entropy ``-sum_c p log p`` (natural log, 0 log 0 = 0)."""
    _check_prob(prob, 'patch_entropy')
    rows, cols, ph, pw = check_grid(grid, prob.shape[1:])
    with torch.no_grad(), one_intraop_thread(prob.device) as workers:
        plogp = _sum_plogp(prob.detach(), workers)
        return plogp.view(rows, ph, cols, pw).mean((1, 3)).neg_()


def _sum_plogp(prob, workers=1):
    """(C, H, W) -> (H, W) sum_c p log max(p, 1e-30): 0 log 0 = 0; the clamp changes only
    p < 1e-30, whose terms are below 1e-28. On CPU in row chunks that stay in cache, spread
    over `workers` Python threads (each op on one intra-op thread: on shared cores an OpenMP
    region per op waits for descheduled workers; see window.one_intraop_thread)."""
    num_classes, height, width = prob.shape
    if prob.device.type != 'cpu':
        return sum_plogp(prob, 0, TINY_EPS, clamp=True)
    out = torch.empty((height, width), dtype=prob.dtype)
    rows = max(1, _CHUNK_ELEMS // (num_classes * width))

    def chunk(r0):
        part = prob[:, r0:r0 + rows]
        sum_plogp(part, 0, TINY_EPS, clamp=True, out=out[r0:r0 + rows])

    over_row_chunks(height, rows, workers, chunk)
    return out


def _rand(shape, generator, device):
    """U[0, 1) drawn on the generator's device (prob's when None), then moved to prob's."""
    at = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=at).to(device)


def acquire(prob, gt, k, points_per_patch, grid, selection='entropy', pseudo='points',
            generator=None):
    """Sec. 3.2, Eq. (6): the weak labels of one target image and what they cost (see the
    module docstring): -> Acquisition(labels, clicks, oracle, pseudo, patches, points, scores).
    """
    _check_prob(prob, 'acquire')
    num_classes, height, width = prob.shape
    if not torch.is_tensor(gt) or tuple(gt.shape) != (height, width):
        shape = tuple(gt.shape) if torch.is_tensor(gt) else type(gt).__name__
        raise ValueError(f'gt must be an ({height}, {width}) tensor like prob, got {shape}')
    rows, cols, ph, pw = check_options(k, points_per_patch, grid, (height, width), selection,
                                       pseudo)
    device = prob.device
    num_patches = rows * cols
    scores = patch_entropy(prob, grid)
    with torch.no_grad(), one_intraop_thread(device):  # mid-sized ops: one thread each
        # N distinct points per patch: the N largest of one uniform draw per (patch, pixel)
        draw = _rand((num_patches, ph * pw), generator, device)
        local = draw.topk(points_per_patch, dim=1, sorted=False).indices
        patch = torch.arange(num_patches, device=device)
        corner = (patch // cols) * (ph * width) + (patch % cols) * pw  # top-left pixel
        points = corner[:, None] + (local // pw) * width + local % pw   # (P, N) flat pixels
        if selection == 'entropy':
            # ties to the lower patch index: a stable descending sort
            patches = torch.sort(scores.flatten(), descending=True, stable=True).indices[:k]
        else:
            patches = _rand((num_patches,), generator, device).topk(k).indices
        selected = torch.zeros(num_patches, dtype=torch.bool, device=device)
        selected[patches] = True

        labels = torch.full((height * width,), IGNORE, dtype=torch.long, device=device)
        oracle = torch.zeros(height * width, dtype=torch.bool, device=device)
        pseudo_mask = torch.zeros(height * width, dtype=torch.bool, device=device)
        clicked = points[patches].flatten()
        labels[clicked] = gt.to(device).flatten()[clicked].long()
        oracle[clicked] = True
        if pseudo == 'points':
            where = points[~selected].flatten()
            labels[where] = prob.flatten(1)[:, where].argmax(0)
            pseudo_mask[where] = True
        elif pseudo == 'dense' and k < num_patches:
            in_other = (~selected).view(rows, 1, cols, 1).expand(rows, ph, cols, pw)
            pseudo_mask = in_other.reshape(-1)
            labels = torch.where(pseudo_mask, prob.argmax(0).flatten(), labels)
        shape = (height, width)
        return Acquisition(labels.view(shape), int(clicked.numel()), oracle.view(shape),
                           pseudo_mask.view(shape), patches, points, scores)


def weak_labels(prob, gt, k, points_per_patch, grid, selection='entropy', pseudo='points',
                generator=None):
    """Sec. 3.2, Eq. (6): POINT-ENT's weak labels of one target image: (C, H, W) probabilities
    of G1 and the (H, W) ground truth (the simulated oracle) -> (labels (H, W) long, clicks).
    See the module docstring; ``acquire`` also returns the masks and the selection."""
    out = acquire(prob, gt, k, points_per_patch, grid, selection, pseudo, generator)
    return out.labels, out.clicks
