"""The warm-up checkpoint a method starts from (ADeADA: AdaptSegNet UDA), trained once per
warm-up config and reused by every trial and sweep that names it.

A method config names its warm-up with `warmup_config = 'configs/.../warmup.py'` (relative to
the repository). The checkpoint lives at `<storage>/warmup/<config name>-<hash>/warmup.pth`,
the hash taken over the warm-up's resolved config text and the SynthShift data root, so an
edited warm-up config trains a new one. `ensure_warmup` trains it with tools/train.py in a
subprocess under a file lock (a second sweep waits and reuses it) and publishes it atomically;
a failed warm-up leaves no checkpoint and raises.
"""
import fcntl
import hashlib
import os
import os.path as osp
import shutil
import subprocess
import sys

from mmengine.config import Config

from .trial_config import REPO, SweepError

CHECKPOINT = 'warmup.pth'


def warmup_checkpoint(cfg, storage):
    """Where the warm-up checkpoint of `cfg` is (or will be); None if cfg names no warm-up."""
    rel = cfg.get('warmup_config')
    if not rel:
        return None
    path = osp.join(REPO, rel)
    if not osp.isfile(path):
        raise SweepError(f'warmup_config {rel!r} does not exist (expected {path})')
    text = Config.fromfile(path).pretty_text + os.environ.get('ADASWEEP_DATA', '')
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    name = osp.splitext(osp.basename(rel))[0]
    bench = osp.basename(osp.dirname(path))
    return osp.join(storage, 'warmup', f'{bench}-{name}-{digest}', CHECKPOINT)


def ensure_warmup(cfg, storage, log=print):
    """Train the warm-up of `cfg` unless its checkpoint exists; returns its path (or None)."""
    target = warmup_checkpoint(cfg, storage)
    if target is None or osp.isfile(target):
        return target
    folder = osp.dirname(target)
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(folder, '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if osp.isfile(target):  # another sweep made it while we waited
            return target
        work = osp.join(folder, 'work')
        log(f'warm-up: training {cfg.warmup_config} once -> {target}', flush=True)
        with open(osp.join(folder, 'train.log'), 'w') as out:
            done = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'train.py'),
                                   osp.join(REPO, cfg.warmup_config), '--work-dir', work],
                                  cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        last = osp.join(work, 'last_checkpoint')
        if done.returncode != 0 or not osp.isfile(last):
            raise SweepError(f'warm-up {cfg.warmup_config} failed (exit {done.returncode}); '
                             f'see {osp.join(folder, "train.log")}')
        with open(last) as f:
            checkpoint = f.read().strip()
        tmp = f'{target}.tmp'
        shutil.copyfile(checkpoint, tmp)
        os.replace(tmp, target)
    return target
