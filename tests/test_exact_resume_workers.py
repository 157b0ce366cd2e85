"""Resume in O(1) and exact with data-loader workers (issue 24, item 5): the sampler starts at
its position (no batch before it is loaded) and every sample's random draws are seeded from
(seed, epoch, index), so a run resumed with 0 or 2 workers trains bit-identically to the
uninterrupted one, whichever number of workers that one had."""
import copy
import itertools
import pickle

import numpy as np
import pytest
import torch
from mmengine.dataset import InfiniteSampler
from mmseg.registry import DATASETS
from runner_utils import tiny_config
from test_exact_resume import FLIP, _differing, _randomised, _resumed, _train

from mmseg_ext.datasets import (ResumableInfiniteSampler, SampleIndex, SampleSeededDataset,
                                TwoDomainDataset, seeded_sample)

SOURCE_ONLY = 'configs/source_only/synthshift.py'
TWO_DOMAIN = 'configs/fully_supervised/synthshift.py'  # TwoDomainDataset: source + target


@DATASETS.register_module()
class CountingDataset:
    """Test probe: counts the samples loaded in this process (num_workers=0)."""
    loaded = 0

    def __init__(self, dataset):
        self.dataset = DATASETS.build(dataset)
        self.metainfo = self.dataset.metainfo

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, idx):
        CountingDataset.loaded += 1
        return self.dataset[idx]


class Draws:
    """A dataset whose samples are random draws from the global generators, and who drew them."""

    def __len__(self):
        return 5

    def __getitem__(self, idx):
        import random
        return (int(idx), random.random(), float(np.random.rand()), float(torch.rand(())))


def test_the_sampler_yields_infinite_samplers_indices_and_starts_anywhere():
    data = list(range(7))
    want = list(itertools.islice(iter(InfiniteSampler(data, seed=3)), 40))
    sampler = ResumableInfiniteSampler(data, seed=3)
    got = list(itertools.islice(iter(sampler), 40))
    assert got == want and sampler.position == 40
    assert [i.epoch for i in got[:15]] == [0] * 7 + [1] * 7 + [2]
    assert all(isinstance(i, SampleIndex) and i.seed == 3 for i in got)
    sampler.set_position(23)  # a resume at iteration 23 with batch size 1
    assert list(itertools.islice(iter(sampler), 10)) == want[23:33]
    assert list(itertools.islice(iter(sampler), 3)) == want[33:36]  # continues, as mmengine's
    unshuffled = ResumableInfiniteSampler(data, shuffle=False, seed=0)
    unshuffled.set_position(9)
    assert list(itertools.islice(iter(unshuffled), 3)) == [2, 3, 4]
    index = pickle.loads(pickle.dumps(got[9]))
    assert type(index) is SampleIndex and (int(index), index.epoch, index.seed) == \
        (int(got[9]), 1, 3)
    with pytest.raises(ValueError, match='set_position: -1; expected a non-negative int'):
        sampler.set_position(-1)
    with pytest.raises(ValueError, match='the dataset is empty'):
        ResumableInfiniteSampler([], seed=0)


def test_a_seeded_sample_depends_on_seed_epoch_and_index_only_and_leaves_the_generators():
    dataset = SampleSeededDataset(Draws())
    torch.manual_seed(0)
    before = torch.get_rng_state()
    a = dataset[SampleIndex(2, epoch=1, seed=5)]
    assert torch.equal(torch.get_rng_state(), before)  # the training's draws are untouched
    np.random.seed(123), torch.manual_seed(9)  # another worker, another history
    assert dataset[SampleIndex(2, epoch=1, seed=5)] == a
    assert dataset[SampleIndex(2, epoch=2, seed=5)] != a
    assert dataset[SampleIndex(3, epoch=1, seed=5)][1:] != a[1:]
    assert dataset[SampleIndex(2, epoch=1, seed=6)] != a
    assert dataset.__len__() == 5 and not hasattr(dataset, '__getitems__')
    # plain ints: the epoch is the number of earlier visits of the index in this copy
    assert dataset[2][1:] != dataset[2][1:]
    with pytest.raises(ValueError, match='seed -1, epoch 0, index 0; expected non-negative'):
        with seeded_sample(-1, 0, 0):
            pass


def test_two_domain_target_draw_follows_the_epoch(synthshift_root):
    from runner_utils import TINY_SYNTHSHIFT
    kw = dict(type='SynthShiftDataset', data_root=str(synthshift_root),
              generate=dict(TINY_SYNTHSHIFT), pipeline=[])
    dataset = TwoDomainDataset(dict(kw, domain='source'), dict(kw, domain='target'))
    # a plain index on its n-th visit draws what a SampleIndex of epoch n draws
    plain = [dataset.target_index(4) for _ in range(3)]
    assert plain == [dataset.target_index(SampleIndex(4, epoch=e, seed=0)) for e in range(3)]


def _loaded(cfg):
    CountingDataset.loaded = 0
    _train(cfg)
    return CountingDataset.loaded


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_a_resume_loads_only_the_batches_it_trains(tmp_path, synthshift_root):
    cfg = tiny_config(SOURCE_ONLY, tmp_path / 'a', synthshift_root, iters=6)
    loader = cfg.train_dataloader
    loader.dataset = dict(type='CountingDataset', dataset=loader.dataset)
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=-1)
    cfg.custom_hooks = [dict(type='RecordLearningRates')]
    assert _loaded(cfg) == 6 * loader.batch_size
    # the loop replayed the loader before: 6 batches whatever the iteration it resumed at
    for k in (1, 5):
        resumed = _resumed(cfg, tmp_path / f'r{k}', tmp_path / 'a' / f'iter_{k}.pth')
        assert _loaded(resumed) == (6 - k) * loader.batch_size


def _workers(cfg, workers, persistent=False):
    cfg = copy.deepcopy(cfg)
    cfg.train_dataloader.num_workers = workers
    cfg.train_dataloader.persistent_workers = persistent and workers > 0
    return cfg


@pytest.mark.slow
def test_resume_with_workers_is_bit_identical_to_a_run_with_any_number_of_workers(
        tmp_path, synthshift_root):
    # 48 source images, batch 4: 12 iterations an epoch; the resume is in the second epoch, where
    # the target draw and the flips of every sample depend on the epoch
    cfg = _randomised(tiny_config(TWO_DOMAIN, tmp_path / 'a', synthshift_root, iters=18))
    cfg.default_hooks.checkpoint.interval = 15
    weights, lrs = _train(_workers(cfg, 0))
    checkpoint = tmp_path / 'a' / 'iter_15.pth'
    two = _workers(cfg, 2, persistent=True)
    two.work_dir = str(tmp_path / 'b')
    assert _differing(weights, _train(two)[0]) == []  # the samples do not depend on the workers
    for workers in (0, 2):
        resumed, resumed_lrs = _train(_resumed(_workers(cfg, workers, persistent=True),
                                               tmp_path / f'r{workers}', checkpoint))
        assert _differing(weights, resumed) == [], f'{workers} workers'
        assert sorted(resumed_lrs) == [15, 16, 17]
        assert all(resumed_lrs[i] == lrs[i] for i in resumed_lrs)


@pytest.mark.slow  # about 30 s
def test_uninterrupted_runs_are_iter_based_train_loops_without_random_transforms(
        tmp_path, synthshift_root):
    """The SynthShift configs (no random transform): the default loop trains exactly as
    IterBasedTrainLoop with InfiniteSampler and the bare dataset, so their numbers are
    unchanged. With a random flip, sample_seeding=False keeps the old draws (from the training's
    own generators with 0 workers); the sampler alone changes nothing."""
    cfg = tiny_config(TWO_DOMAIN, tmp_path / 'a', synthshift_root, iters=3)
    cfg.custom_hooks = [dict(type='RecordLearningRates')]
    flipped = copy.deepcopy(cfg)
    dataset = flipped.train_dataloader.dataset
    for d in (dataset.source, dataset.target):
        d.pipeline = [*d.pipeline[:-1], FLIP, d.pipeline[-1]]
    flipped.train_cfg.sample_seeding = False
    for name, run in (('bare', cfg), ('flipped', flipped)):
        run.work_dir = str(tmp_path / name)
        weights, _ = _train(run)
        plain = copy.deepcopy(run)
        plain.train_cfg = dict(type='IterBasedTrainLoop', max_iters=3, val_interval=3)
        plain.work_dir = str(tmp_path / f'{name}_plain')
        assert _differing(weights, _train(plain)[0]) == [], name
