"""Run a sweep space with Ray Tune: on this machine (local Ray) or on a Ray cluster.

    python sweeps/run.py --space ripu_ablation                 # SynthShift, local Ray, 3 seeds
    python sweeps/run.py --list-spaces
    python sweeps/run.py --space ripu_ablation --benchmark gta5_to_cityscapes --address auto \\
        --gpus-per-trial 1 --storage /shared/adasweep --data-root /shared/data
    python sweeps/run.py --space ripu_ablation --address auto --storage s3://bucket/prefix
        (no shared file system: docs/cluster.md "Object storage")
Rerunning the same command (same --name and --storage) resumes the sweep. A sweep folder belongs
to one plan: a rerun with another plan is refused (--resume-anyway records a change of the
trials' configs and goes on; what Tune keeps on restore, such as the trials, is refused), and a
second driver on the same folder is refused while the first runs.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from sweeps.common import SweepError, mask_secrets  # noqa: E402
from sweeps.console import report  # noqa: E402
from sweeps.folder import SweepFolder  # noqa: E402
from sweeps.plan import Plan  # noqa: E402
from sweeps.space import BENCHMARKS, SCHEDULERS, SEARCHES  # noqa: E402
from sweeps.spaces import known_spaces, load_space  # noqa: E402
from sweeps.tune_run import run  # noqa: E402
from sweeps.warmup import warmup_exists  # noqa: E402

# Sweep folders started before the modules were split pickled their Optuna searcher with these
# classes under this module's name (sweeps.run._OptunaSpace, ...): they still load.
from sweeps.search import OptunaSpace as _OptunaSpace  # noqa: E402,F401
from sweeps.search import SweepJournal as _SweepJournal  # noqa: E402,F401


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Run a sweep space with Ray Tune (see README.md and docs/).')
    p.add_argument('--space', help='a space name (--list-spaces) or a path to a space file')
    p.add_argument('--list-spaces', action='store_true', help='list the known spaces and exit')
    p.add_argument('--benchmark', default='synthshift', help=f'one of {", ".join(BENCHMARKS)}')
    p.add_argument('--seeds', type=int, help='seeds per variant (default: the space\'s)')
    p.add_argument('--search', help=f'one of {", ".join(SEARCHES)} (default: the space\'s)')
    p.add_argument('--num-samples', type=int, help='trials for random/optuna search')
    p.add_argument('--scheduler', help=f'one of {", ".join(SCHEDULERS)} (default: the space\'s)')
    p.add_argument('--address', help='Ray cluster address (auto, host:port); default: a local '
                   'Ray instance on this machine, on 127.0.0.1')
    p.add_argument('--gpus-per-trial', type=float, default=0)
    p.add_argument('--cpus-per-trial', type=float, default=1)
    p.add_argument('--max-concurrent', type=int, default=0, help='0: as many as resources allow')
    p.add_argument('--max-failures', type=int, default=1, help='retries of a failed trial')
    p.add_argument('--storage', default='results',
                   help='results root: a folder every node reaches, or an object store URI '
                   '(s3://bucket/prefix[?endpoint_override=HOST:PORT&scheme=http]; credentials '
                   'from the environment or AWS config, never here)')
    p.add_argument('--local-dir', help='with an object-store --storage: the node-local folder '
                   "of the trials' running work dirs and downloaded warm-ups, the same path on "
                   'every node (default: each node its own: $ADASWEEP_LOCAL_DIR where that node '
                   "runs, else adasweep under Ray's temp dir)")
    p.add_argument('--data-root', help='root of every dataset (gta5/, synthia/, cityscapes/, '
                   'synthshift/); default: $ADASWEEP_DATA, else <repo>/data')
    p.add_argument('--name', help='sweep name (default: <space>_<benchmark>)')
    p.add_argument('--set', dest='sets', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override mmengine config keys of every trial')
    p.add_argument('--resume-anyway', action='store_true',
                   help='resume a sweep whose plan differs from this command (recorded in the '
                   "sweep's history.jsonl)")
    p.add_argument('--dry-run', action='store_true', help='print the trials and exit')
    p.add_argument('--quiet', action='store_true',
                   help='print only the final table (no plan, no progress)')
    p.add_argument('--tracking', metavar='NAME',
                   help='also track trials in: mlflow, wandb, or both (comma-separated; '
                   'TensorBoard files are always written to <storage>/<name>/tensorboard)')
    p.add_argument('--tracking-uri', metavar='URI',
                   help='the MLflow tracking server for --tracking mlflow (e.g. '
                   'http://127.0.0.1:5000)')
    p.add_argument('--wandb-project', metavar='NAME',
                   help='the W&B project for --tracking wandb (default: $WANDB_PROJECT, else '
                   'adasweep); runs are grouped by sweep name')
    p.add_argument('--wandb-entity', metavar='NAME',
                   help="the W&B entity (user or team) for --tracking wandb (default: "
                   "$WANDB_ENTITY, else the API key's default entity)")
    return p.parse_args(argv)


def _error(err):
    text = ' '.join(str(mask_secrets(str(err))).split())
    print(f'error: {text}', file=sys.stderr)
    return 2


def main(argv=None):
    args = parse_args(argv)
    if args.list_spaces:
        for name in known_spaces():
            print(f'{name:<22} {load_space(name).description.strip().splitlines()[0]}')
        return 0
    if not args.space:
        return _error('--space is required (see --list-spaces)')
    try:
        plan = Plan(args)
    except (SweepError, ValueError, OSError) as err:
        return _error(err)
    if args.dry_run and plan.sweep.is_dir():  # what a real run checks next, read-only
        from sweeps.tune_run import can_restore
        try:
            SweepFolder(plan).check_plan(can_restore(plan))
        except SweepError as err:
            return _error(err)
    if args.dry_run or not args.quiet:
        print(plan.describe(), flush=True)
        for path, cfg in plan.warmups.items():
            state = 'trained' if warmup_exists(plan, path) else 'to train once'
            print(f'warm-up {cfg.warmup_config}: {path} ({state})', flush=True)
    if args.dry_run:
        return 0
    folder = SweepFolder(plan)
    try:
        folder.acquire()
        table = run(plan, folder)
    except SweepError as err:
        folder.abandon()
        return _error(err)
    finally:
        folder.release()
    report(plan, table)
    return 0


if __name__ == '__main__':
    sys.exit(main())
