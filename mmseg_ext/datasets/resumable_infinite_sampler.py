import torch
from mmengine.dataset import InfiniteSampler
from mmseg.registry import DATA_SAMPLERS

from .sample_seeding import SampleIndex


@DATA_SAMPLERS.register_module()
class ResumableInfiniteSampler(InfiniteSampler):
    """mmengine's InfiniteSampler, index for index, that can start at any position in O(1) loads.

    The stream is InfiniteSampler's: one `torch.Generator` seeded with `seed`, a
    `randperm(len(dataset))` per epoch (or `arange` without shuffle), every `world_size`-th entry
    from `rank` on. Differences:

    - `set_position(n)`: the next iteration starts after the first `n` samples of this rank (a
      resumed run: n = iteration * batch_size), by drawing the skipped epochs' permutations only;
      no sample is loaded. ExactResumeIterBasedTrainLoop calls it on resume.
    - it yields `SampleIndex`es (ints that carry the epoch and this seed), from which
      `SampleSeededDataset` and `TwoDomainDataset` seed what they draw per sample.
    - a new `iter()` continues after the last index yielded (like InfiniteSampler's one
      generator), or at the position set.
    """

    def __init__(self, dataset, shuffle: bool = True, seed=None):
        super().__init__(dataset, shuffle=shuffle, seed=seed)
        if self.size == 0:
            raise ValueError('ResumableInfiniteSampler: the dataset is empty; expected at least '
                             'one sample')
        self._position = 0  # samples of this rank yielded so far (or the position set)

    @property
    def position(self) -> int:
        """How many samples of this rank the next iteration skips."""
        return self._position

    def set_position(self, position: int) -> None:
        """Start the next `iter()` after the first `position` samples of this rank."""
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise ValueError(f'ResumableInfiniteSampler.set_position: {position!r}; expected a '
                             'non-negative int (iteration * batch_size)')
        self._position = position

    def _order(self, generator):
        if self.shuffle:
            return torch.randperm(self.size, generator=generator).tolist()
        return list(range(self.size))

    def __iter__(self):
        generator = torch.Generator()
        generator.manual_seed(self.seed)
        stream = self._position * self.world_size + self.rank  # position in the shared stream
        epoch, order = -1, None
        while True:
            wanted, offset = divmod(stream, self.size)
            while epoch < wanted:  # skipped epochs cost one permutation each
                order, epoch = self._order(generator), epoch + 1
            self._position += 1
            yield SampleIndex(order[offset], epoch, self.seed)
            stream += self.world_size
