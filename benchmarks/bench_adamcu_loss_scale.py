"""What ADA-MCU's contrastive-loss weight 1 means (issue 21, item 4): L_con against the
segmentation CE at initialisation for the real configs (configs/adamcu/<benchmark>.py:
DeepLab-v2 ResNet-101, output stride 8, 256-d head features, 128-d projection, caps 32/128/128,
lambda 0.1). Random init (no ImageNet weights are downloaded), CPU, --batch source + --batch
target images at --scale of the training sizes (source 1280x720, target 1280x640; 1.0 = full
size). With one image per domain the cross-image level has no pair (0); at random init every
pixel is above pi_low, so no centre forms and the centre-to-centre terms are 0 too (a
source-pretrained start, as the paper's, has them). The labels
are synthetic (no Cityscapes / GTA5 here): 19-class maps of 16x16-pixel blocks, the source fully
labelled, 5% of the target pixels bought (uniformly at random). One forward without gradients;
the contrastive loss is then evaluated for the default (all levels and units, per_domain=True),
per_domain=False, and each level x unit alone (per_domain=True), each at weight 1 (the DCCM reset
to its zero start before each, so the negatives are unweighted).

    python benchmarks/bench_adamcu_loss_scale.py [--benchmark gta5_to_cityscapes] [--scale 1.0]
        [--batch 1]
"""
import argparse
import os.path as osp
import time

import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

import mmseg_ext  # noqa: F401  (registers the modules)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def batch(n, h, w, bought, g):
    images, samples = [], []
    for _ in range(n):
        blocks = torch.randint(0, 19, (h // 16 + 1, w // 16 + 1), generator=g)
        label = blocks.repeat_interleave(16, 0).repeat_interleave(16, 1)[:h, :w]
        if bought < 1:
            keep = torch.rand(h, w, generator=g) < bought
            label = torch.where(keep, label, torch.full_like(label, 255))
        sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                             pad_shape=(h, w)))
        sample.gt_sem_seg = PixelData(data=label[None].long())
        images.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        samples.append(sample)
    return images, samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--benchmark', default='gta5_to_cityscapes')
    parser.add_argument('--scale', type=float, default=1.0)
    parser.add_argument('--batch', type=int, default=1, help='images per domain (paper: 2)')
    args = parser.parse_args()
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'adamcu', f'{args.benchmark}.py'))
    model = MODELS.build(cfg.model)  # random init: init_weights (ImageNet) is not called
    model.train()
    g = torch.Generator().manual_seed(0)
    s = args.scale
    src = batch(args.batch, int(720 * s) // 8 * 8, int(1280 * s) // 8 * 8, 1.0, g)
    tgt = batch(args.batch, int(640 * s) // 8 * 8, int(1280 * s) // 8 * 8, 0.05, g)
    start = time.perf_counter()
    with torch.no_grad():
        model._capture = True
        source = model.domain_forward(*src)
        target = model.domain_forward(*tgt)
        losses = model.supervised_losses(source, '')
        losses.update(model.supervised_losses(target, 'tgt.'))
        rows = [('default (3 levels x 2 units x 2 domains)', {})]
        rows.append(('per_domain=False', dict(per_domain=False)))
        for level in ('intra_image', 'cross_image', 'cross_domain'):
            for unit in ('pixel', 'centre'):
                rows.append((f'{level} / {unit}', dict(levels=(level, ), units=(unit, ))))
        loss = model.contrastive_loss
        defaults = dict(levels=loss.levels, units=loss.units, per_domain=loss.per_domain)
        mcu = []
        for name, change in rows:
            for key, value in {**defaults, **change}.items():
                setattr(loss, key, value)
            model.dccm.weights.zero_()
            out = model.method_losses(source, target)
            mcu.append((name, float(out['loss_mcu']), dict(loss.last_stats),
                        float(out.get('loss_pseudo', 0))))
    seconds = time.perf_counter() - start
    ce = float(losses['decode.loss_ce'])
    print(f'{args.benchmark}, {args.batch} + {args.batch} images, scale {s} (source {tuple(source.label.shape[1:])}, target '
          f'{tuple(target.label.shape[1:])}, logits {tuple(source.logits.shape[2:])}), '
          f'{seconds:.0f} s on CPU')
    print(f"source CE {ce:.3f}, aux CE (weighted) {float(losses['aux.loss_ce']):.3f}, "
          f"target CE {float(losses['tgt.decode.loss_ce']):.3f}, pseudo CE {mcu[0][3]:.3f}")
    print('| L_con | value | / source CE | anchors (src + tgt) |')
    print('|:---|---:|---:|---:|')
    for name, value, stats, _ in mcu:
        print(f"| {name} | {value:.2f} | {value / ce:.1f} | {stats['num_src_anchors']} + "
              f"{stats['num_tgt_anchors']} |")


if __name__ == '__main__':
    main()
