"""Benchmark: one ADA-MCU training step relative to plain two-domain training with the same model
on SynthShift (not a test; prints the figures of one run).

Both models are the tiny SynthShift model with the same auxiliary FCN head (ADA-MCU's
uncertainty needs it): `ADASegmentor` (source + labelled-target CE, auxiliary CE) against
`ADAMCUSegmentor` (the same plus uncertainty groups, the pseudo-label loss, the projection head,
the multi-level contrastive loss and the DCCM update). Batches of 4 + 4 real SynthShift images,
~10% of the target pixels labelled; median seconds per step over --steps after --warmup steps,
both measured in this run with the same torch thread count.

    python benchmarks/bench_adamcu_step.py [--steps 30] [--threads 1] [--caps 16 64 64]
"""
import argparse
import copy
import os.path as osp
import statistics
import sys
import time

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

AUX = dict(type='FCNHead', in_channels=24, in_index=0, channels=16, num_convs=1, kernel_size=1,
           concat_input=False, dropout_ratio=0.0, num_classes=19,
           norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
           loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4,
                            avg_non_ignore=True))


def model_cfg(adamcu, caps=None):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/tiny_synthshift.py'))
    model = copy.deepcopy(cfg.model.to_dict())
    model['auxiliary_head'] = copy.deepcopy(AUX)
    if adamcu:
        model.update(type='ADAMCUSegmentor', pi_high=0.9, pi_low=0.5,
                     projection=dict(channels=32),
                     contrastive_loss=dict(type='MultiLevelContrastiveLoss'))
        if caps is not None:
            model['contrastive_loss'].update(zip(
                ('max_anchors_per_class', 'max_positives_per_class', 'max_negatives_per_class'),
                caps))
    return model


def batch(n=4):
    from mmengine.dataset import pseudo_collate

    from mmseg_ext.datasets import TwoDomainDataset
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')]
    ds = TwoDomainDataset(
        source=dict(type='SynthShiftDataset', domain='source', pipeline=pipeline),
        target=dict(type='SynthShiftDataset', domain='target', split='train',
                    pipeline=pipeline))
    data = pseudo_collate([ds[i] for i in range(n)])
    g = torch.Generator().manual_seed(0)
    for s in data['target_data_samples']:
        lab = s.gt_sem_seg.data
        lab[torch.rand(lab.shape, generator=g) > 0.1] = 255
    return data


def time_steps(model, data, steps, warmup):
    from mmengine.optim import OptimWrapper
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9))
    model.train()
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        model.train_step(data, wrapper)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=30)
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--caps', type=int, nargs=3, metavar=('ANCHORS', 'POSITIVES', 'NEGATIVES'),
                   help="the loss's per-class caps (default: its defaults, 32 128 128)")
    args = p.parse_args(argv)
    import mmseg_ext  # noqa: F401
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    torch.set_num_threads(args.threads)
    data = batch()
    result = {}
    for name, adamcu in (('plain two-domain (ADASegmentor)', False),
                         ('ADA-MCU (ADAMCUSegmentor)', True)):
        torch.manual_seed(0)
        model = MODELS.build(model_cfg(adamcu, args.caps))
        result[name] = time_steps(model, data, args.steps, args.warmup)
        print(f'{name}: {result[name] * 1000:.1f} ms per step (median of {args.steps})')
    plain, mcu = result.values()
    print(f'ADA-MCU / plain: {mcu / plain:.2f}x (torch threads {args.threads}, batch 4 + 4, '
          '64x128)')


if __name__ == '__main__':
    main()
