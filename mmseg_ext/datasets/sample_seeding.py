"""Per-sample seeds: a sample's random draws depend on (seed, epoch, index), not on the worker.

mmengine seeds each data-loader worker once (`num_workers * rank + worker_id + seed`), and the
random transforms (RandomResize, RandomCrop, RandomFlip, PhotoMetricDistortion, ...) draw from the
global `random` / `np.random` / torch generators of the process that loads the sample. So what a
sample looks like depends on which worker loads it, how many workers there are and what that
worker loaded before; a resumed run starts fresh workers and differs. Seeding the global
generators from (seed, epoch, index) right before a sample is loaded makes it a pure function of
those three numbers: the same with 0, 2 or 4 workers, and the same after a resume that starts at
the sampler's position without loading the batches before it.

`ResumableInfiniteSampler` yields `SampleIndex`es, ints that carry the epoch and the sampler's
seed; `SampleSeededDataset` (and `TwoDomainDataset`'s target draw) read them. A plain int (any
other sampler) falls back to counting visits per index in the dataset copy, which equals the
epoch with 0 workers and a per-epoch permutation, as before.
"""
import random
from contextlib import contextmanager

import numpy as np
import torch


class SampleIndex(int):
    """A dataset index (an int any dataset takes) that also carries the epoch of the sampler's
    stream it comes from and the sampler's seed. Pickles as itself (data-loader workers)."""

    def __new__(cls, index, epoch, seed):
        obj = super().__new__(cls, index)
        obj.epoch, obj.seed = int(epoch), int(seed)
        return obj

    def __reduce__(self):
        return SampleIndex, (int(self), self.epoch, self.seed)

    def __repr__(self):
        return f'SampleIndex({int(self)}, epoch={self.epoch}, seed={self.seed})'


def sample_epoch(idx, visits) -> int:
    """The epoch of `idx`: its own for a `SampleIndex`, otherwise how often this dataset copy
    was asked for `idx` before (`visits`: a defaultdict(int), updated)."""
    if isinstance(idx, SampleIndex):
        return idx.epoch
    visit = visits[int(idx)]
    visits[int(idx)] += 1
    return visit


@contextmanager
def seeded_sample(seed: int, epoch: int, index: int):
    """Seed Python's `random`, numpy's legacy global generator and torch's CPU generator from
    `SeedSequence([seed, epoch, index])` for the body, and put the previous states back after it
    (so in the main process, num_workers=0, the training's own draws are untouched). CUDA
    generators are not touched (samples are loaded on the CPU)."""
    if min(seed, epoch, index) < 0:
        raise ValueError(f'seeded_sample: seed {seed}, epoch {epoch}, index {index}; expected '
                         'non-negative integers')
    words = np.random.SeedSequence([seed, epoch, index]).generate_state(5, np.uint32)
    saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(int(words[0]))
    np.random.seed(words[1:3])
    torch.default_generator.manual_seed(int(words[3]) << 32 | int(words[4]))
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])
