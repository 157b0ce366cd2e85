"""Benchmark: one ADA-MCU training step relative to plain two-domain training with the same model
on SynthShift (not a test; prints the figures of one run).

Both models are the model of configs/adamcu/synthshift.py (the tiny SynthShift model with
its auxiliary FCN head, which ADA-MCU's uncertainty needs): as `ADASegmentor` (source +
labelled-target CE, auxiliary CE) against `ADAMCUSegmentor` (the same plus uncertainty groups,
the pseudo-label loss, the projection head, the multi-level contrastive loss and the DCCM
update). Batches of 4 + 4 real SynthShift images, ~10% of the target pixels labelled; median
seconds per step over --steps after --warmup steps, both measured in this run with the same
torch thread count. Also timed: the adaptive-sampling purchase of one batch
(AdaptiveSamplingHook's work before the update of a buying iteration: the 4 target images
through both heads at label size, the uncertainty, one AdaptiveSampler.select), which only runs
until the budget is spent.

    python benchmarks/bench_adamcu_step.py [--steps 30] [--threads 1] [--caps 32 128 128]
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

CONFIG = 'configs/adamcu/synthshift.py'
PLAIN_KEYS = ('data_preprocessor', 'backbone', 'decode_head', 'auxiliary_head', 'train_cfg',
              'test_cfg')


def model_cfg(adamcu, caps=None):
    """The SynthShift ADA-MCU model, or the same network as a plain ADASegmentor."""
    from mmengine.config import Config
    model = copy.deepcopy(Config.fromfile(osp.join(REPO, CONFIG)).model.to_dict())
    if not adamcu:
        return dict(type='ADASegmentor', **{k: model[k] for k in PLAIN_KEYS})
    if caps is not None:
        model['contrastive_loss'].update(zip(
            ('max_anchors_per_class', 'max_positives_per_class', 'max_negatives_per_class'),
            caps))
    return model


def batch(n=4):
    from mmengine.dataset import pseudo_collate

    ds = two_domain()
    data = pseudo_collate([ds[i] for i in range(n)])
    g = torch.Generator().manual_seed(0)
    for s in data['target_data_samples']:
        lab = s.gt_sem_seg.data
        lab[torch.rand(lab.shape, generator=g) > 0.1] = 255
    return data


def two_domain():
    from mmseg_ext.datasets import TwoDomainDataset
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')]
    return TwoDomainDataset(
        source=dict(type='SynthShiftDataset', domain='source', pipeline=pipeline),
        target=dict(type='SynthShiftDataset', domain='target', split='train',
                    pipeline=pipeline))


def time_purchase(model, steps, warmup, n=4):
    """Median seconds of one adaptive-sampling purchase over n target images."""
    from mmengine.dataset import pseudo_collate

    from mmseg_ext.active.adamcu import AdaptiveSampler
    from mmseg_ext.ops.uncertainty import two_head_uncertainty as uncertainty
    from mmseg_ext.hooks.inference import PoolImages, label_size_outputs
    target = two_domain().target
    infos = [target.get_data_info(i) for i in range(n)]
    pool = PoolImages(infos, [dict(type='LoadImageFromFile'), dict(type='PackSegInputs')])
    sampler = AdaptiveSampler(10 ** 9, 1.0, 0.1)  # never runs out during the timing
    model.eval()
    times = []
    with torch.no_grad():
        for i in range(warmup + steps):
            start = time.perf_counter()
            main, aux, _ = label_size_outputs(model, pseudo_collate([pool[j] for j in range(n)]),
                                              auxiliary=True)
            u = torch.stack([uncertainty(m[None], a[None], model.gamma)[0]
                             for m, a in zip(main, aux)])
            sampler.select(u, torch.zeros_like(u, dtype=torch.bool))
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


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
    result, models = {}, {}
    for name, adamcu in (('plain two-domain (ADASegmentor)', False),
                         ('ADA-MCU (ADAMCUSegmentor)', True)):
        torch.manual_seed(0)
        model = models[adamcu] = MODELS.build(model_cfg(adamcu, args.caps))
        result[name] = time_steps(model, data, args.steps, args.warmup)
        print(f'{name}: {result[name] * 1000:.1f} ms per step (median of {args.steps})')
    plain, mcu = result.values()
    print(f'ADA-MCU / plain: {mcu / plain:.2f}x (torch threads {args.threads}, batch 4 + 4, '
          '64x128)')
    buy = time_purchase(models[True], args.steps, args.warmup)
    print(f'adaptive-sampling purchase of a batch (buying iterations only): {buy * 1000:.1f} ms '
          f'= {buy / plain:.2f}x a plain step')


if __name__ == '__main__':
    main()
