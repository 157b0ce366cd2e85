"""Benchmark the pool-scope strategies (ADeADA and its region baselines; not a test: it prints
the figures of one run). Two parts, on one device (`--device`, default cuda when present):

1. rankings: each strategy's dataset-wide ranking (``strategy.select``: scores, ranking and
   the budget take) on a synthetic RegionPool of `--images` sizes (default 744, 1488, 2975
   Cityscapes-train images' worth), 40 regions per image, 256-d region features, 19 classes,
   region sizes of a 1024x2048 image, 1 % of the pool's pixels bought (D2ADA: 29 of 2975
   images per round); AADA and ADeADA also read a source pool of `--source-ratio` x as many
   images (D2ADA reads all 24,966 GTA5 images: ratio 8.4). BADGE's rows carry the (19 x 256)
   gradient embeddings. Printed: seconds per size and the growth exponent between
   consecutive sizes, log(t2 / t1) / log(n2 / n1), against n log n's (about 1.1 here); a
   ranking under 1 s is timed 3 times, best of. A strategy whose size took more than `--cap`
   seconds is not run at the larger sizes.
2. round: one full-size image (`--size`, default 1024x2048): the inference a round needs
   (the real network of configs/adeada/gta5_to_cityscapes.py, random weights, through
   hooks/inference.label_size_outputs: forward, logits and pre-classifier features at label
   size) against the region statistics each strategy adds (region_pool.pool_rows with its
   needs, Canny for ReDAL) plus its ranking's share per image (the ranking time at the
   largest size measured / its images). ratio = (inference + statistics + ranking share) /
   inference (the issue's bar: at most 1.3; NaN without rankings, `--images none`), and
   ratio_statistics without the ranking share. Superpixels are cached on disk once per dataset
   (units.SuperpixelCache), so SLIC is not part of a round.

    python benchmarks/bench_pool_rankings.py                         # GPU: default sizes
    python benchmarks/bench_pool_rankings.py --images 93,186,372 --size 512x1024   # small CPU
    python benchmarks/bench_pool_rankings.py --tiny                  # seconds: the test's mode

``run(device, tiny) -> list of dict rows`` is the entry point for other scripts (each row:
part, strategy, images, regions, source_regions, seconds, exponent, ...).
"""
import argparse
import math
import os
import os.path as osp
import sys
import time

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mmseg_ext.active.region_pool import EDGES, GRAD, RegionPool, pool_rows  # noqa: E402
from mmseg_ext.active.strategies import SOURCE, build_strategy  # noqa: E402
from mmseg_ext.hooks.strategy_inputs import region_statistics  # noqa: E402

STRATEGIES = ('Pool-RAND', 'Pool-ENT', 'Pool-CONF', 'Pool-MAR', 'AADA', 'ReDAL', 'CLUE',
              'BADGE', 'ADeADA')
REGIONS, DIM, CLASSES, BUY = 40, 256, 19, 0.01
SIZES = (744, 1488, 2975)
TINY = dict(sizes=(6, 12, 24), dim=16, size=(64, 128), config='configs/adeada/synthshift.py')
FULL = dict(sizes=SIZES, dim=DIM, size=(1024, 2048), config='configs/adeada/gta5_to_cityscapes.py')


def _sync(device):
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


def synthetic_pool(images, dim=DIM, seed=0, device='cpu', grad=False, target=True,
                   pixels=1024 * 2048):
    """A RegionPool of `images` x 40 regions: class-clustered features (the target shifted
    and wider), peaked softmax rows, sizes around pixels / 40; 1 % already bought."""
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(CLASSES, dim, generator=torch.Generator().manual_seed(99))
    n = images * REGIONS
    cls = torch.randint(0, CLASSES, (n,), generator=g)
    feats = centres[cls] + (0.7 if target else 0.5) * torch.randn(n, dim, generator=g)
    if target:
        feats += 0.5 * torch.randn(CLASSES, dim, generator=torch.Generator().manual_seed(98))[cls]
    logits = torch.randn(n, CLASSES, generator=g)
    logits[torch.arange(n), cls] += 3.0
    p = torch.softmax(logits, 1)
    top2 = p.topk(2, 1).values
    mean = pixels // REGIONS
    size = torch.randint(mean // 2, mean + mean // 2, (n,), generator=g)
    rows = dict(image=torch.arange(images).repeat_interleave(REGIONS),
                segment=torch.arange(REGIONS).repeat(images), size=size,
                available=torch.rand(n, generator=g) > 0.01, probs=p,
                entropy=-(p * p.log()).sum(1), confidence=1 - top2[:, 0],
                margin=top2[:, 1] - top2[:, 0], feats=feats,
                edge=torch.rand(n, generator=g))
    if grad:
        w = p.clone()
        w[torch.arange(n), p.argmax(1)] -= 1
        rows['grad'] = (w[:, :, None] * feats[:, None, :]).reshape(n, CLASSES * dim)
    return RegionPool(**{k: v.to(device) for k, v in rows.items()})


def rankings(device, sizes, dim, source_ratio=1.0, strategies=STRATEGIES, cap=600.0, log=print):
    rows = []
    for name in strategies:
        strategy = build_strategy(dict(type=name), scope='pool')
        last = None
        for images in sizes:
            if last is not None and last['seconds'] > cap:
                rows.append(dict(part='ranking', strategy=name, images=images, seconds=None,
                                 note=f'not run: the smaller size took > {cap:g} s'))
                continue
            pool = synthetic_pool(images, dim, seed=images, device=device, grad=name == 'BADGE')
            src_images = max(1, round(source_ratio * images))
            source = (synthetic_pool(src_images, dim, seed=10 ** 6 + images, device=device,
                                     target=False) if SOURCE in strategy.needs_at(1) else None)
            budget = BUY * float(pool.size.sum())
            times = []
            while not times or (times[0] < 1.0 and len(times) < 3):  # short: best of 3
                _sync(device)
                start = time.perf_counter()
                picks = strategy.select(pool, budget, 1, source,
                                        torch.Generator().manual_seed(0))
                _sync(device)
                times.append(time.perf_counter() - start)
            seconds = min(times)
            row = dict(part='ranking', strategy=name, images=images, regions=len(pool),
                       source_regions=len(source) if source is not None else 0,
                       seconds=seconds, picks=int(picks.numel()),
                       picks_on_device=str(picks.device))
            if last is not None and last['seconds']:
                ratio = len(pool) / last['regions']
                row['exponent'] = math.log(seconds / last['seconds']) / math.log(ratio)
                row['nlogn_exponent'] = math.log(
                    ratio * math.log(len(pool)) / math.log(last['regions'])) / math.log(ratio)
            rows.append(row)
            log(_fmt(row))
            last = row
            del pool, source
    return rows


def _model(config, device):
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from mmseg.utils import register_all_modules

    import mmseg_ext  # noqa: F401  (registers the project's components)
    from sweeps.paths import walk_dicts
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO, config))

    def no_checkpoint(d):
        if isinstance(d.get('init_cfg'), dict) and d['init_cfg'].get('type') == 'Pretrained':
            d['init_cfg'] = None
        if 'pretrained' in d:
            d['pretrained'] = None
    walk_dicts(cfg._cfg_dict, no_checkpoint)
    model = MODELS.build(cfg.model)  # PyTorch's default initialisation (no init_weights log)
    return model.to(device).eval()


def full_size_round(device, size, config, ranking_rows, strategies=STRATEGIES, repeats=3,
                    log=print):
    """Inference of one image at `size` against each strategy's region statistics (best of
    `repeats` after a warm-up call)."""
    from mmengine.structures import PixelData  # noqa: F401
    from mmseg.structures import SegDataSample

    from mmseg_ext.active.units import grid_segments
    from mmseg_ext.hooks.inference import label_size_outputs
    H, W = size
    model = _model(config, device)
    g = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (3, H, W), generator=g, dtype=torch.uint8)
    meta = dict(ori_shape=(H, W), img_shape=(H, W), pad_shape=(H, W))
    batch = dict(inputs=[image], data_samples=[SegDataSample(metainfo=meta)])
    rgb = image.permute(1, 2, 0).contiguous().numpy()
    segments = grid_segments(H, W, -(-H // 5), -(-W // 8))  # 5 x 8 = 40 regions
    blocked = torch.zeros(H, W, dtype=torch.bool)
    with torch.no_grad():
        label_size_outputs(model, batch, features=True)  # warm-up (allocator, kernels)
        _sync(device)
        start = time.perf_counter()
        out = label_size_outputs(model, batch, features=True)
        _sync(device)
        inference = time.perf_counter() - start
    logits, feats = out.logits[0].float(), out.feats[0].float()
    rows = [dict(part='inference', strategy='-', size=f'{H}x{W}', seconds=inference)]
    log(_fmt(rows[0]))
    largest = {}
    for r in ranking_rows:
        if r.get('seconds') is not None:
            largest[r['strategy']] = r
    for name in strategies:
        strategy = build_strategy(dict(type=name), scope='pool')
        needs = region_statistics(strategy, 1)
        times = []
        for _ in range(repeats + 1):  # the first call is a warm-up
            _sync(device)
            start = time.perf_counter()
            stats = pool_rows(logits, segments.to(logits.device), needs, blocked, feats,
                              rgb if EDGES in needs else None)
            _sync(device)
            times.append(time.perf_counter() - start)
        seconds = min(times[1:])  # best of: the least disturbed by other processes
        rank = largest.get(name)
        share = rank['seconds'] / rank['images'] if rank else float('nan')
        row = dict(part='round', strategy=name, size=f'{H}x{W}', inference=inference,
                   statistics=seconds, ranking_per_image=share,
                   ratio_statistics=(inference + seconds) / inference,
                   ratio=(inference + seconds + share) / inference,
                   rows_on_device=str(stats['probs'].device),
                   grad=GRAD in needs)
        rows.append(row)
        log(_fmt(row))
    return rows


def run(device=None, tiny=False, sizes=None, strategies=STRATEGIES, source_ratio=1.0,
        cap=600.0, size=None, round_part=True, repeats=3, log=print):
    """Both parts; a list of dict rows (see the module docstring)."""
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    spec = TINY if tiny else FULL
    rows = (rankings(device, sizes or spec['sizes'], spec['dim'], source_ratio, strategies,
                     cap, log) if sizes != () else [])
    if round_part:
        rows += full_size_round(device, size or spec['size'], spec['config'], rows,
                                strategies, repeats, log)
    return rows


def _fmt(row):
    def v(x):
        return f'{x:.3g}' if isinstance(x, float) else str(x)
    return '  '.join(f'{k}={v(x)}' for k, x in row.items() if k != 'part') + f'  [{row["part"]}]'


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default=None)
    ap.add_argument('--tiny', action='store_true', help='tiny sizes and model (seconds)')
    ap.add_argument('--images', default=None,
                    help="comma-separated pool sizes in images ('none': the round only)")
    ap.add_argument('--strategies', default=','.join(STRATEGIES))
    ap.add_argument('--source-ratio', type=float, default=1.0)
    ap.add_argument('--cap', type=float, default=600.0)
    ap.add_argument('--size', default=None, help='HxW of the full-size round, e.g. 1024x2048')
    ap.add_argument('--no-round', action='store_true', help='rankings only')
    ap.add_argument('--repeats', type=int, default=3, help='timed region statistics calls')
    args = ap.parse_args(argv)
    sizes = (() if args.images == 'none' else
             tuple(int(s) for s in args.images.split(',')) if args.images else None)
    size = tuple(int(s) for s in args.size.split('x')) if args.size else None
    run(args.device, args.tiny, sizes, tuple(args.strategies.split(',')), args.source_ratio,
        args.cap, size, not args.no_round, args.repeats)
    print('load average (1, 5, 15 min):', os.getloadavg())


if __name__ == '__main__':
    main()
