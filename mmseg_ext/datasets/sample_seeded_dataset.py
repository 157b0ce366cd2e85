from collections import defaultdict

from mmseg.registry import DATASETS

from .sample_seeding import SampleIndex, sample_epoch, seeded_sample


@DATASETS.register_module()
class SampleSeededDataset:
    """Any dataset, with the global generators seeded per sample from (seed, epoch, index).

    `dataset[idx]` runs inside `seeded_sample(seed, epoch, idx)`: the random transforms of its
    pipeline draw the same numbers whichever worker loads it and however many workers there
    are, so a run resumed at the sampler's position (`ResumableInfiniteSampler`) loads exactly
    the samples the uninterrupted run loaded. For a `SampleIndex` (from
    `ResumableInfiniteSampler`) the seed and epoch are the sampler's; for a plain int, `seed`
    (default 0) and the number of earlier visits of the index in this copy (exact with 0
    workers only). The index is passed on as it is, so a `TwoDomainDataset` inside sees the
    epoch too. ExactResumeIterBasedTrainLoop wraps the train dataset in this by default
    (`sample_seeding=True`). Everything else (metainfo, source, target, ...) is the wrapped
    dataset's.
    """

    def __init__(self, dataset, seed: int = 0):
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        if int(seed) < 0:
            raise ValueError(f'SampleSeededDataset: seed {seed}; expected a non-negative int')
        self.seed = int(seed)
        self._visits = defaultdict(int)

    @property
    def metainfo(self):
        return self.dataset.metainfo

    def full_init(self):
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def __len__(self):
        return len(self.dataset)

    def __getattr__(self, name):
        # not for dunders (DataLoader probes __getitems__, which would skip the seeding) and not
        # while unpickling (before `dataset` is set)
        if name.startswith('__') or name == 'dataset':
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, idx):
        seed = idx.seed if isinstance(idx, SampleIndex) else self.seed
        with seeded_sample(seed, sample_epoch(idx, self._visits), int(idx)):
            return self.dataset[idx]
