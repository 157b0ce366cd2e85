"""Peak memory of one training step of each method's real GTA5 -> Cityscapes config, against
source-only at the same per-domain batch, with ADASegmentor's `backward_per_domain` on and off
(issue 24, item 3):

    python benchmarks/bench_step_memory.py --scale 0.5
    python benchmarks/bench_step_memory.py --scale 1 --per-domain-only --methods source_only ripu adeada
    python benchmarks/bench_step_memory.py --scale 1 --methods source_only ripu   # on a GPU

Each method's model (random init, nothing downloaded) takes `model.train_step` on a synthetic
batch of its config's own size per domain (`--batch` to change it) at its Resize scale times
`--scale` (GTA5 1280x720, Cityscapes 1280x640 in RIPU/ADeADA/ADA-MCU, 1024x512 in POINT-ENT),
random images, random source labels and 5% of the target pixels labelled (as after a round),
SGD with momentum as the configs. One step warms up (the optimiser state exists), the next is
measured. The data loader and the hooks are not part of it (ADA-MCU's sampling hook adds an
inference pass under no_grad per iteration; the selection rounds happen between steps).

Peak memory: on CUDA `torch.cuda.max_memory_allocated`. On the CPU the same quantity, counted:
a TorchDispatchMode sees every tensor an operation makes (forward, backward and the optimiser),
and the bytes of the distinct storages alive (parameters, gradients, optimiser state and
activations) are summed after every operation; the peak of that sum is printed (workspace
inside one kernel is not seen). It depends on the network and the batch, not on the machine or
its load, so the CPU numbers at a `--scale` are a machine-independent measure; times are not
compared (one step).
"""
import argparse
import copy
import os
import os.path as osp
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
sys.path.insert(0, osp.join(REPO, 'benchmarks'))

METHODS = {  # the models of gpu_check's train rows
    'source_only': 'configs/source_only/gta5_to_cityscapes.py',
    'ripu': 'configs/ripu/gta5_to_cityscapes.py',
    'adeada': 'configs/adeada/gta5_to_cityscapes.py',
    'adamcu': 'configs/adamcu/gta5_to_cityscapes.py',
    'point_ent_g2': 'configs/point_ent/gta5_to_cityscapes.py',
}


def tracker(preexisting=()):
    """A TorchDispatchMode summing the bytes of the distinct storages alive after each
    operation (`preexisting`: tensors alive before it starts); `peak`: the largest sum."""
    import torch
    from torch.multiprocessing.reductions import StorageWeakRef
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    class Tracker(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.live, self.peak, self.ops = {}, 0, 0
            for t in preexisting:
                self._add(t)
            self.start = self.total()
            self.peak = self.start

        def _add(self, t):
            if isinstance(t, torch.Tensor) and t.device.type != 'meta':
                st = t.untyped_storage()
                key = (st.data_ptr(), t.device.type)
                if st.nbytes() and key not in self.live:
                    self.live[key] = (StorageWeakRef(st), st.nbytes())

        def total(self):
            dead = [k for k, (ref, _) in self.live.items() if ref.expired()]
            for k in dead:
                del self.live[k]
            return sum(n for _, n in self.live.values())

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in tree_leaves(out):
                self._add(t)
            self.ops += 1
            self.peak = max(self.peak, self.total())
            return out

    return Tracker()


def build(method, per_domain):
    import torch
    from gpu_check import random_init
    from mmengine.config import Config
    from mmseg.registry import MODELS
    cfg = random_init(Config.fromfile(osp.join(REPO, METHODS[method])))
    model_cfg = copy.deepcopy(cfg.model.to_dict())
    if model_cfg['type'] in ('ADASegmentor', 'ADAMCUSegmentor'):
        model_cfg['backward_per_domain'] = per_domain
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return cfg, model


def sizes(cfg, scale):
    """{domain: (h, w)} of the config's Resize scales, times `scale`."""
    def size(pipeline):
        w, h = next(t['scale'] for t in pipeline if t['type'] == 'Resize')
        return max(8, round(h * scale)), max(8, round(w * scale))
    d = cfg.train_dataloader.dataset
    if d.get('type') == 'TwoDomainDataset':
        return {'source': size(d.source.pipeline), 'target': size(d.target.pipeline)}
    return {'source': size(d.pipeline)}


def batch(shapes, n, device, seed=0):
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)

    def domain(h, w, labelled):
        inputs, samples = [], []
        for _ in range(n):
            inputs.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
            label = torch.randint(0, 19, (1, h, w), generator=g)
            label[torch.rand(1, h, w, generator=g) >= labelled] = 255
            s = SegDataSample(gt_sem_seg=PixelData(data=label))
            s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
            samples.append(s)
        return inputs, samples

    data = {}
    data['inputs'], data['data_samples'] = domain(*shapes['source'], 1.0)
    if 'target' in shapes:
        data['target_inputs'], data['target_data_samples'] = domain(*shapes['target'], 0.05)
    return data


def measure(method, per_domain, scale, batch_size, device):
    import torch
    from mmengine.optim import OptimWrapper, OptimWrapperDict
    cfg, model = build(method, per_domain)
    model.to(device).train()
    n = batch_size or cfg.train_dataloader.batch_size
    shapes = sizes(cfg, scale)
    data = batch(shapes, n, device)

    def sgd(params):
        return OptimWrapper(torch.optim.SGD(params, lr=2.5e-4, momentum=0.9,
                                            weight_decay=5e-4))
    if hasattr(model, 'discriminator'):  # POINT-ENT's adversarial segmentor
        disc = set(map(id, model.discriminator.parameters()))
        ow = OptimWrapperDict(
            segmentor=sgd([p for p in model.parameters() if id(p) not in disc]),
            discriminator=sgd(list(model.discriminator.parameters())))
        if getattr(model, 'alignment', None) == 'minent':
            ow = sgd(list(model.parameters()))
    else:
        ow = sgd(model.parameters())
    model.train_step(copy.deepcopy(data), ow)  # the optimiser state exists after it
    step = copy.deepcopy(data)
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        model.train_step(step, ow)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:
        state = [t for opt in (ow.values() if isinstance(ow, OptimWrapperDict) else [ow])
                 for s in opt.optimizer.state.values() for t in s.values()]
        mode = tracker([*model.parameters(), *model.buffers(), *state])
        started = time.perf_counter()
        with mode:
            model.train_step(step, ow)
        peak = mode.peak
    seconds = time.perf_counter() - started
    from mmseg_ext.models.segmentors import ADASegmentor
    if 'target' not in shapes:
        kind = 'one domain'
    elif type(model).train_step is ADASegmentor.train_step and model.backward_per_domain:
        kind = 'per domain (target recomputed)' if model.couples_domains else 'per domain'
    else:
        kind = 'one (of the sum)'
    del model, ow
    return dict(method=method, batch=n, shapes=shapes, backward=kind, peak=peak,
                seconds=seconds)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--scale', type=float, default=0.5, help='of the configs\' image sides')
    p.add_argument('--methods', nargs='+', default=list(METHODS), choices=list(METHODS))
    p.add_argument('--batch', type=int, default=None, help='per domain (default: the config\'s)')
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--per-domain-only', action='store_true',
                   help='skip the one-backward rows (at full size they need over 24 GiB)')
    args = p.parse_args(argv)
    import torch
    import mmseg_ext  # noqa: F401  (registries)
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    rows = []
    for method in args.methods:
        for per_domain in (True, False):
            r = measure(method, per_domain, args.scale, args.batch, device)
            rows.append(r)
            print(f'{method}: {r["backward"]}: peak {r["peak"] / 2 ** 30:.2f} GiB '
                  f'({r["seconds"]:.1f} s)', flush=True)
            if not r['backward'].startswith('per domain') or args.per_domain_only:
                break  # the switch does not apply to this method
    base = next((r for r in rows if r['method'] == 'source_only'), None)
    print(f'\nscale {args.scale:g}, {device}, torch {torch.__version__}; peak: ' +
          ('torch.cuda.max_memory_allocated' if device == 'cuda' else
           'live tensor storages, counted per operation (see the docstring)'))
    print('| method | batch per domain | input (source / target) | backward | peak GiB | '
          'vs source-only |')
    print('|---|---|---|---|---|---|')
    for r in rows:
        shapes = ' / '.join('x'.join(map(str, s[::-1])) for s in r['shapes'].values())
        ratio = f'{r["peak"] / base["peak"]:.2f}x' if base else ''
        print(f'| {r["method"]} | {r["batch"]} | {shapes} | {r["backward"]} | '
              f'{r["peak"] / 2 ** 30:.2f} | {ratio} |')


if __name__ == '__main__':
    main()
