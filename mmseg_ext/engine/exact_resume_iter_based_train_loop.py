"""An iteration-based train loop whose resumed runs train exactly like uninterrupted ones.

mmengine's IterBasedTrainLoop resumes the model, optimiser and schedulers and replays the data
loader (it loads every batch it skips: k batches for a resume at iteration k), but it saves no
random-number state and the fast-forward itself consumes the global generators (random transforms
run in the main process when num_workers=0), so dropout, random transforms and random
subsampling in losses differ after a resume; with data-loader workers the random transforms draw
from generators seeded per worker, so even the replay does not repeat them. A checkpoint saved
by a hook that runs before ParamSchedulerHook in after_train_iter (e.g. from a validation run in
an ABOVE_NORMAL hook) also holds the schedulers one step behind.
"""
import copy
import logging

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmseg.registry import LOOPS

from ..ops.rng import rng_state, set_rng_state  # noqa: F401  (exported by mmseg_ext.engine)

CHECKPOINT_KEY = 'exact_resume'


def _iter_schedulers(runner):
    schedulers = runner.param_schedulers
    if isinstance(schedulers, dict):
        schedulers = [s for group in schedulers.values() for s in group]
    return [s for s in schedulers or [] if hasattr(s, 'last_step') and not s.by_epoch]


class _ExactResumeHook(Hook):
    """The loop's companion: puts RNG state and step bookkeeping into every checkpoint.

    Lowest priority, so it captures the generators after every other hook's
    before_save_checkpoint, and it knows whether a save happens inside a train iteration (between
    its before_train_iter and its after_train_iter, i.e. after any other hook's).
    """
    priority = 'LOWEST'

    def __init__(self, loop):
        self.loop = loop
        self._steps = None  # iteration-based schedulers' steps when the current iteration began
        self._warned_meta = False

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._steps = [s.last_step for s in _iter_schedulers(runner)]

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._steps = None

    def before_save_checkpoint(self, runner, checkpoint):
        inside = self._steps is not None
        completed = runner.iter + int(inside)  # updates in the saved model
        behind = inside and bool(self._steps) and 'param_schedulers' in checkpoint and \
            [s.last_step for s in _iter_schedulers(runner)] == self._steps
        meta = checkpoint.setdefault('meta', {})
        if (meta.get('iter'), meta.get('epoch')) != (completed, runner.epoch):
            # e.g. save_checkpoint(by_epoch=True) inside a train iteration says iter - 1 (and
            # epoch + 1), after the loop by_epoch=False says max_iters + 1; resume must start
            # after the updates the file holds
            if not self._warned_meta:
                print_log(f'ExactResumeIterBasedTrainLoop: checkpoint meta iter/epoch '
                          f'{meta.get("iter")}/{meta.get("epoch")} set to the state it holds, '
                          f'{completed}/{runner.epoch}', logger='current')
                self._warned_meta = True
            meta.update(iter=completed, epoch=runner.epoch)
        checkpoint[CHECKPOINT_KEY] = dict(rng=rng_state(), iteration=completed,
                                          scheduler_steps_behind=int(behind))

    def after_load_checkpoint(self, runner, checkpoint):
        self.loop._resume_state = checkpoint.get(CHECKPOINT_KEY)


RESUMABLE_SAMPLERS = {'InfiniteSampler': 'ResumableInfiniteSampler',
                      'mmengine.InfiniteSampler': 'ResumableInfiniteSampler'}


def resumable_dataloader(dataloader, resumable_sampler=True, sample_seeding=True):
    """A copy of a train dataloader config whose resume needs no replay: an InfiniteSampler
    becomes a ResumableInfiniteSampler (the same indices; it starts at any position), and the
    dataset is wrapped in SampleSeededDataset (per-sample seeds). Built objects stay as they are."""
    dataloader = copy.deepcopy(dataloader)
    sampler = dataloader.get('sampler')
    if resumable_sampler and isinstance(sampler, dict) and \
            sampler.get('type') in RESUMABLE_SAMPLERS:
        sampler['type'] = RESUMABLE_SAMPLERS[sampler['type']]
    dataset = dataloader.get('dataset')
    if sample_seeding and isinstance(dataset, dict) and \
            dataset.get('type') not in ('SampleSeededDataset', 'mmseg.SampleSeededDataset'):
        dataloader['dataset'] = dict(type='SampleSeededDataset', dataset=dataset)
    return dataloader


@LOOPS.register_module()
class ExactResumeIterBasedTrainLoop(IterBasedTrainLoop):
    """IterBasedTrainLoop whose resumed runs train bit-identically (on CPU) to uninterrupted ones,
    with any number of data-loader workers, and start in O(1) batch loads.

    A fresh run is IterBasedTrainLoop's, step for step (see `sample_seeding` for the one
    difference in what the data pipeline draws). Every checkpoint the runner writes gets
    `checkpoint['exact_resume'] = dict(rng=rng_state(), iteration=N, scheduler_steps_behind=0|1)`
    (the generators as they are when the file is written, after N completed updates), and its
    meta iter/epoch are set to N/epoch whatever `by_epoch` the caller passed. On resume the loop,
    before the before_train hooks: puts the sampler at sample N * batch_size and restarts the
    data loader there (no batch before it is loaded), steps the iteration-based schedulers once
    if the checkpoint was written before ParamSchedulerHook stepped them for iteration N, and
    restores the generators. So what ran after the save in the uninterrupted run (a selection
    round a hook catches up in before_train, say) and the next batch and update see the
    generators the uninterrupted run had.

    Args (besides IterBasedTrainLoop's):
        resumable_sampler: an InfiniteSampler in the dataloader config is built as
            ResumableInfiniteSampler (the same index stream) so a resume starts at its position.
            With a sampler without `set_position` (False, or another sampler, or a built
            DataLoader) the loop replays the loader as IterBasedTrainLoop does: k batches loaded
            for a resume at k, with the generators put back afterwards (exact with 0 workers).
        sample_seeding: the dataloader config's dataset is wrapped in SampleSeededDataset, so
            every sample's random draws (random transforms) are seeded from (sampler seed,
            epoch, index) and do not depend on the worker that loads it: resume is exact with
            any number of workers. Numbers change only for pipelines with random transforms:
            before, with 0 workers, they drew from the training's own global generators (no
            config of this project has a random transform in a train pipeline; SynthShift's
            pipelines are deterministic, so its numbers are unchanged). False: the old draws.
    """

    def __init__(self, runner, dataloader, max_iters, resumable_sampler: bool = True,
                 sample_seeding: bool = True, **kwargs):
        if isinstance(dataloader, dict):
            dataloader = resumable_dataloader(dataloader, resumable_sampler, sample_seeding)
        super().__init__(runner, dataloader, max_iters, **kwargs)
        self._resume_state = None
        runner.register_hook(_ExactResumeHook(self))

    def run(self):
        """IterBasedTrainLoop.run with the resume steps above."""
        state, self._resume_state = self._resume_state, None
        replay = self._iter > 0 and not self._seek()
        if self._iter > 0:
            state = self._restore(state)
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if replay:
            print_log(f'Advance dataloader {self._iter} steps to skip data that has already been '
                      'trained (the sampler cannot start at a position)', logger='current',
                      level=logging.WARNING)
            generators = rng_state() if state is not None else None
            for _ in range(self._iter):
                next(self.dataloader_iterator)
            if generators is not None:
                set_rng_state(generators)
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _seek(self):
        """Start the data loader at sample iter * batch_size without loading what is before it:
        True when the sampler can (`set_position`), False to replay. Runs before the generators
        are restored (a new data-loader iterator draws its base seed from torch's)."""
        sampler = getattr(self.dataloader, 'sampler', None)
        batch_size = getattr(self.dataloader, 'batch_size', None)
        if not hasattr(sampler, 'set_position') or batch_size is None:
            return False
        sampler.set_position(self._iter * batch_size)
        # a new iterator: the batches the first one prefetched (workers) are dropped
        self.dataloader_iterator = type(self.dataloader_iterator)(self.dataloader)
        return True

    def _restore(self, state):
        if state is None:
            print_log('ExactResumeIterBasedTrainLoop: the checkpoint has no RNG state (written '
                      'without this loop); the resumed run will not repeat the uninterrupted one '
                      'exactly', logger='current', level=logging.WARNING)
            return None
        if int(state['iteration']) != self._iter:
            raise ValueError(f'ExactResumeIterBasedTrainLoop: the checkpoint holds the state after '
                             f'{int(state["iteration"])} updates, but resumes at iteration '
                             f'{self._iter}')
        if state.get('scheduler_steps_behind'):
            for scheduler in _iter_schedulers(self.runner):  # what ParamSchedulerHook would do
                scheduler.step()
        set_rng_state(state['rng'])
        return state
