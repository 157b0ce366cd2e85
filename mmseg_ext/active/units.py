"""What is bought, and how non-overlapping units are picked under a budget.

``Budget``                  the per-image (or pooled) pixel budget of a run, split over rounds
k-squares                   ``greedy_select`` (``select``): RIPU's greedy picks of (2k+1)^2
                            squares with square suppression, computed in parallel
``grid_segments``           non-overlapping rectangles (grid cells), row-major ids
``slic_segments``           SLIC superpixels; ``SuperpixelCache`` keeps them on disk
``region_segments``         the segment map of a region spec: dict(type='grid', cell=(h, w)),
                            dict(type='square', k=k) or dict(type='superpixel', n_segments=,
                            compactness=) (cached when a cache is given)
``select_segments``         whole segments by score under a per-image pixel budget
``take_budget``             the prefix of a ranking of regions whose pixels fit a pool budget

Segment ids are >= 0; ids without pixels get a NaN mean and are never selected. The paper's
superpixels (RIPU Table 6: SEEDS, opencv-contrib; D2ADA: fast_slic) are not installable from
PyPI for Python 3.11 alongside opencv-python, so scikit-image's SLIC stands in for both.
"""
import json
import math
import os
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch
from PIL import Image

from adasweep_base.fileio import atomic_write
from ..ops.checks import as_rgb_numpy, is_int
from .scores import flat_segment_ids
from .select import Selection, greedy_select  # noqa: F401  (re-exported)

REGION_TYPES = ('superpixel', 'grid', 'square')
_REGION_KEYS = {'superpixel': {'n_segments', 'compactness'}, 'grid': {'cell'}, 'square': {'k'}}


@dataclass(frozen=True)
class Budget:
    """Per-image annotation budget over the whole run: ``ratio`` of the label pixels, or
    ``pixels`` per image defined at ``resolution`` (h, w) (None = at label resolution)."""
    ratio: Optional[float] = None
    pixels: Optional[float] = None
    rounds: int = 1
    resolution: Optional[Tuple[int, int]] = None

    def __post_init__(self):
        if (self.ratio is None) == (self.pixels is None):
            raise ValueError('Budget needs exactly one of ratio= or pixels=')
        if self.ratio is not None and not 0 < self.ratio <= 1:
            raise ValueError(f'budget ratio must be in (0, 1], got {self.ratio!r}')
        if self.pixels is not None and not self.pixels > 0:
            raise ValueError(f'budget pixels must be > 0, got {self.pixels!r}')
        if self.ratio is not None and self.resolution is not None:
            raise ValueError('resolution only applies to a pixels= budget')
        if not is_int(self.rounds, 1):
            raise ValueError(f'rounds must be an int >= 1, got {self.rounds!r}')
        if self.resolution is not None and (len(self.resolution) != 2
                                            or min(self.resolution) < 1):
            raise ValueError(f'resolution must be (h, w) >= 1, got {self.resolution!r}')

    def pixels_per_round(self, height: int, width: int) -> float:
        """Per-round pixel budget (float) for an (height, width) label map."""
        if self.ratio is not None:
            return height * width * (self.ratio / self.rounds)
        if self.resolution is None:
            return self.pixels / self.rounds
        h, w = self.resolution
        return self.pixels / self.rounds / (h * w) * (height * width)


def grid_segments(height: int, width: int, cell_h: int, cell_w: int,
                  device=None) -> torch.Tensor:
    """(H, W) long ids of a grid of cell_h x cell_w rectangles; cells at the bottom/right
    border are smaller when H, W are not multiples of the cell."""
    for n, v in (('height', height), ('width', width), ('cell_h', cell_h), ('cell_w', cell_w)):
        if not is_int(v, 1):
            raise ValueError(f'{n} must be an int >= 1, got {v!r}')
    rows = torch.arange(height, device=device) // cell_h
    cols = torch.arange(width, device=device) // cell_w
    return rows[:, None] * (-(-width // cell_w)) + cols[None, :]


def slic_segments(image_rgb_uint8, n_segments: int = 256,
                  compactness: float = 10.0) -> torch.Tensor:
    """(H, W) long ids from skimage.segmentation.slic (Lab SLIC, start_label=0)."""
    from skimage.segmentation import slic
    img = as_rgb_numpy(image_rgb_uint8)
    seg = slic(img, n_segments=int(n_segments), compactness=float(compactness),
               start_label=0, channel_axis=-1)
    return torch.from_numpy(seg.astype(np.int64))


def check_region(region: dict, owner: str = 'region') -> None:
    """A region spec (see the module docstring), or one-line ValueError."""
    kind = region.get('type')
    if kind not in REGION_TYPES:
        raise ValueError(f'{owner}: region type {kind!r}, expected one of {REGION_TYPES}')
    unknown = set(region) - _REGION_KEYS[kind] - {'type'}
    if unknown:
        raise ValueError(f'{owner}: unknown {kind} region option(s) {sorted(unknown)}; '
                         f'known: {sorted(_REGION_KEYS[kind])}')
    if kind == 'grid':
        cell = region.get('cell')
        if not (isinstance(cell, (list, tuple)) and len(cell) == 2
                and all(is_int(v, 1) for v in cell)):
            raise ValueError(f'{owner}: grid cell must be (h, w) ints >= 1, got {cell!r}')
    if kind == 'square' and not is_int(region.get('k'), 0):
        raise ValueError(f'{owner}: square k must be an int >= 0, got {region.get("k")!r}')
    if kind == 'superpixel':
        n, c = region.get('n_segments', 40), region.get('compactness', 10.0)
        if not is_int(n, 1):
            raise ValueError(f'{owner}: n_segments must be an int >= 1, got {n!r}')
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not c > 0:
            raise ValueError(f'{owner}: compactness must be a number > 0, got {c!r}')


def region_segments(region: dict, height: int, width: int, image=None,
                    cached=None) -> torch.Tensor:
    """(H, W) long segment ids of a region spec; superpixels come from ``cached()`` (a
    SuperpixelCache lookup) when given, else from SLIC on ``image`` (H, W, 3 uint8)."""
    kind = region['type']
    if kind == 'grid':
        return grid_segments(height, width, *region['cell'])
    if kind == 'square':
        side = 2 * region['k'] + 1
        return grid_segments(height, width, side, side)
    if cached is not None:
        return cached()
    if image is None:
        raise ValueError('superpixel regions need the target image (image=)')
    return slic_segments(image, region.get('n_segments', 40), region.get('compactness', 10.0))


@torch.no_grad()
def select_segments(seg_scores: torch.Tensor, segments: torch.Tensor, pixel_budget: float,
                    blocked: torch.Tensor = None) -> Selection:
    """Buy whole segments in descending score order until their pixels reach pixel_budget.

    A segment touching a blocked pixel, or without pixels, is not available. The last segment
    bought may overshoot the budget (at most by its own size minus one pixel). Ties go to the
    lower id. Returns a ``Selection`` whose ``centers`` are the bought segment ids (in buying
    order), ``labelled`` their pixels and ``blocked`` = blocked | labelled.
    Raises ValueError if the available segments hold fewer than pixel_budget pixels.
    """
    seg2d = segments
    seg = flat_segment_ids(segments, segments.shape)
    n = seg_scores.numel()
    if seg.numel() and int(seg.max()) >= n:
        raise ValueError(f'segment id {int(seg.max())} has no score (only {n} scores)')
    size = torch.bincount(seg, minlength=n)
    avail = size > 0
    if blocked is not None:
        if tuple(blocked.shape) != tuple(segments.shape):
            raise ValueError(f'blocked shape {tuple(blocked.shape)} != {tuple(segments.shape)}')
        blocked = blocked.to(torch.bool)
        avail &= torch.bincount(seg[blocked.flatten()], minlength=n) == 0
    ids = avail.nonzero().flatten()
    s = seg_scores.flatten()[ids]
    if torch.isnan(s).any():
        raise ValueError('NaN score for an available segment')
    ids = ids[torch.sort(s, descending=True, stable=True).indices]
    cum = size[ids].cumsum(0)
    budget = int(math.ceil(pixel_budget))
    if budget <= 0:
        picked = ids[:0]
    else:
        total = int(cum[-1]) if cum.numel() else 0
        if total < budget:
            raise ValueError(f'available segments hold {total} pixels < budget {budget}')
        picked = ids[:int(torch.searchsorted(cum, budget)) + 1]
    chosen = torch.zeros(n, dtype=torch.bool, device=seg.device)
    chosen[picked] = True
    labelled = chosen[seg2d.long()]
    new_blocked = labelled if blocked is None else blocked | labelled
    return Selection(centers=picked, labelled=labelled, blocked=new_blocked)


def take_budget(order: torch.Tensor, size: torch.Tensor, budget: float,
                overshoot: bool = False) -> torch.Tensor:
    """The prefix of `order` (row indices) whose pixels (`size[order]`) fit in `budget`; with
    ``overshoot`` (D2ADA's expand_training_set) also the region that crosses it."""
    if order.numel() == 0:
        return order
    cum = size[order].cumsum(0)
    n = int((cum <= budget).sum())
    if overshoot:
        n = min(n + 1, order.numel())
    return order[:n]


class SuperpixelCache:
    """SLIC superpixels per image, computed once and cached on disk (ADeADA's regions).

    D2ADA computes `fast_slic.Slic(num_components=40, compactness=10)` offline on the raw RGB
    image at native resolution and stores one PNG per image mirroring the image path. This does
    the same with scikit-image's SLIC:

        cache = SuperpixelCache('data/synthshift/superpixel')
        ids = cache.get(img_path, rel)     # (H, W) long, ids 0..S-1, computed on first use
        cache.build([(img_path, rel), ...], workers=2)   # all of them up front, in parallel

    Ids are stored as 16-bit PNGs `<root>/<rel>.png` (written atomically); `<root>/params.json`
    records the SLIC parameters. A cache made with other parameters, or holding a map whose
    size is not the image's, is refused with a one-line error instead of being used. SLIC
    returns about `n_segments` ids, not exactly that many (the reference assumes exactly 40).
    """

    def __init__(self, root, n_segments: int = 40, compactness: float = 10.0):
        if not is_int(n_segments, 1):
            raise ValueError(f'n_segments must be an int >= 1, got {n_segments!r}')
        if not compactness > 0:
            raise ValueError(f'compactness must be > 0, got {compactness!r}')
        self.root = Path(root)
        self.params = dict(method='skimage.slic', n_segments=n_segments,
                           compactness=float(compactness))
        meta = self.root / 'params.json'
        if meta.is_file():
            made = json.loads(meta.read_text())
            if made != self.params:
                raise ValueError(f'superpixel cache {self.root} was made with {made}, not '
                                 f'{self.params}: use another root')
        else:
            atomic_write(meta, lambda tmp: Path(tmp).write_text(json.dumps(self.params)))

    def path(self, rel) -> Path:
        return self.root / f'{os.path.splitext(str(rel))[0]}.png'

    def get(self, img_path, rel) -> torch.Tensor:
        """(H, W) long superpixel ids of the image at img_path, cached as `path(rel)`."""
        width, height = Image.open(img_path).size
        path = self.path(rel)
        if path.is_file():
            ids = np.array(Image.open(path))
            if ids.shape != (height, width):
                raise ValueError(f'superpixel map {path} is {ids.shape[0]}x{ids.shape[1]} but '
                                 f'image {img_path} is {height}x{width}: delete the cache')
            return torch.from_numpy(ids.astype(np.int64))
        image = np.array(Image.open(img_path).convert('RGB'))
        ids = slic_segments(image, self.params['n_segments'], self.params['compactness'])
        if int(ids.max()) >= 1 << 16:
            raise ValueError(f'{img_path}: {int(ids.max()) + 1} superpixels do not fit 16 bits')
        atomic_write(path, lambda tmp: Image.fromarray(ids.numpy().astype(np.uint16)).save(
            tmp, format='PNG'))
        return ids

    def build(self, items, workers: int = None) -> int:
        """Compute the maps of [(img_path, rel)] that are not cached yet; returns their count."""
        todo = [(str(img), str(rel)) for img, rel in items if not self.path(rel).is_file()]
        workers = min(2, os.cpu_count() or 1) if workers is None else workers
        if workers > 1 and len(todo) > 1:
            with Pool(workers) as pool:
                pool.starmap(self._compute, todo, chunksize=8)
        else:
            for img, rel in todo:
                self._compute(img, rel)
        return len(todo)

    def _compute(self, img_path, rel):
        self.get(img_path, rel)
