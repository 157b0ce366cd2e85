"""The warm-up checkpoint a method starts from (ADeADA: AdaptSegNet UDA; ADA-MCU: the source
pre-training), trained once per warm-up config and reused by every trial and sweep that names it.

A method config names its warm-up with `warmup_config = 'configs/.../warmup.py'` (relative to
the repository); the trial starts from it (`load_from`), or, with `warmup_scores = True`
(POINT-ENT: G1 selects, a new G2 trains), only its active hook scores the pool with it (the
hook's `score_checkpoint`). The checkpoint lives at
`<storage>/.warmup/<benchmark>-<name>-<hash>/warmup.pth` (a dot name: no sweep can take it),
the hash taken over the warm-up's resolved config text and what its data is (sweeps.paths
data_identity: not where it is), so an edited warm-up config (or other data) trains a new one and
a moved data folder keeps its warm-up.

`ensure_warmup` trains it where the trials train: as a Ray task with the trial's resources
(`--cpus-per-trial`, `--gpus-per-trial`) when Ray is up, on whichever node has them (in this
process otherwise). `train_warmup` does the work under a file lock in the checkpoint's folder
(on the shared storage), so two drivers or trials asking at once train it once; the training
runs in the lock holder's own process (no child process that could outlive it), checkpoints
every tenth of the schedule and resumes after a kill from the newest of its checkpoints that
loads (bit-identical to an uninterrupted warm-up: ExactResumeIterBasedTrainLoop; checkpoints are
written before older ones are removed: mmseg_ext.hooks.AtomicCheckpointHook); the result is
published atomically and durably (temporary file, fsync, rename, fsync of the folder). A failed
warm-up leaves no checkpoint and raises.

Which checkpoint is published is the warm-up config's `warmup_publish`: 'last' (the end of the
schedule; the default when the config does not say) or 'best' (the checkpoint of the best
validation mIoU, as IntraDA picks POINT-ENT's G1: reference/point_ent_reference.md, ADVENT's
TEST.MODE='best'). `warmup.json` next to the checkpoint records what was published (mode,
iteration, validation mIoU for 'best'); the sweep report shows it.
"""
import fcntl
import hashlib
import json
import os
import os.path as osp
import shutil
from pathlib import Path
from typing import Callable, Optional

from mmengine.config import Config

from .common import REPO, SweepError, default_data_root
from .paths import data_identity, rebase_data_roots

CHECKPOINT = 'warmup.pth'
RECORD = 'warmup.json'  # next to CHECKPOINT: which checkpoint of the warm-up was published
# the cache folder under the storage: a sweep name never starts with a dot (run.check_name), so
# sweeps and cached warm-ups are apart by construction
CACHE_DIR = '.warmup'
CHECKPOINTS_PER_RUN = 10  # how often a warm-up saves what a killed one resumes from
PUBLISH = ('best', 'last')  # warmup_publish


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
    warm, data_root = Config.fromfile(path), osp.abspath(data_root or default_data_root())
    text = warm.pretty_text + data_identity(rebase_data_roots(warm, data_root), data_root)
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    name = osp.splitext(osp.basename(rel))[0]
    bench = osp.basename(osp.dirname(path))
    return osp.join(osp.abspath(storage), CACHE_DIR, f'{bench}-{name}-{digest}', CHECKPOINT)


def warmup_train_config(rel: str, work_dir: str, data_root: str) -> Config:
    """The warm-up's config as it trains: data under `data_root`, its work dir, resuming from
    the newest of its checkpoints that loads (one every tenth of the schedule, the last one kept;
    with warmup_publish='best' also the best on validation mIoU)."""
    cfg = Config.fromfile(osp.join(REPO, rel))
    publish_mode(cfg, rel)
    rebase_data_roots(cfg, data_root)
    cfg.work_dir = work_dir
    cfg.resume = True
    cfg.load_from = None
    hook = cfg.default_hooks.checkpoint
    iters = int(cfg.train_cfg.max_iters)
    hook.interval = max(1, min(int(hook.get('interval') or iters), iters // CHECKPOINTS_PER_RUN))
    hook.save_last = True
    if publish_mode(cfg, rel) == 'best' and not hook.get('save_best'):
        hook.update(save_best='mIoU', rule='greater')
    return cfg


def publish_mode(cfg: Config, rel: str) -> str:
    """The warm-up config's `warmup_publish` ('last' when it has none); ValueError if unknown."""
    mode = cfg.get('warmup_publish', 'last')
    if mode not in PUBLISH:
        raise ValueError(f'{rel}: warmup_publish={mode!r}, expected one of {", ".join(PUBLISH)}')
    return mode


def published_checkpoint(runner, mode: str) -> dict:
    """What the finished warm-up `runner` publishes under `mode`: dict(path, publish, iteration,
    and for 'best' the validation mIoU)."""
    import torch
    hub = runner.message_hub
    key = 'best_ckpt' if mode == 'best' else 'last_ckpt'
    if key not in hub.runtime_info:
        raise ValueError(f'warm-up {runner.work_dir}: no {mode} checkpoint (a warm-up published '
                         f'as {mode!r} needs ' +
                         ('a validation with mIoU)' if mode == 'best' else 'a checkpoint)'))
    path = osp.join(runner.work_dir, osp.basename(hub.get_info(key)))  # (a moved storage)
    meta = torch.load(path, map_location='cpu', mmap=True, weights_only=True).get('meta', {})
    record = dict(path=path, publish=mode, iteration=int(meta.get('iter', -1)))
    if mode == 'best':
        record['mIoU'] = float(hub.get_info('best_score'))
    return record


def publish(source: str, target: str) -> None:
    """Copy `source` to `target` atomically and durably (file and folder fsynced)."""
    from adasweep_base.fileio import atomic_write
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
        from mmseg_ext.engine import resolve_resume
        from adasweep_base.fileio import atomic_write
        work = osp.join(folder, 'work')
        cfg = warmup_train_config(rel, work, data_root)
        resumed = resolve_resume(cfg)
        log(f'warm-up: {"resuming from " + resumed if resumed else "training"} {rel} -> '
            f'{target}', flush=True)
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
        runner.train()
        record = published_checkpoint(runner, publish_mode(cfg, rel))
        text = json.dumps(dict(record, path=osp.basename(record['path']), config=rel), indent=1)
        atomic_write(osp.join(folder, RECORD), lambda tmp: Path(tmp).write_text(text))
        publish(record['path'], target)  # last: its presence says the warm-up is done
    return target


def _train_task(rel, target, data_root, store=None, local_root=None, local_dir=None):
    """A Ray task: train the warm-up `rel` at `target`. With an object store `store`, `target`
    is the driver's name for it under `local_root`: the task trains it under its own node's
    local root (`local_dir` or that node's default) and publishes it on the store."""
    if store is None:
        train_warmup(rel, target, data_root, log=lambda *a, **k: None)
        return target
    from .storage import node_local_root, rebase
    root = node_local_root(local_dir)
    here = rebase(target, local_root, root)
    train_warmup(rel, here, data_root, log=lambda *a, **k: None)
    publish_to_store(here, store, root)
    return target


def publish_to_store(target, store, local_root):
    """Upload the warm-up at `target` (in the node-local cache under `local_root`) and its
    warmup.json to the object store `store` (a sweeps.storage.Storage or its URI), the
    checkpoint last: its presence says the warm-up is done."""
    from .storage import as_storage
    store = as_storage(store)
    rel = osp.relpath(target, local_root)
    record = osp.join(osp.dirname(target), RECORD)
    if osp.isfile(record):
        store.upload(record, osp.join(osp.dirname(rel), RECORD))
    store.upload(target, rel)


def warmup_exists(plan, target):
    """Whether the warm-up checkpoint `target` of `plan` is trained: in the storage folder, or
    on the object store (`target` is then its place in the node-local cache)."""
    if plan.store.local:
        return osp.isfile(target)
    return plan.store.is_file(osp.relpath(target, plan.local_root))


def ensure_warmup(cfg: Config, storage: str, data_root: Optional[str] = None, cpus: float = 1,
                  gpus: float = 0, log: Callable = print, store=None,
                  local_dir: Optional[str] = None) -> Optional[str]:
    """The warm-up checkpoint of `cfg`, trained first if it is missing (a Ray task with `cpus`
    and `gpus` when Ray is initialised, else here); returns its path (None: no warm-up).
    `store`: an object store (sweeps.storage.Storage) the checkpoint is published on; `storage`
    is then the driver's node-local cache root (trials download it from the store), and a task
    on another node trains under that node's own (`local_dir`: --local-dir)."""
    data_root = osp.abspath(data_root or default_data_root())
    target = warmup_checkpoint(cfg, storage, data_root)
    if target is None:
        return target
    if store is not None and store.is_file(osp.relpath(target, storage)):
        return target
    if store is None and osp.isfile(target):
        return target
    if store is not None and osp.isfile(target):  # trained here before: published now
        publish_to_store(target, store, storage)
        return target
    rel = cfg.warmup_config
    try:
        import ray
        if ray.is_initialized():
            log(f'warm-up: training {rel} once as a Ray task ({cpus} CPU, {gpus} GPU) -> '
                f'{target}', flush=True)
            task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_calls=1, max_retries=3,
                              retry_exceptions=False)(_train_task)
            return ray.get(task.remote(rel, target, data_root,
                                       None if store is None else store.uri(), storage,
                                       local_dir))
        train_warmup(rel, target, data_root, log)
        if store is not None:
            publish_to_store(target, store, storage)
        return target
    except Exception as err:  # noqa: BLE001  (one line for the CLI, the log has the rest)
        text = str(err).strip().splitlines()
        reason = text[-1] if text else type(err).__name__
        raise SweepError(f'warm-up {rel} failed: {reason[:300]} (work dir '
                         f'{osp.join(osp.dirname(target), "work")})') from err
