from collections import defaultdict

import numpy as np
from mmseg.registry import DATASETS

from .checked_seg_dataset import DatasetError
from .sample_seeding import sample_epoch


@DATASETS.register_module()
class TwoDomainDataset:
    """A source sample plus a target sample per index, for ADASegmentor.train_step.

    Length = length of the source (InfiniteSampler materialises `randperm(len)`, so a product of
    both lengths would not do). The target of index i in epoch e of the sampler's stream is drawn
    from `np.random.default_rng([seed, i, e])`: the epoch a `SampleIndex` from
    ResumableInfiniteSampler carries, so the draw is the same whichever worker loads the sample
    and after a resume that starts at the sampler's position. For a plain int index, e is the
    number of earlier visits of i in this dataset copy (the same with 0 workers; per worker
    otherwise, and then only replaying the loader on resume repeats it).
    Items: dict(inputs, data_samples, target_inputs, target_data_samples).
    """

    def __init__(self, source, target, seed=0):
        self.source = DATASETS.build(source) if isinstance(source, dict) else source
        self.target = DATASETS.build(target) if isinstance(target, dict) else target
        src_classes = tuple(self.source.metainfo['classes'])
        tgt_classes = tuple(self.target.metainfo['classes'])
        if src_classes != tgt_classes:
            raise DatasetError(f'TwoDomainDataset: source classes {src_classes} differ from '
                               f'target classes {tgt_classes}')
        self.seed = int(seed)
        self._visits = defaultdict(int)

    @property
    def metainfo(self):
        return self.source.metainfo

    def __len__(self):
        return len(self.source)

    def target_index(self, idx):
        rng = np.random.default_rng([self.seed, int(idx), sample_epoch(idx, self._visits)])
        return int(rng.integers(len(self.target)))

    def __getitem__(self, idx):
        src = self.source[int(idx)]
        tgt = self.target[self.target_index(idx)]
        return dict(inputs=src['inputs'], data_samples=src['data_samples'],
                    target_inputs=tgt['inputs'], target_data_samples=tgt['data_samples'])
