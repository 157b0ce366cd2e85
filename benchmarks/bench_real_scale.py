"""Real scale on one machine, one run, one table (not a test; issue 24 item 6):

    python benchmarks/bench_real_scale.py --out real_scale.md              # GPU: full size
    python benchmarks/bench_real_scale.py --out real_scale.md --scale 0.5  # CPU: half size
    python benchmarks/bench_real_scale.py --tiny --out /tmp/real_scale.md  # minutes, any machine

Sections (each capped; a failure or overrun is one row and the table still prints):

- train: each method's real GTA5 -> Cityscapes config (DeepLab-v2/v3+ R101, random init) on a
  synthetic release in the official layouts at `--scale` of the real sizes, the config's own
  batch and hooks: seconds per iteration and peak memory against source-only and against a
  plain PyTorch loop of the same network (`benchmarks/gpu_check.py`'s floor and train sections).
  Without CUDA the peak is the process's resident set.
- select: one selection round per strategy over `--images` target images through the hooks' own
  code (scores, picks, label-store commit) against the inference pass it needs (gpu_check's
  select section).
- store: the active-label store per image and round at 1024x2048 (delta, durable commit, rollback,
  bytes on disk after 5 rounds; `benchmarks/bench_label_store.py`).
- rankings: each pool strategy's dataset-wide ranking at 3 pool sizes up to 2,975 images' worth
  of regions, with the growth exponent (`benchmarks/bench_pool_rankings.py`).
- resume: the time from a resume at an early and at a late iteration to the first trained
  iteration (`benchmarks/bench_resume.py`).

The machine, its load average before and after, and the settings head the table.
"""
import argparse
import importlib.util
import os
import os.path as osp
import shutil
import sys
import tempfile
import time

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

SECTIONS = ('train', 'select', 'store', 'rankings', 'resume')


def bench(name):
    """A module of benchmarks/ by file name (benchmarks/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, osp.join(HERE, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', required=True, help='markdown file for the table')
    p.add_argument('--tiny', action='store_true', help='tiny sizes everywhere (a check)')
    p.add_argument('--scale', type=float, default=None,
                   help='image sizes as a fraction of the real ones for train and select '
                        '(default: 1 with CUDA, 0.5 without; --tiny 1/16)')
    p.add_argument('--images', type=int, default=None,
                   help='target images of the selection pool (default 8; --tiny 2)')
    p.add_argument('--only', nargs='+', choices=SECTIONS, default=None)
    p.add_argument('--methods', nargs='+', default=None, help="train rows (gpu_check's METHODS)")
    p.add_argument('--strategies', nargs='+', default=None,
                   help="select rows (gpu_check's SELECT_ORDER names)")
    p.add_argument('--budget', type=float, default=None,
                   help='seconds for the whole run (default 3600; --tiny 1800)')
    return p.parse_args(argv)


def ranking_rows(rows):
    """bench_pool_rankings' rows (ranking at each pool size, the network's inference, a round
    per strategy) as rows of the table."""
    for r in rows:
        part = r['part']
        if part == 'ranking':
            grow = (f'growth exponent {r["exponent"]:.2f} (n log n: {r["nlogn_exponent"]:.2f})'
                    if 'exponent' in r else '')
            yield dict(section='rankings', item=f'{r["strategy"]}, {r["images"]} images',
                       time='' if r.get('seconds') is None else f'{r["seconds"]:.3g} s',
                       note='; '.join(x for x in (
                           r.get('note'), f'{r["regions"]} regions' if 'regions' in r else '',
                           f'+ {r["source_regions"]} source' if r.get('source_regions') else '',
                           grow) if x))
        elif part == 'inference':
            yield dict(section='rankings', item=f'inference of one {r["size"]} image',
                       time=f'{r["seconds"]:.2f} s')
        else:
            yield dict(section='rankings', item=f'{r["strategy"]}: region round, {r["size"]}',
                       time=f'{r["statistics"]:.2f} s', vs_floor=f'{r["ratio"]:.2f}x',
                       note='(inference + region statistics + ranking share) / inference')


def gpu_check_args(gpu_check, args, cuda):
    """gpu_check's own arguments for this run's train and select sections."""
    scale = args.scale if args.scale is not None else (
        gpu_check.TINY_SCALE if args.tiny else 1.0 if cuda else 0.5)
    argv = ['--out', os.devnull, '--scale', str(scale), '--amp', 'off', '--images',
            str(args.images or (2 if args.tiny else 8)), '--train-cap', str(1e9),
            '--select-budget', str(1e9)]
    if args.tiny:
        argv.append('--tiny')
    elif not cuda:  # CPU at real sizes: few iterations, the configs' loaders at 2 workers
        argv += ['--iters', '2', '--warmup', '1', '--workers', '2']
    if args.methods:
        argv += ['--methods', *args.methods]
    if args.strategies:
        argv += ['--strategies', *args.strategies]
    return gpu_check.parse_args(argv)


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
    gpu_check = bench('gpu_check')
    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name(0) if cuda else 'CPU'
    sections = args.only or list(SECTIONS)
    budget = args.budget or (1800 if args.tiny else 3600)
    report = gpu_check.Report(budget)
    gargs = gpu_check_args(gpu_check, args, cuda)
    gargs.tmp = tempfile.mkdtemp(prefix='real_scale-')
    load0 = os.getloadavg()
    gpu_check.log(f'bench_real_scale on {device}, torch {torch.__version__}, {os.cpu_count()} '
                  f'CPUs, {torch.get_num_threads()} torch threads, load {load0[0]:.1f}; '
                  f'scale {gargs.scale:g}, {gargs.images} pool images')
    try:
        wanted = {'floor', 'train'} if 'train' in sections else set()
        wanted |= {'select'} if 'select' in sections else set()
        if wanted:
            gpu_check.run_sections(gargs, report, wanted)
        device_name = 'cuda' if cuda else 'cpu'
        for name, module, call in (
                ('store', 'bench_label_store', lambda m: m.run(tiny=args.tiny)),
                ('rankings', 'bench_pool_rankings',
                 lambda m: ranking_rows(m.run(device=device_name, tiny=args.tiny,
                                              log=lambda *a: None))),
                ('resume', 'bench_resume', lambda m: m.run(tiny=args.tiny))):
            if name not in sections:
                continue

            def section(module=module, call=call):
                for row in call(bench(module)):
                    report.add(**row)
                return True
            report.run(name, module, 1e9, section)
    finally:
        shutil.rmtree(gargs.tmp, ignore_errors=True)
        load1 = os.getloadavg()
        text = (f'# bench_real_scale: {device}, torch {torch.__version__}, {os.cpu_count()} CPUs\n\n'
                f'train/select at scale {gargs.scale:g} of the real sizes, {gargs.images} pool '
                f'images, {gargs.warmup} warm-up + {gargs.iters} timed iterations; '
                f'{gpu_check.peak_kind()}; load average {load0[0]:.1f} before, {load1[0]:.1f} '
                f'after; total {time.perf_counter() - gpu_check.T0:.0f} s\n\n'
                + report.table() + '\n')
        print('\n' + text, flush=True)
        with open(args.out, 'w') as f:
            f.write(text)
    return 0


if __name__ == '__main__':
    main()
