"""One image-scope selection round, and one ADA-MCU purchase, against the inference they need
(issue 24 item 3; not a test):

    python benchmarks/bench_selection_round.py                    # 2 images 1024x2048, CPU
    python benchmarks/bench_selection_round.py --device cuda      # on the GPU (when available)
    python benchmarks/bench_selection_round.py --tiny             # seconds: tiny model, 64x128

What is timed, in one process, through the hooks' own code:

- inference: the label-size logits of the N target images (``label_size_logits`` over the
  pool's loader, loading included), DeepLab-v2 ResNet-101 of configs/adamcu/gta5_to_cityscapes.py
  (random init, its pool pipeline: 1280x640 input, logits resized to the 1024x2048 labels);
  --tiny: the SynthShift tiny model on 64x128.
- selection, per image strategy: ``ActiveSelectionHook._pick`` on each image's logits (kept on
  the device the model ran on): scores, picks, pseudo labels and the label store's delta, on a
  real ActiveLabelStore of the N images; round 0 of RIPU's 5 rounds of 2.2 % (RIPU-PA: 40 px
  at 1280x640 per round, its paper budget; POINT-ENT: K=10 patches x N=5 points, stride 2 at
  full size). ratio = (inference + selection) / inference.
- ADA-MCU: ``AdaptiveSamplingHook._buy`` on a batch of the N images (its eval-mode pass with
  the auxiliary head, the uncertainty, the sampler's draw, the bought labels), against the
  same pass alone (``label_size_outputs(..., auxiliary=True)``); ratio = purchase / pass, the
  overhead is (purchase - pass) / pass.

``run(device, tiny, images=None, threads=None) -> list of dict rows`` is what other benchmarks
call (bench_real_scale.py). Prints the load average with the table: on a shared machine every
ratio moves with it.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time
from types import SimpleNamespace

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
import torch  # noqa: E402

FULL = dict(size=(1024, 2048), config='configs/adamcu/gta5_to_cityscapes.py', stride=2)
TINY = dict(size=(64, 128), config='configs/adamcu/synthshift.py', stride=1)
BUDGET = dict(ratio=0.022)  # RIPU: 2.2 % over 5 rounds
ROUNDS = 5
STRATEGIES = (
    ('RIPU-RA', dict(type='RIPU-RA', k=1), BUDGET),
    ('RIPU-PA', dict(type='RIPU-PA', k=32), dict(pixels=40, resolution=(640, 1280))),
    ('RAND', dict(type='RAND'), BUDGET),
    ('ENT', dict(type='ENT'), BUDGET),
    ('SCONF', dict(type='SCONF'), BUDGET),
    ('MAR', dict(type='MAR'), BUDGET),
    ('POINT-ENT', dict(type='POINT-ENT', grid=(8, 16), k=10, points_per_patch=5), None),
)


def _sync(device):
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


def model_of(config, device):
    """The config's model, random initialisation (nothing downloaded), eval mode."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmseg_ext  # noqa: F401  (registers the components)
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(REPO, config))

    def drop_pretrained(d):
        if isinstance(d, dict):
            if isinstance(d.get('init_cfg'), dict) and d['init_cfg'].get('type') == 'Pretrained':
                d['init_cfg'] = None
            for v in d.values():
                drop_pretrained(v)
    model_cfg = cfg.model.to_dict()
    drop_pretrained(model_cfg)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)  # the modules' own initialisation (no init_weights log)
    pipeline = cfg.get('pool_pipeline') or [dict(type='LoadImageFromFile'),
                                            dict(type='PackSegInputs')]
    return model.to(device).eval(), list(pipeline)


def pool_of(root, n, size):
    """A TargetPool of n images (RGB noise over class blocks) with a fresh label store."""
    from PIL import Image

    from mmseg_ext.active.label_store import ActiveLabelStore
    from mmseg_ext.hooks.target_pool import TargetPool
    h, w = size
    rng = np.random.default_rng(0)
    items, infos = [], []
    for i in range(n):
        blocks = rng.integers(0, 19, (max(1, h // 32), max(1, w // 32)), dtype=np.uint8)
        gt = np.kron(blocks, np.ones((32, 32), np.uint8))[:h, :w]
        palette = rng.integers(0, 256, (19, 3), dtype=np.uint8)
        img = np.clip(palette[gt].astype(np.int16) + rng.integers(-40, 41, (h, w, 3)), 0, 255)
        img_path, gt_path = osp.join(root, f'img_{i}.png'), osp.join(root, f'gt_{i}.png')
        Image.fromarray(img.astype(np.uint8)).save(img_path)
        Image.fromarray(gt).save(gt_path)
        rel = f'img_{i}.png'
        items.append((rel, gt_path))
        infos.append(dict(img_path=img_path, gt_seg_map_path=gt_path,
                          seg_map_path=osp.join(root, 'store', 'labels', rel)))
    store = ActiveLabelStore(osp.join(root, 'store'))
    store.initialise(items)
    pool = TargetPool(infos)
    pool.store = store
    return pool


def _inference(model, pool, pipeline, device):
    """Label-size logits of the pool through its loader, and the seconds it took."""
    from mmseg_ext.hooks.inference import label_size_logits
    _sync(device)
    start = time.perf_counter()
    logits = []
    with torch.no_grad():
        for batch in pool.loader(pipeline, 2, 0):
            logits.extend(label_size_logits(model, batch))
    _sync(device)
    return logits, time.perf_counter() - start


def _warm(tiny, device):
    """Warm-up passes where they matter (tiny sizes, CUDA); a full-size CPU pass is ~20 s."""
    return tiny or torch.device(device).type == 'cuda'


def _select_rows(model, pool, pipeline, device, setting, n):
    from mmseg.registry import HOOKS
    if _warm(setting is TINY, device):
        _inference(model, pool, pipeline, device)
    logits, inference = _inference(model, pool, pipeline, device)
    rows = []
    for name, strategy, budget in STRATEGIES:
        if strategy['type'] == 'POINT-ENT':
            strategy = dict(strategy, stride=setting['stride'])
        hook = HOOKS.build(dict(type='ActiveSelectionHook', select_iters=list(range(ROUNDS)),
                                strategy=strategy, budget=budget))
        hook.pool = pool
        hook._pick(0, logits[0], 0)  # warm-up (plans, caches, kernels); not timed
        _sync(device)
        start = time.perf_counter()
        for index in range(n):
            hook._pick(index, logits[index], 0)
        _sync(device)
        select = time.perf_counter() - start
        rows.append(dict(item=name, inference_s=inference, select_s=select,
                         ratio=(inference + select) / inference, overhead=select / inference))
    return rows


def adamcu_setup(model, pool, pipeline, budget=dict(ratio=0.05)):
    """An AdaptiveSamplingHook (ADA-MCU, pi_high 1.0, pi_low 0.1, gamma 0.5) set up as
    before_train sets it up from a runner, the pool's target samples and a stand-in runner
    (model + message hub): ``hook._buy(runner, samples, iteration)`` buys from all of them."""
    from mmengine.logging import MessageHub
    from mmengine.structures import PixelData
    from mmseg.registry import HOOKS
    from mmseg.structures import SegDataSample

    from mmseg_ext.hooks.inference import PoolImages
    hook = HOOKS.build(dict(type='AdaptiveSamplingHook', strategy=dict(type='ADA-MCU'),
                            budget=budget, pi_high=1.0, pi_low=0.1, gamma=0.5,
                            require_spent=False, pool_pipeline=pipeline))
    hook.pool = pool
    hook._check_budget()
    hook.sampler = hook.strategy.sampler(hook.budget_pixels, hook.pi_high, hook.pi_low, 1)
    hook.index_of = {str(info['seg_map_path']): i for i, info in enumerate(pool.infos)}
    hook.rel_index = {pool.rel(info): i for i, info in enumerate(pool.infos)}
    hook.images = PoolImages(pool.infos, pipeline)
    samples = []
    for info in pool.infos:
        sample = SegDataSample(metainfo=dict(seg_map_path=str(info['seg_map_path'])))
        sample.gt_sem_seg = PixelData(data=torch.full((1, 4, 4), 255, dtype=torch.uint8))
        samples.append(sample)
    runner = SimpleNamespace(model=model, message_hub=MessageHub.get_current_instance())
    return hook, samples, runner


def _adamcu_row(model, pool, pipeline, device, n, tiny):
    from mmengine.dataset import pseudo_collate

    from mmseg_ext.hooks.inference import label_size_outputs
    hook, samples, runner = adamcu_setup(model, pool, pipeline)
    indices = list(range(n))
    with torch.no_grad():  # warm-up of the pass; not timed
        label_size_outputs(model, pseudo_collate([hook.images[i] for i in (
            indices if _warm(tiny, device) else indices[:1])]), auxiliary=True)
    _sync(device)
    start = time.perf_counter()
    with torch.no_grad():
        label_size_outputs(model, pseudo_collate([hook.images[i] for i in indices]),
                           auxiliary=True)
    _sync(device)
    inference = time.perf_counter() - start
    start = time.perf_counter()
    hook._buy(runner, samples, 0)
    _sync(device)
    buy = time.perf_counter() - start
    return dict(item='ADA-MCU purchase', inference_s=inference, select_s=buy - inference,
                ratio=buy / inference, overhead=(buy - inference) / inference,
                bought=int(hook.sampler.bought))


def run(device='cpu', tiny=False, images=None, threads=None):
    """Rows (dict: item, device, images, size, threads, inference_s, select_s, ratio,
    overhead) of one selection round per image strategy and one ADA-MCU purchase."""
    device = str(device)
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError(f'--device {device}: CUDA is not available on this machine')
    if device != 'cpu' and not device.startswith('cuda'):
        raise ValueError(f'device must be cpu or cuda[:i], got {device!r}')
    if threads is not None:
        torch.set_num_threads(int(threads))
    setting = TINY if tiny else FULL
    n = images or 2
    if n < 1:
        raise ValueError(f'images must be >= 1, got {n}')
    model, pipeline = model_of(setting['config'], device)
    common = dict(device=device, images=n, size='x'.join(map(str, setting['size'])),
                  threads=torch.get_num_threads())
    with tempfile.TemporaryDirectory(prefix='bench_selection_round-') as root:
        pool = pool_of(root, n, setting['size'])
        rows = _select_rows(model, pool, pipeline, device, setting, n)
        rows.append(_adamcu_row(model, pool, pipeline, device, n, tiny))
    return [dict(common, **row) for row in rows]


def table(rows):
    lines = ['| item | device | images | size | threads | inference s | selection s | '
             'round / inference | overhead |', '|' + '---|' * 9]
    for r in rows:
        lines.append(f"| {r['item']} | {r['device']} | {r['images']} | {r['size']} | "
                     f"{r['threads']} | {r['inference_s']:.2f} | {r['select_s']:.2f} | "
                     f"{r['ratio']:.2f}x | {r['overhead']:.2f}x |")
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cpu', help='cpu or cuda (used when available)')
    p.add_argument('--tiny', action='store_true', help='tiny model, 64x128 images (seconds)')
    p.add_argument('--images', type=int, default=None, help='target images (default 2)')
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    args = p.parse_args(argv)
    device = args.device
    if device.startswith('cuda') and not torch.cuda.is_available():
        print('CUDA is not available: running on the CPU')
        device = 'cpu'
    load = os.getloadavg()
    rows = run(device, args.tiny, args.images, args.threads)
    print(table(rows))
    print(f'load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, after '
          + ' '.join(f'{x:.2f}' for x in os.getloadavg()))
    return rows


if __name__ == '__main__':
    try:
        main()
    except ValueError as err:
        sys.exit(f'bench_selection_round: {err}')
