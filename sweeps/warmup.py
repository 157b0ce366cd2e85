"""The warm-up checkpoint a method starts from (ADeADA: AdaptSegNet UDA; ADA-MCU: the source
pre-training), trained once per warm-up config and reused by every trial and sweep that names it.

A method config names its warm-up with `warmup_config = 'configs/.../warmup.py'` (relative to
the repository); the trial starts from it (`load_from`), or, with `warmup_scores = True`
(POINT-ENT: G1 selects, a new G2 trains), only its active hook scores the pool with it (the
hook's `score_checkpoint`). The checkpoint lives at
`<storage>/.warmup/<benchmark>-<name>-<hash>/warmup.pth` (a dot name: no sweep can take it),
the hash taken over the warm-up's resolved config text and the data root, so an edited warm-up
config (or other data) trains a new one.

`ensure_warmup` trains it where the trials train: as a Ray task with the trial's resources
(`--cpus-per-trial`, `--gpus-per-trial`) when Ray is up, on whichever node has them (in this
process otherwise). `train_warmup` does the work under a file lock in the checkpoint's folder
(on the shared storage), so two drivers or trials asking at once train it once; the training
runs in the lock holder's own process (no child process that could outlive it), checkpoints
every tenth of the schedule and resumes from the last checkpoint after a kill (bit-identical to
an uninterrupted warm-up: ExactResumeIterBasedTrainLoop); the result is published atomically
and durably (temporary file, fsync, rename, fsync of the folder). A failed warm-up leaves no
checkpoint and raises.
"""
import fcntl
import hashlib
import os
import os.path as osp
import shutil
from typing import Callable, Optional

from mmengine.config import Config

from .common import REPO, SweepError, default_data_root
from .paths import rebase_data_roots

CHECKPOINT = 'warmup.pth'
# the cache folder under the storage: a sweep name never starts with a dot (run.check_name), so
# sweeps and cached warm-ups are apart by construction
CACHE_DIR = '.warmup'
CHECKPOINTS_PER_RUN = 10  # how often a warm-up saves what a killed one resumes from


def warmup_checkpoint(cfg: Config, storage: str, data_root: Optional[str] = None
                      ) -> Optional[str]:
    """Where the warm-up checkpoint of `cfg` is (or will be); None if cfg names no warm-up."""
    rel = cfg.get('warmup_config')
    if not rel:
        return None
    path = osp.join(REPO, rel)
    if not osp.isfile(path):
        from .moved import moved_message
        raise SweepError(moved_message(rel) or
                         f'warmup_config {rel!r} does not exist (expected {path})')
    text = Config.fromfile(path).pretty_text + osp.abspath(data_root or default_data_root())
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    name = osp.splitext(osp.basename(rel))[0]
    bench = osp.basename(osp.dirname(path))
    return osp.join(osp.abspath(storage), CACHE_DIR, f'{bench}-{name}-{digest}', CHECKPOINT)


def warmup_train_config(rel: str, work_dir: str, data_root: str) -> Config:
    """The warm-up's config as it trains: data under `data_root`, its work dir, resuming from
    the last of its checkpoints (one every tenth of the schedule, the last one kept)."""
    cfg = Config.fromfile(osp.join(REPO, rel))
    rebase_data_roots(cfg, data_root)
    cfg.work_dir = work_dir
    cfg.resume = True
    cfg.load_from = None
    hook = cfg.default_hooks.checkpoint
    iters = int(cfg.train_cfg.max_iters)
    hook.interval = max(1, min(int(hook.get('interval') or iters), iters // CHECKPOINTS_PER_RUN))
    hook.save_last = True
    return cfg


def publish(source: str, target: str) -> None:
    """Copy `source` to `target` atomically and durably (file and folder fsynced)."""
    from mmseg_ext.fileio import atomic_write
    atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))


def train_warmup(rel: str, target: str, data_root: str, log: Callable = print) -> str:
    """Train the warm-up config `rel` (resuming a killed one) and publish it at `target`, unless
    it is there; one trainer at a time per target (a file lock next to it). Returns target."""
    folder = osp.dirname(target)
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(folder, '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if osp.isfile(target):  # another driver or trial made it while we waited
            return target
        import torch

        import mmseg_ext  # noqa: F401  (compat, registries)
        from mmengine.runner import Runner
        from mmseg.registry import RUNNERS
        from mmseg.utils import register_all_modules
        register_all_modules(init_default_scope=False)
        # every CPU the process may use, as tools/train.py (torch's default) does, not the
        # task's CPU count that Ray puts in OMP_NUM_THREADS: a sweep's warm-up equals a single
        # tools/train.py run of its config, bit for bit on the same machine
        torch.set_num_threads(len(os.sched_getaffinity(0)))
        work = osp.join(folder, 'work')
        cfg = warmup_train_config(rel, work, data_root)
        resumed = osp.isfile(osp.join(work, 'last_checkpoint'))
        log(f'warm-up: {"resuming" if resumed else "training"} {rel} -> {target}', flush=True)
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
        runner.train()
        with open(osp.join(work, 'last_checkpoint')) as f:
            publish(f.read().strip(), target)
    return target


def _train_task(rel, target, data_root):
    return train_warmup(rel, target, data_root, log=lambda *a, **k: None)


def ensure_warmup(cfg: Config, storage: str, data_root: Optional[str] = None, cpus: float = 1,
                  gpus: float = 0, log: Callable = print) -> Optional[str]:
    """The warm-up checkpoint of `cfg`, trained first if it is missing (a Ray task with `cpus`
    and `gpus` when Ray is initialised, else here); returns its path (None: no warm-up)."""
    data_root = osp.abspath(data_root or default_data_root())
    target = warmup_checkpoint(cfg, storage, data_root)
    if target is None or osp.isfile(target):
        return target
    rel = cfg.warmup_config
    try:
        import ray
        if ray.is_initialized():
            log(f'warm-up: training {rel} once as a Ray task ({cpus} CPU, {gpus} GPU) -> '
                f'{target}', flush=True)
            task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_calls=1, max_retries=3,
                              retry_exceptions=False)(_train_task)
            return ray.get(task.remote(rel, target, data_root))
        return train_warmup(rel, target, data_root, log)
    except Exception as err:  # noqa: BLE001  (one line for the CLI, the log has the rest)
        text = str(err).strip().splitlines()
        reason = text[-1] if text else type(err).__name__
        raise SweepError(f'warm-up {rel} failed: {reason[:300]} (work dir '
                         f'{osp.join(osp.dirname(target), "work")})') from err
