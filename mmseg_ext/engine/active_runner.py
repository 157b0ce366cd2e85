import copy
import os.path as osp

import torch
from mmengine.runner import Runner, find_latest_checkpoint
from mmseg.registry import RUNNERS

from ..active.label_store import ActiveLabelStore


def active_label_dirs(cfg):
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == 'active_label_dir' and value:
                yield value
            else:
                yield from active_label_dirs(value)
    elif isinstance(cfg, (list, tuple)):
        for item in cfg:
            yield from active_label_dirs(item)


def resolve_active_label_dirs(cfg, work_dir):
    """Make every relative `active_label_dir` in a (nested) config absolute under `work_dir`."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == 'active_label_dir' and isinstance(value, str) and not osp.isabs(value):
                cfg[key] = osp.join(work_dir, value)
            else:
                resolve_active_label_dirs(value, work_dir)
    elif isinstance(cfg, (list, tuple)):
        for item in cfg:
            resolve_active_label_dirs(item, work_dir)
    return cfg


@RUNNERS.register_module()
class ActiveRunner(Runner):
    """mmengine's Runner, with the target dataset's `active_label_dir` placed in the work_dir.

    Data-loader workers are forked while the train loop is built, before any hook runs, so the
    path of the active-label store must be in the dataset config from the start; it depends on
    the work_dir, which is only known when the runner is made. For the same reason the store is
    rolled back here to the iteration the run resumes from (0 for a new run): the workers'
    first prefetched batches must already see the labels of that iteration. Configs set
    `runner_type = 'ActiveRunner'` (tools/train.py and mmseg's own train script honour it).
    """

    def __init__(self, model, work_dir, train_dataloader=None, **kwargs):
        train_dataloader = resolve_active_label_dirs(copy.deepcopy(train_dataloader),
                                                     osp.abspath(work_dir))
        super().__init__(model, work_dir, train_dataloader=train_dataloader, **kwargs)
        iteration = self._resume_iteration()
        for label_dir in active_label_dirs(train_dataloader):
            undone = ActiveLabelStore(label_dir).rollback(iteration)
            if undone:
                self.logger.info(f'active-label store {label_dir}: undid rounds {undone} '
                                 f'(after iteration {iteration})')

    def _resume_iteration(self):
        if not self._resume:
            return 0
        path = self._load_from or find_latest_checkpoint(self.work_dir)
        if path is None or not osp.isfile(path):
            return 0
        checkpoint = torch.load(path, map_location='cpu', mmap=True, weights_only=True)
        return int(checkpoint.get('meta', {}).get('iter', 0))
