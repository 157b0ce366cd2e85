"""Which checkpoint a resumed run starts from: the newest one in its work dir that loads.

mmengine resumes from the file `last_checkpoint` names. A run killed inside a checkpoint write
(before AtomicCheckpointHook, or on a file system that lost a write) can leave `last_checkpoint`
naming a removed file, or a newest checkpoint that is truncated; the resume then fails every
time. `resume_checkpoint` ignores what `last_checkpoint` says and opens the candidates, newest
first; `resolve_resume` puts the one that loads into the config (tools/train.py --resume and the
warm-ups, sweeps/warmup.py, call it before they build the Runner).
"""
import os
import os.path as osp
import re
from typing import Optional

import torch
from mmengine.logging import print_log

CHECKPOINT_NAME = re.compile(r'(?:iter|epoch)_(\d+)\.pth')  # CheckpointHook's filename_tmpl


def loads(path: str) -> bool:
    """Whether `path` is a checkpoint torch can open: a dict with a state_dict (mmap: the tensors
    are not read, so a file cut short fails here, where its zip directory is missing)."""
    try:
        checkpoint = torch.load(path, map_location='cpu', mmap=True, weights_only=True)
    except Exception:  # noqa: BLE001  (any reason it cannot be loaded)
        return False
    return isinstance(checkpoint, dict) and 'state_dict' in checkpoint


def resume_checkpoint(work_dir: str) -> Optional[str]:
    """The newest checkpoint of `work_dir` that loads (iter_N.pth / epoch_N.pth by N, then the
    file `last_checkpoint` names if it is another one), or None."""
    if not osp.isdir(work_dir):
        return None
    numbered = [(int(m.group(1)), osp.join(work_dir, name)) for name in os.listdir(work_dir)
                if (m := CHECKPOINT_NAME.fullmatch(name))]
    candidates = [path for _, path in sorted(numbered, reverse=True)]
    last = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            named = f.read().strip()
        if named and osp.abspath(named) not in map(osp.abspath, candidates):
            candidates.append(named)
    for path in candidates:
        if osp.isfile(path) and loads(path):
            return path
        print_log(f'resume: {path} does not load, skipped', logger='current')
    return None


def resolve_resume(cfg) -> Optional[str]:
    """For a config with `resume = True`: resume from `resume_checkpoint` of its work dir (set as
    load_from; a load_from the config had is only where a new run starts), or, when none loads,
    train from the start (from that load_from; resume off, so mmengine neither follows a stale
    `last_checkpoint` nor resumes from initial weights). Returns the checkpoint or None."""
    if not cfg.get('resume'):
        return None
    path = resume_checkpoint(cfg.work_dir)
    if path is None:
        cfg.resume = False
    else:
        cfg.load_from = path
    return path
