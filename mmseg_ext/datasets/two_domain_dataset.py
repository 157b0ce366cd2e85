from collections import defaultdict

import numpy as np
from mmseg.registry import DATASETS

from .checked_seg_dataset import DatasetError


@DATASETS.register_module()
class TwoDomainDataset:
    """A source sample plus a target sample per index, for ADASegmentor.train_step.

    Length = length of the source (InfiniteSampler materialises `randperm(len)`, so a product of
    both lengths would not do). The target of index i on its n-th visit is drawn from
    `np.random.default_rng([seed, i, n])`: reproducible for a given sampler seed and worker count,
    and replayed exactly when mmengine fast-forwards the loader on resume.
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
        visit = self._visits[idx]
        self._visits[idx] += 1
        rng = np.random.default_rng([self.seed, idx, visit])
        return int(rng.integers(len(self.target)))

    def __getitem__(self, idx):
        src = self.source[idx]
        tgt = self.target[self.target_index(idx)]
        return dict(inputs=src['inputs'], data_samples=src['data_samples'],
                    target_inputs=tgt['inputs'], target_data_samples=tgt['data_samples'])
