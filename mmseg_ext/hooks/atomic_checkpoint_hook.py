"""A CheckpointHook after which a kill at any moment leaves a loadable checkpoint.

mmengine 0.10.7's CheckpointHook, with `max_keep_ckpts`, removes the oldest checkpoint before it
writes the next one, writes it in place (a kill leaves a truncated file) and only then points
`last_checkpoint` at it; `save_best` likewise removes the previous best before it writes the new
one. A kill inside that window left a work dir whose `last_checkpoint` names a removed file and
whose newest checkpoint does not load: every resume failed (FileNotFoundError) until someone
deleted the work dir. Here every file is written atomically and durably (temp file, fsync,
rename: `adasweep_base.fileio`), `last_checkpoint` is updated next, and only then are outdated
checkpoints removed (a resumed run removes what a kill left between the two). Resume does not
trust `last_checkpoint` either: `mmseg_ext.engine.resume_checkpoint` takes the newest checkpoint
in the work dir that loads.

With `save_best`, the checkpoint of an iteration the train loop validates at is written after
that validation (and its best-checkpoint bookkeeping), not before it: a run killed during the
validation resumes from the checkpoint before, and validates again, instead of resuming after an
iteration whose validation (and maybe best checkpoint) never happened.

Registered as `AtomicCheckpointHook`, and in mmseg's scope also as `CheckpointHook`, so every
config of the project (`default_scope='mmseg'`) that names mmengine's hook gets this one.
"""
import os
import os.path as osp
import re
from pathlib import Path

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmseg.registry import HOOKS

from adasweep_base.fileio import atomic_write
from adasweep_base.testing import kill_point


@HOOKS.register_module(name='CheckpointHook')
@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """CheckpointHook (same arguments) writing each checkpoint before it removes any."""

    def before_train(self, runner):
        super().before_train(runner)
        # other backends (object stores) have no rename: mmengine's own behaviour there
        self._atomic = isinstance(self.file_backend, LocalBackend) and is_main_process()
        self._deferred = None  # iteration whose checkpoint waits for its validation
        if self._atomic and self.max_keep_ckpts > 0 and self.keep_ckpt_ids:
            self._remove_orphans()

    def _remove_orphans(self):
        """Checkpoints older than the newest kept one that are not kept: what a run killed after
        writing a checkpoint, before removing the outdated one, left (resumed from the new one,
        whose kept ids no longer name the old)."""
        name = re.compile(re.escape(self.filename_tmpl).replace(r'\{\}', r'(\d+)'))
        for entry in os.listdir(self.out_dir):
            match = name.fullmatch(entry)
            if match and int(match.group(1)) < max(self.keep_ckpt_ids) and \
                    int(match.group(1)) not in self.keep_ckpt_ids:
                self._remove(osp.join(self.out_dir, entry))

    def _validates_at(self, runner, iteration):
        loop = runner.train_loop
        return self.save_best is not None and not self.by_epoch and \
            getattr(runner, '_val_loop', None) is not None and \
            iteration >= getattr(loop, 'val_begin', 1) and \
            (iteration % getattr(loop, 'val_interval', 1) == 0 or iteration == runner.max_iters)

    def _save_checkpoint(self, runner):
        if self._atomic and self._validates_at(runner, runner.iter + 1):
            self._deferred = runner.iter + 1
            return
        super()._save_checkpoint(runner)

    def after_val_epoch(self, runner, metrics):
        if not self._atomic or self.save_best is None or len(self.key_indicators) != 1:
            return super().after_val_epoch(runner, metrics)
        # keep the previous best until the new one is on disk (mmengine removes it first)
        previous, self.best_ckpt_path = self.best_ckpt_path, None
        try:
            super().after_val_epoch(runner, metrics)
        finally:
            if self.best_ckpt_path is None:  # not better: nothing was written
                self.best_ckpt_path = previous
        self._save_deferred(runner)
        if previous and previous != self.best_ckpt_path:
            self._remove(previous)

    def after_train(self, runner):
        self._save_deferred(runner)  # a validation that did not run after all
        super().after_train(runner)

    def _save_deferred(self, runner):
        step, self._deferred = self._deferred, None
        if step is None:
            return
        if self.last_ckpt != self.file_backend.join_path(self.out_dir,
                                                         self.filename_tmpl.format(step)):
            # (a new best already saved it again, with the best's bookkeeping)
            self._save_checkpoint_with_step(runner, step, meta=dict(epoch=runner.epoch, iter=step))

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not self._atomic:
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:  # (a deque of that maxlen)
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._write(runner, filename, save_optimizer=self.save_optimizer,
                    save_param_scheduler=self.save_param_scheduler, meta=meta,
                    by_epoch=self.by_epoch)
        kill_point('checkpoint')  # test-only: the new file is there, nothing else updated yet
        last = str(self.last_ckpt)
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'),
                     lambda tmp: Path(tmp).write_text(last))
        for old in outdated:
            self._remove(self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old)))

    def _write(self, runner, filename, **kwargs):
        """runner.save_checkpoint into out_dir/filename, atomically."""
        def save(tmp):
            runner.save_checkpoint(osp.dirname(tmp), osp.basename(tmp), self.file_client_args,
                                   backend_args=self.backend_args, **kwargs, **self.args)
        atomic_write(osp.join(self.out_dir, filename), save)

    @staticmethod
    def _remove(path):
        if osp.isfile(path):
            os.unlink(path)
