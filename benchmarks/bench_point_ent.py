"""Benchmark: POINT-ENT's acquisition and an ADVENT training step, each against its baseline in
the same run (not a test; prints the figures of one run).

(a) Acquisition of one 1024x512 image from its logits (19 classes, grid 8x16 = 128 patches of
    64x64, K=10, N=5): softmax, patch entropies (Eq. 5), top-K, point sampling and the weak
    labels (`point_ent.weak_labels`, pseudo='points') against one `torch.softmax` over the same
    logits. The logits are smooth random fields (a bilinearly upsampled 19x64x128 normal draw,
    scaled), so the entropy varies over the image as a model's does. Warm-up runs first, then
    the two are timed interleaved, `--repeats` times each; medians and their ratio. Target:
    <= 3x.
(b) One ADVENT training step of configs/point_ent/synthshift/advent.py (two levels, two
    discriminators on self-information maps, G step then D step) against one plain
    `ADASegmentor` step of the same tiny SynthShift network (the same backbone, heads and
    losses, the same AdamW; no discriminator): batches of 4 + 4 64x128 images (random content:
    the cost does not depend on it; the target labels are all 255, so neither step has a target
    CE), interleaved, medians, ratio. Aim: <= 1.5x. `--ndf` changes the discriminators' width
    (ADVENT: 64).

The machine's load average is printed before and after: these CPUs may be shared, and the
ratios, measured interleaved in one process, are what to compare. On 2 shared cores with a
load of 4-8, `--threads 1` gave the steady figures: with 2 intra-op threads every OpenMP
region waits for a descheduled worker and a plain step took ~40x longer (see
mmseg_ext.ops.window.one_intraop_thread).

    python benchmarks/bench_point_ent.py [--repeats 15] [--steps 20] [--threads 2] [--ndf 64]
"""
import argparse
import copy
import os
import os.path as osp
import statistics
import sys
import time

import torch
import torch.nn.functional as F

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

CONFIG = 'configs/point_ent/synthshift/advent.py'
PLAIN_KEYS = ('data_preprocessor', 'backbone', 'decode_head', 'auxiliary_head', 'train_cfg',
              'test_cfg')


def load():
    return '/'.join(f'{x:.2f}' for x in os.getloadavg())


def interleaved(fns, repeats, warmup):
    """Median seconds of each of `fns`, timed in turns."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def bench_acquisition(repeats, warmup):
    from mmseg_ext.active import point_ent
    g = torch.Generator().manual_seed(0)
    logits = F.interpolate(torch.randn(1, 19, 64, 128, generator=g) * 4, size=(512, 1024),
                           mode='bilinear', align_corners=False)
    gt = torch.randint(0, 19, (512, 1024), generator=g)
    gt[:, :16] = 255  # some void

    def softmax():
        torch.softmax(logits, 1)

    def acquisition():
        prob = torch.softmax(logits, 1)[0]
        point_ent.weak_labels(prob, gt, 10, 5, (8, 16),
                              generator=torch.Generator().manual_seed(1))

    t_soft, t_acq = interleaved([softmax, acquisition], repeats, warmup)
    print(f'(a) softmax of 1x19x512x1024 logits: {t_soft * 1e3:.1f} ms; acquisition '
          f'(softmax + patch entropy + top-K + points + weak labels, K=10, N=5, grid 8x16): '
          f'{t_acq * 1e3:.1f} ms; ratio {t_acq / t_soft:.2f}x (target <= 3x; medians of '
          f'{repeats})')
    return t_acq / t_soft


def batch(n=4, h=64, w=128, seed=0):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)

    def samples(labelled):
        out = []
        for _ in range(n):
            lab = torch.randint(0, 19, (1, h, w), generator=g)
            if not labelled:
                lab.fill_(255)
            s = SegDataSample(gt_sem_seg=PixelData(data=lab))
            s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
            out.append(s)
        return out

    def imgs():
        return [torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)
                for _ in range(n)]

    return dict(inputs=imgs(), data_samples=samples(True), target_inputs=imgs(),
                target_data_samples=samples(False))


def bench_step(steps, warmup, ndf, channels_last=None):
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    advent_cfg = copy.deepcopy(cfg.model.to_dict())
    advent_cfg['discriminator']['ndf'] = ndf
    if channels_last is not None:
        advent_cfg['discriminator']['channels_last'] = channels_last
    layout = 'NHWC' if advent_cfg['discriminator'].get('channels_last') else 'NCHW'
    plain_cfg = dict(type='ADASegmentor', **{k: advent_cfg[k] for k in PLAIN_KEYS})
    torch.manual_seed(0)
    advent = MODELS.build(advent_cfg)
    torch.manual_seed(0)
    plain = MODELS.build(plain_cfg)
    advent_ow = build_optim_wrapper(advent, cfg.optim_wrapper)
    plain_ow = build_optim_wrapper(plain, cfg.generator_optim_wrapper)
    advent.train()
    plain.train()
    data = batch()
    t_plain, t_advent = interleaved([lambda: plain.train_step(data, plain_ow),
                                     lambda: advent.train_step(data, advent_ow)], steps, warmup)
    print(f'(b) plain ADASegmentor step: {t_plain * 1e3:.1f} ms; ADVENT step (2 levels, 2 '
          f'discriminators, ndf {ndf}, {layout}): {t_advent * 1e3:.1f} ms; ratio '
          f'{t_advent / t_plain:.2f}x '
          f'(aim <= 1.5x; batch 4 + 4, 64x128, medians of {steps})')
    return t_advent / t_plain


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeats', type=int, default=15)
    p.add_argument('--steps', type=int, default=20)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--ndf', type=int, nargs='+', default=[64])
    p.add_argument('--only', choices=('acquisition', 'step'))
    p.add_argument('--layouts', nargs='+', choices=('config', 'nchw', 'nhwc'),
                   default=['config'], help="the discriminators' memory layout (config: "
                   'as the config sets it)')
    args = p.parse_args(argv)
    import mmseg_ext  # noqa: F401
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} CPUs, '
          f'load average (1/5/15 min) before: {load()}')
    if args.only != 'step':
        bench_acquisition(args.repeats, args.warmup)
    if args.only != 'acquisition':
        for ndf in args.ndf:
            for layout in args.layouts:
                bench_step(args.steps, args.warmup, ndf,
                           dict(config=None, nchw=False, nhwc=True)[layout])
    print(f'load average after: {load()}')


if __name__ == '__main__':
    main()
