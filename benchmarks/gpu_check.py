"""One GPU check of the real configs on a full-size synthetic release (not a test; one run, one
table). Fits in about 8 minutes on one H100/H200:

    python3 benchmarks/gpu_check.py --out gpu_check.md
    python3 benchmarks/gpu_check.py --tiny --out /tmp/gpu_check.md      # CPU, minutes, tiny sizes

Sections, in the order below except that the selection rounds run last (they are the part most
likely to run over), each under a time cap of its own (a section that fails or runs over its cap
is one row saying so, and the table still prints). `--amp on` or `--amp off` alone trains with that
optimiser wrapper only:

1. release: `mmseg_ext.tools.make_release` into a temp folder: GTA5 (1914x1052) and Cityscapes
   (2048x1024) in their official layouts, `--images` of each (Cityscapes train = the selection
   pool), converted as real data.
2. floor: a plain PyTorch loop (no mmengine: no Runner, no data loader, no optimiser wrapper) of
   the source-only network (DeepLab-v2 ResNet-101: backbone + head of the config, built by mmseg),
   the same batch (2) and input size (1280x720), SGD, cross-entropy; inputs already on the device.
3. train: each method's real GTA5 -> Cityscapes config (source-only, RIPU, ADeADA, ADA-MCU with
   and without its online sampling hook, POINT-ENT G2) for `--warmup` + `--iters` iterations with
   the config's own batch, loader and hooks (selection rounds moved to iteration 0, before the
   timed iterations, over `--train-pool` target images so the target losses are on; ADeADA's
   labels there are bought by Pool-RAND, its own round is timed in section 4): iterations/s
   over the timed iterations, peak memory (torch.cuda.max_memory_allocated over the timed
   iterations), both against source-only and the floor. AMP: every config is run with its own
   optimiser wrapper and with mmengine's AmpOptimWrapper(dtype='bfloat16') (no config of the
   project sets AMP; this is mmengine's option, applied here).
4. select: one selection round per strategy (the rows of sweeps/spaces/rows.py on the RIPU,
   ADeADA and POINT-ENT configs) over the `--images` target images, through the hooks' own code
   (`SelectionHook.buy_round`: scoring, picks, label-store commit), timed against the inference pass
   the round needs over the same images (and the source images for strategies reading them).
   Each round gets an even share of `--select-budget` (what a round leaves goes to the next); a
   round over its share is stopped and reported with how far it got and an extrapolated ratio.
   The region hook caches superpixels on disk as in a run: the first region strategy pays SLIC.
5. sweep: a 2-trial source-only sweep with `--gpus-per-trial 0.5` through sweeps/run.py, when
   `import ray` works (a row says so otherwise).

Random initialisation throughout: `init_cfg`/`pretrained` checkpoints, `load_from`, warm-up
configs and score checkpoints are dropped (nothing is downloaded). Needs torch, mmengine,
mmsegmentation, mmcv(-lite) and this repository; not ray or optuna (section 5 only if present).
"""
import argparse
import contextlib
import copy
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

T0 = time.perf_counter()
BENCHMARK = 'gta5_to_cityscapes'
# method -> (config, knobs row or None); POINT-ENT G2 is the anchor (G1 scores, G2 trains)
METHODS = {
    'source_only': 'configs/source_only/gta5_to_cityscapes.py',
    'ripu': 'configs/ripu/gta5_to_cityscapes.py',
    'adeada': 'configs/adeada/gta5_to_cityscapes.py',
    'adamcu': 'configs/adamcu/gta5_to_cityscapes.py',
    'adamcu_no_sampling': 'configs/adamcu/gta5_to_cityscapes.py',
    'point_ent_g2': 'configs/point_ent/gta5_to_cityscapes.py',
}
# selection families: the anchor config and the rows of sweeps/spaces/rows.py on it, in order
SELECT_ORDER = {
    'ripu': ['ripu_ra', 'ripu_pa', 'rand_region', 'ent_region', 'sconf_region', 'rand_pixel',
             'ent_pixel', 'sconf_pixel', 'impurity', 'uncertainty', 'canny_ent', 'ripu_rect',
             'ripu_superpixel'],
    'adeada': ['adeada', 'badge', 'clue', 'redal', 'aada', 'ent', 'conf', 'mar', 'rand'],
    'point_ent': ['active'],
}
TINY_SCALE = 1 / 16  # --tiny's default --scale: Cityscapes 64x128, SynthShift's size


def log(msg):
    print(f'[{time.strftime("%H:%M:%S")} +{time.perf_counter() - T0:6.1f}s] {msg}', flush=True)


# ----------------------------------------------------------------------------- sections


class SectionTimeout(Exception):
    pass


@contextlib.contextmanager
def time_cap(seconds):
    """Raise SectionTimeout in the main thread after `seconds` (SIGALRM; Python code between
    bytecodes, so a long single C call finishes first)."""
    def handler(signum, frame):
        raise SectionTimeout(f'over its time cap of {seconds:.0f} s')
    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Report:
    """Rows of the final table; `run` is one capped section."""
    COLUMNS = (('section', 'section'), ('item', 'item'), ('AMP', 'amp'), ('time', 'time'),
               ('rate', 'rate'), ('vs source-only', 'vs_source'),
               ('vs floor / inference', 'vs_floor'), ('peak GiB', 'peak'),
               ('mem vs source-only', 'mem_vs_source'), ('note', 'note'))

    def __init__(self, budget):
        self.rows, self.deadline = [], T0 + budget

    def add(self, **row):
        self.rows.append(row)
        log('row: ' + ', '.join(f'{k}={v}' for k, v in row.items() if v not in (None, '')))

    def left(self):
        return self.deadline - time.perf_counter()

    def run(self, section, item, cap, fn, amp=''):
        """fn() under min(cap, time left); a failure or timeout becomes a row."""
        cap = min(cap, self.left())
        if cap < 5:
            self.add(section=section, item=item, amp=amp, note="skipped: the run's time budget "
                     'is spent (raise --budget, or --only this section)')
            return None
        log(f'{section} / {item}{" AMP " + amp if amp else ""}: start (cap {cap:.0f} s)')
        start = time.perf_counter()
        try:
            with time_cap(cap):
                return fn()
        except SectionTimeout as e:
            self.add(section=section, item=item, amp=amp, note=f'timed out: {e}')
        except Exception as e:  # noqa: BLE001 - every failure is a row, the table still prints
            traceback.print_exc()
            sys.stdout.flush()
            why = ' '.join(str(e).split())[:160]
            self.add(section=section, item=item, amp=amp,
                     note=f'failed after {time.perf_counter() - start:.0f} s: '
                          f'{type(e).__name__}: {why}')
        finally:
            _cleanup()
        return None

    def table(self):
        cell = lambda v: str(v).replace('|', '/') if v not in (None, '') else ''  # noqa: E731
        lines = ['| ' + ' | '.join(h for h, _ in self.COLUMNS) + ' |',
                 '|' + '---|' * len(self.COLUMNS)]
        for r in self.rows:
            lines.append('| ' + ' | '.join(cell(r.get(k)) for _, k in self.COLUMNS) + ' |')
        return '\n'.join(lines)


def _cleanup():
    import gc
    gc.collect()
    try:
        import torch
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001
        pass


def _sync():
    import torch
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class _RssPeak:
    """Without CUDA, the peak memory is the process's resident set: a thread samples
    /proc/self/statm every 10 ms between `reset` and `peak` (weights, activations and the
    framework itself; GPU rows are torch.cuda.max_memory_allocated: tensors only)."""
    page = os.sysconf('SC_PAGE_SIZE') if hasattr(os, 'sysconf') else 4096

    def __init__(self):
        import threading
        self.max, self.lock = 0, threading.Lock()
        threading.Thread(target=self._sample, daemon=True).start()

    def now(self):
        try:
            with open('/proc/self/statm') as f:
                return int(f.read().split()[1]) * self.page
        except OSError:
            return 0

    def _sample(self):
        while True:
            rss = self.now()
            with self.lock:
                self.max = max(self.max, rss)
            time.sleep(0.01)

    def reset(self):
        with self.lock:
            self.max = self.now()

    def peak(self):
        with self.lock:
            return max(self.max, self.now())


_RSS = None


def _rss():
    global _RSS
    if _RSS is None:
        _RSS = _RssPeak()
    return _RSS


def _reset_peak():
    import torch
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    else:
        _rss().reset()


def _peak_gib():
    import torch
    if not torch.cuda.is_available():
        return _rss().peak() / 2 ** 30
    return torch.cuda.max_memory_allocated() / 2 ** 30


def peak_kind():
    import torch
    return ('peak GiB: torch.cuda.max_memory_allocated' if torch.cuda.is_available() else
            'peak GiB: the process resident set (CPU), sampled every 10 ms')


def _fmt(x, digits=2):
    return '' if x is None else f'{x:.{digits}f}'


# ----------------------------------------------------------------------------- configs


def _active_hooks(cfg):
    return [h for h in cfg.get('custom_hooks') or []
            if h.get('type') in ('ActiveSelectionHook', 'RegionSelectionHook',
                                 'AdaptiveSamplingHook')]


def random_init(cfg):
    """Drop every checkpoint a config would load (ImageNet `init_cfg`, `pretrained`, a score
    checkpoint): random initialisation, nothing downloaded."""
    from sweeps.paths import walk_dicts

    def edit(d):
        if isinstance(d.get('init_cfg'), dict) and d['init_cfg'].get('type') == 'Pretrained':
            d['init_cfg'] = None
        if 'pretrained' in d:
            d['pretrained'] = None
        if d.get('score_checkpoint'):
            d['score_checkpoint'] = None
    walk_dicts(cfg._cfg_dict, edit)
    return cfg


def scaled(n, scale):
    """An image side of the real config at `scale` (at least 8 pixels)."""
    return max(8, round(n * scale))


def _resize_by(scale):
    def edit(d):
        if d.get('type') == 'Resize' and 'scale' in d:
            d['scale'] = tuple(scaled(n, scale) for n in d['scale'])
    return edit


def prepare(path, args, work_dir, release, iters, amp=False, knobs=None):
    """The real config at `path` (+ a row's knobs), on `release`, random init, `iters`
    iterations, no validation and no checkpoints; --tiny shrinks every Resize."""
    from mmengine.config import Config

    from sweeps.paths import rebase_data_roots, walk_dicts
    from sweeps.config_knobs import apply_knobs
    cfg = Config.fromfile(osp.join(REPO, path))
    if knobs:
        apply_knobs(cfg, knobs)
    rebase_data_roots(cfg, release)
    random_init(cfg)
    if args.scale != 1:
        walk_dicts(cfg._cfg_dict, _resize_by(args.scale))
    cfg.load_from, cfg.resume = None, False
    for key in ('warmup_config', 'warmup_scores'):
        cfg.pop(key, None)
    cfg.work_dir = work_dir
    # mmengine's logger and visualizer are named singletons: one name per runner
    cfg.experiment_name = osp.basename(work_dir) + f'-{time.time_ns()}'
    if cfg.get('visualizer'):
        cfg.visualizer['name'] = cfg.experiment_name
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=0)
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = 10 ** 9
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=10 ** 9,
                                        save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10 ** 6,
                                    log_metric_by_epoch=False)
    for hook in _active_hooks(cfg):  # a run of a few iterations cannot spend a whole budget
        if hook['type'] == 'AdaptiveSamplingHook':
            hook['require_spent'] = False
    loader = cfg.train_dataloader
    loader.num_workers = 0 if args.tiny else min(loader.get('num_workers', 4), args.workers)
    loader.persistent_workers = False
    if amp:
        _amp(cfg)
    return cfg


def _amp(cfg):
    """Every optimiser wrapper of cfg -> mmengine's AmpOptimWrapper with bfloat16."""
    ow = cfg.optim_wrapper
    wrappers = [ow] if 'optimizer' in ow else [v for v in ow.values()
                                                if isinstance(v, dict) and 'optimizer' in v]
    if not wrappers:
        raise ValueError('no optimiser wrapper found to switch to AMP')
    for w in wrappers:
        w['type'] = 'AmpOptimWrapper'
        w['dtype'] = 'bfloat16'


class IterTimes:
    """Hook: wall time after each train iteration (device synchronised); the peak memory is
    reset before the first timed iteration."""

    def __new__(cls, warmup):
        from mmengine.hooks import Hook

        class _IterTimes(Hook):
            priority = 'LOWEST'

            def __init__(self):
                self.times = []

            def before_train_iter(self, runner, batch_idx, data_batch=None):
                if runner.iter == warmup:
                    _sync()
                    _reset_peak()
                    self.times.append(time.perf_counter())

            def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
                if runner.iter + 1 > warmup:
                    _sync()
                    self.times.append(time.perf_counter())
        return _IterTimes()


# ----------------------------------------------------------------------------- floor


def floor_section(args, report, amp):
    import torch
    import torch.nn.functional as F
    from mmengine.config import Config
    from mmseg.registry import MODELS

    cfg = random_init(Config.fromfile(osp.join(REPO, METHODS['source_only'])))
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(device)
    model.train()  # mmseg's ResNet.train() keeps its frozen BN in eval mode, returns None
    backbone, head = model.backbone, model.decode_head
    batch = cfg.train_dataloader.batch_size
    w, h = next(t['scale'] for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'Resize')
    w, h = scaled(w, args.scale), scaled(h, args.scale)
    params = [p for p in list(backbone.parameters()) + list(head.parameters()) if p.requires_grad]
    opt = torch.optim.SGD(params, lr=2.5e-4, momentum=0.9, weight_decay=5e-4)
    g = torch.Generator(device='cpu').manual_seed(0)
    x = torch.randn(batch, 3, h, w, generator=g).to(device)
    y = torch.randint(0, 19, (batch, h, w), generator=g).to(device)

    def step():
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=amp):
            logits = head(backbone(x))
            logits = F.interpolate(logits, size=(h, w), mode='bilinear', align_corners=True)
            loss = F.cross_entropy(logits.float(), y, ignore_index=255)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    for _ in range(args.warmup):
        step()
    _sync()
    _reset_peak()
    start = time.perf_counter()
    for _ in range(args.iters):
        step()
    _sync()
    seconds = (time.perf_counter() - start) / args.iters
    return dict(s_per_iter=seconds, peak=_peak_gib(), batch=batch, size=(h, w))


# ----------------------------------------------------------------------------- train


def train_section(args, report, method, amp):
    from mmseg.registry import RUNNERS
    work = tempfile.mkdtemp(prefix=f'{method}-', dir=args.tmp)
    total = args.warmup + args.iters
    cfg = prepare(METHODS[method], args, work, args.release, total, amp=amp)
    notes = []
    hooks = _active_hooks(cfg)
    for h in hooks:
        if h['type'] in ('ActiveSelectionHook', 'RegionSelectionHook'):
            h['select_iters'], h['select_before_update'] = [0], True
            h['num_workers'] = 0 if args.tiny else args.workers
            bought = 'its strategy'
            if h['type'] == 'RegionSelectionHook':  # the labels only (select times the round)
                h['strategy'], h['source_images'] = dict(type='Pool-RAND'), args.train_pool
                bought = 'Pool-RAND'
            notes.append(f'labels of {args.train_pool} target images bought by {bought} at '
                         'iteration 0 (warm-up)')
        elif h['type'] == 'AdaptiveSamplingHook':
            if method == 'adamcu_no_sampling':
                cfg.custom_hooks = [c for c in cfg.custom_hooks if c is not h]
                notes.append('without AdaptiveSamplingHook (no online buying)')
            else:
                h['eval_iters'] = []
    dataset = cfg.train_dataloader.dataset
    if dataset.get('type') == 'TwoDomainDataset':
        dataset.target['indices'] = args.train_pool
    runner = RUNNERS.build(cfg)
    timer = IterTimes(args.warmup)
    runner.register_hook(timer)
    runner.train()
    t = timer.times
    seconds = (t[-1] - t[0]) / (len(t) - 1)
    batch = f'batch {cfg.train_dataloader.batch_size}' + (
        ' per domain' if dataset.get('type') == 'TwoDomainDataset' else '')
    del runner
    shutil.rmtree(work, ignore_errors=True)
    return dict(s_per_iter=seconds, peak=_peak_gib(), batch=batch, note='; '.join(notes))


# ----------------------------------------------------------------------------- select


def select_family(args, report, family, rows):
    """One runner for the family's anchor config (its model on the device, the target pool of
    the release), then one round per row through the hook's own buy_round."""
    import torch
    from mmseg.registry import HOOKS, RUNNERS

    from mmseg_ext.active.strategies import FEATURES, SOURCE
    from mmseg_ext.hooks.inference import label_size_logits, label_size_outputs
    from mmseg_ext.hooks.rounds import unwrap
    from sweeps.spaces.rows import ADEADA_ROWS, POINT_ENT_ROWS, RIPU_ROWS
    table = dict(ripu=RIPU_ROWS, adeada=ADEADA_ROWS, point_ent=POINT_ENT_ROWS)[family]
    config = f'configs/{family}/{BENCHMARK}.py'
    knob_benchmark = 'synthshift' if args.tiny else BENCHMARK
    work = tempfile.mkdtemp(prefix=f'select-{family}-', dir=args.tmp)
    cfg = prepare(config, args, work, args.release, 16)
    cfg.train_dataloader.num_workers = 0
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h not in _active_hooks(cfg)]
    runner = RUNNERS.build(cfg)
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    model = unwrap(runner.model)
    model.init_weights()
    model.eval()

    def hook_of(name):
        row = table[name]
        row_cfg = prepare(config, args, work, args.release, 16,
                          knobs=row.knobs_for(knob_benchmark))
        hook = copy.deepcopy([h for h in _active_hooks(row_cfg)][0])
        rounds = len(hook['select_iters'])
        hook.update(select_iters=list(range(rounds)), select_before_update=True,
                    num_workers=0 if args.tiny else args.workers, seed=0)
        hook = HOOKS.build(hook)
        hook.before_train(runner)
        return hook

    def inference(hook, infos, pipeline, features):
        pool = hook.pool
        _sync()
        start = time.perf_counter()
        with torch.no_grad():
            for batch in pool.loader(pipeline, hook.batch_size, hook.num_workers, infos):
                if features is None:
                    label_size_logits(model, batch)
                else:
                    label_size_outputs(model, batch, features=features)
        _sync()
        return time.perf_counter() - start

    base = {}

    def baselines(hook):
        """Inference over the pool (and source) as the family's rounds need it; a first short
        pass warms the device up."""
        if base:
            return base
        strategy = hook.strategy
        region = hook.__class__.__name__ == 'RegionSelectionHook'
        feats = (FEATURES in strategy.needs_at(1)) if region else None
        inference(hook, hook.pool.infos[:2], hook.pool_pipeline, feats)
        base['target'] = inference(hook, hook.pool.infos, hook.pool_pipeline, feats)
        base['n_target'] = len(hook.pool.infos)
        if region and hook.source_infos:
            base['source'] = inference(hook, hook.source_infos, hook.source_pipeline, True)
            base['n_source'] = len(hook.source_infos)
        report.add(section='select', item=f'{family}: inference', amp='off',
                   time=f'{base["target"]:.1f} s', rate=f'{base["target"] / base["n_target"]:.2f}'
                   f' s/img', note=f'{base["n_target"]} target images'
                   + (f' (+ {base["n_source"]} source: {base["source"]:.1f} s)'
                      if 'source' in base else '') + (', with features' if feats else ''))
        return base

    for name in rows:
        def one(name=name):
            hook = hook_of(name)
            b = baselines(hook)
            needs_source = (hook.__class__.__name__ == 'RegionSelectionHook'
                            and SOURCE in hook.strategy.needs_at(1))
            inf = b['target'] + (b.get('source', 0.0) if needs_source else 0.0)
            expected = b['n_target'] + (b.get('n_source', 0) if needs_source else 0)
            seen, loader = [0], hook.pool.loader

            def counting_loader(*a, **k):  # images the round has run through (progress)
                for batch in loader(*a, **k):
                    yield batch
                    seen[0] += len(batch['index'])
            hook.pool.loader = counting_loader
            item = f'{family}/{name} ({hook.strategy.name})'
            what = 'round / (target' + (' + source' if needs_source else '') + ' inference)'
            _reset_peak()
            _sync()
            start = time.perf_counter()
            try:
                hook.buy_round(runner, 0)
                _sync()
            except SectionTimeout as e:
                seconds = time.perf_counter() - start
                done = max(seen[0], 1) / expected
                report.add(section='select', item=item, amp='off', time=f'> {seconds:.0f} s',
                           vs_floor=f'> {seconds / inf:.1f}x (~{seconds / done / inf:.0f}x)',
                           peak=_fmt(_peak_gib()),
                           note=f'timed out ({e}) after {seen[0]}/{expected} images; '
                                f'~: extrapolated; {what}')
                return
            finally:
                hook.pool.store.rollback(0)
            seconds = time.perf_counter() - start
            report.add(section='select', item=item, amp='off', time=f'{seconds:.1f} s',
                       rate=f'{seconds / len(hook.pool.infos):.2f} s/img',
                       vs_floor=f'{seconds / inf:.2f}x', peak=_fmt(_peak_gib()), note=what)
        cap = max(8.0, (args.select_deadline - time.perf_counter()) / max(args.select_left, 1))
        args.select_left -= 1
        report.run('select', f'{family}/{name}', cap, one)
    del runner
    shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------------- sweep


SPACE_FILE = '''"""gpu_check: 2 source-only trials (seeds) of a few iterations."""
from sweeps.space import Space, Variant

SPACE = Space(name='gpu_check', description=__doc__,
              variants={{'source_only': Variant('source_only', {{'max_iters': {iters}}})}},
              seeds=2, metric='miou', mode='max', search='grid', scheduler='fifo')
'''


def sweep_section(args, report):
    try:
        import ray  # noqa: F401
    except ImportError:
        report.add(section='sweep', item='2 trials, --gpus-per-trial 0.5',
                   note='ray is absent (pip install "ray[tune]"): not run')
        return
    import torch
    gpus = '0.5' if torch.cuda.is_available() else '0'  # no GPU: the same sweep on CPUs
    space = osp.join(args.tmp, 'gpu_check_space.py')
    with open(space, 'w') as f:
        f.write(SPACE_FILE.format(iters=max(args.iters, 2)))
    cmd = [sys.executable, 'sweeps/run.py', '--space', space, '--benchmark', BENCHMARK,
           '--data-root', args.release, '--gpus-per-trial', gpus, '--storage',
           osp.join(args.tmp, 'results'), '--quiet',
           '--set', "model.backbone.init_cfg={'_delete_': True}"]  # random init: {} is skipped
    if args.scale != 1:  # the source-only config's Resize steps (train: pipeline 2, val: 1)
        train = [scaled(n, args.scale) for n in (1280, 720)]
        val = [scaled(n, args.scale) for n in (1280, 640)]
        cmd += [f'train_dataloader.dataset.pipeline.2.scale={tuple(train)}',
                f'val_dataloader.dataset.pipeline.1.scale={tuple(val)}']
    if args.tiny:
        cmd += ['train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
                'train_dataloader.persistent_workers=False',
                'val_dataloader.persistent_workers=False']
    log('sweep: ' + ' '.join(cmd))
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                          timeout=max(5, min(args.sweep_cap, report.left())))
    seconds = time.perf_counter() - start
    tail = (done.stdout + done.stderr).strip().splitlines()[-12:]
    print('\n'.join(tail), flush=True)
    last = tail[-1] if tail else ''
    failed = [line for line in tail if 'did not complete' in line or 'no trial finished' in line]
    note = (f'exit {done.returncode}: {last}' if done.returncode else
            f'trials failed: {failed[0]}' if failed else 'ok: both trials finished')
    report.add(section='sweep', item=f'2 source-only trials, --gpus-per-trial {gpus}',
               time=f'{seconds:.0f} s', note=note[:200])


# ----------------------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', required=True, help='markdown file for the table')
    p.add_argument('--tiny', action='store_true',
                   help='CPU-sized: images and labels at 1/16 (Cityscapes 64x128), 1 iteration, '
                        '2 images, no sweep')
    p.add_argument('--scale', type=float, default=None,
                   help='every image and label size as a fraction of the real one (default 1; '
                        '--tiny 1/16)')
    p.add_argument('--images', type=int, help='target (and source) images of the release, the '
                   'selection pool (default 50; --tiny 2)')
    p.add_argument('--iters', type=int, help='timed iterations (default 5; --tiny 1)')
    p.add_argument('--warmup', type=int, help='warm-up iterations (default 2; --tiny 1)')
    p.add_argument('--train-pool', type=int, default=None,
                   help='target images of the train sections (default 4; --tiny 2)')
    p.add_argument('--budget', type=float, default=None,
                   help='seconds for the whole run (default 450; --tiny 1800)')
    p.add_argument('--select-budget', type=float, default=None,
                   help='seconds for all selection rounds, shared out evenly, what a round '
                        'leaves going to the next (default 150; --tiny 900); a round over its '
                        'share is stopped and reported with its progress')
    p.add_argument('--train-cap', type=float, default=60.0, help='seconds per train section')
    p.add_argument('--sweep-cap', type=float, default=150.0, help='seconds for the sweep')
    p.add_argument('--workers', type=int, default=None,
                   help='data-loader workers (default min(8, cpu count))')
    p.add_argument('--only', nargs='+', default=None,
                   choices=['floor', 'train', 'select', 'sweep'], help='sections to run')
    p.add_argument('--methods', nargs='+', default=list(METHODS), choices=list(METHODS))
    p.add_argument('--amp', nargs='+', default=['off', 'on'], choices=['off', 'on'])
    p.add_argument('--strategies', nargs='+', default=None,
                   help='selection rows (default: all; names of sweeps/spaces/rows.py)')
    p.add_argument('--keep', action='store_true', help='keep the temp folder')
    args = p.parse_args(argv)
    tiny = args.tiny
    defaults = dict(images=2 if tiny else 50, iters=1 if tiny else 5, warmup=1 if tiny else 2,
                    train_pool=2 if tiny else 4, budget=1800 if tiny else 450,
                    select_budget=900 if tiny else 150,
                    workers=min(8, os.cpu_count() or 1))
    defaults['scale'] = TINY_SCALE if tiny else 1.0
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ('images', 'iters', 'warmup', 'train_pool'):
        if getattr(args, key) < 1:
            p.error(f'--{key.replace("_", "-")} must be at least 1')
    if not 0 < args.scale <= 1:
        p.error(f'--scale {args.scale:g}: expected a fraction in (0, 1]')
    return args


def run_sections(args, report, sections):
    """The release, then each of `sections` (floor, train, sweep, select) as rows of `report`;
    args as parse_args makes them, with args.tmp a scratch folder."""
    import torch

    from mmseg_ext.tools.make_release import make_release
    args.release = osp.join(args.tmp, 'release')
    start = time.perf_counter()

    def release():
        scale = args.scale
        make_release(args.release, images=args.images, val_images=2,
                     datasets=('gta5', 'cityscapes'), workers=os.cpu_count(), scale=scale,
                     log=log)
        report.add(section='release', item=f'{args.images} GTA5 + {args.images}+2 '
                   'Cityscapes', time=f'{time.perf_counter() - start:.1f} s',
                   note=f'scale {scale:g}' + (' (full size)' if scale == 1 else ''))
        return True
    if not report.run('release', 'make_release', 240, release):
        raise SystemExit('no release, nothing else can run')

    base = {}

    def train_amp(amp):
        if amp == 'on' and not torch.cuda.is_available():
            report.add(section='train', item='every method', amp=amp,
                       note="skipped: mmengine's AmpOptimWrapper needs a GPU")
            return
        for method in args.methods:
            r = report.run('train', method, args.train_cap,
                           lambda m=method, a=amp: train_section(args, report, m, a == 'on'),
                           amp)
            if not r:
                continue
            if method == 'source_only':
                base[amp] = r
            so, fl = base.get(amp), floors.get(amp)
            report.add(
                section='train', item=method, amp=amp,
                time=f'{r["s_per_iter"]:.3f} s/it', rate=f'{1 / r["s_per_iter"]:.2f} it/s',
                vs_source=f'{r["s_per_iter"] / so["s_per_iter"]:.2f}x' if so else '',
                vs_floor=f'{r["s_per_iter"] / fl["s_per_iter"]:.2f}x' if fl else '',
                peak=_fmt(r['peak']),
                mem_vs_source=(f'{r["peak"] / so["peak"]:.2f}x'
                               if so and r['peak'] and so['peak'] else ''),
                note='; '.join(n for n in (r['batch'], r['note']) if n))

    floors = {}
    if 'floor' in sections:
        for amp in args.amp:
            r = report.run('floor', 'plain PyTorch loop, source-only network', args.train_cap,
                           lambda amp=amp: floor_section(args, report, amp == 'on'), amp)
            if r:
                floors[amp] = r
                report.add(section='floor', item='plain PyTorch loop, source-only network',
                           amp=amp, time=f'{r["s_per_iter"]:.3f} s/it',
                           rate=f'{1 / r["s_per_iter"]:.2f} it/s', peak=_fmt(r['peak']),
                           note=f'batch {r["batch"]}, {r["size"][0]}x{r["size"][1]}, '
                                'inputs on the device')
    # the selection rounds last: they are the part most likely to run over (each round is
    # capped and reported with its progress), so they must not starve the train and sweep rows
    if 'train' in sections:
        for amp in args.amp:
            train_amp(amp)
    if 'sweep' in sections:
        if args.tiny and args.only is None:
            report.add(section='sweep', item='2 trials, --gpus-per-trial 0.5',
                       note='skipped with --tiny (unless --only sweep)')
        else:
            report.run('sweep', '2 trials, --gpus-per-trial 0.5', args.sweep_cap,
                       lambda: sweep_section(args, report))
    if 'select' in sections:
        chosen = {f: [r for r in rows if args.strategies is None or r in args.strategies]
                  for f, rows in SELECT_ORDER.items()}
        args.select_left = sum(map(len, chosen.values()))
        args.select_deadline = time.perf_counter() + min(args.select_budget, report.left())
        for family, rows in chosen.items():
            if rows:
                report.run('select', family, 10 ** 6,
                           lambda f=family, c=rows: select_family(args, report, f, c))


def main(argv=None):
    args = parse_args(argv)
    out_dir = osp.dirname(osp.abspath(args.out))
    if not osp.isdir(out_dir):
        print(f'error: --out {args.out}: folder {out_dir} does not exist', file=sys.stderr)
        sys.exit(2)
    import torch

    import mmseg_ext  # noqa: F401  (compat first: the mmcv.ops stand-in)
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU'
    log(f'gpu_check on {device}, torch {torch.__version__}, {os.cpu_count()} CPUs; '
        f'{"tiny, " if args.tiny else ""}{args.images} images, {args.warmup}+{args.iters} iters, '
        f'budget {args.budget:.0f} s')
    if not torch.cuda.is_available() and not args.tiny:
        log('no CUDA device: this runs the full sizes on the CPU (slow); use --tiny for a check')
    report = Report(args.budget)
    args.tmp = tempfile.mkdtemp(prefix='gpu_check-')
    sections = set(args.only or ['floor', 'train', 'select', 'sweep'])
    try:
        run_sections(args, report, sections)
    finally:
        if not args.keep:
            shutil.rmtree(args.tmp, ignore_errors=True)
        text = (f'# gpu_check: {device}, torch {torch.__version__}\n\n'
                f'{args.images} target images, {args.warmup} warm-up + {args.iters} timed '
                f'iterations{", --tiny" if args.tiny else ""}, scale {args.scale:g}; total '
                f'{time.perf_counter() - T0:.0f} s; {peak_kind()}\n\n' + report.table() + '\n')
        print('\n' + text, flush=True)
        with open(args.out, 'w') as f:
            f.write(text)
        log(f'table written to {args.out}')
    return 0


if __name__ == '__main__':
    main()
