from .checked_seg_dataset import CheckedSegDataset, DatasetError
from .cityscapes16_dataset import Cityscapes16Dataset
from .cityscapes_dataset import CityscapesTrainIdDataset
from .gta5_dataset import GTA5Dataset
from .resumable_infinite_sampler import ResumableInfiniteSampler
from .sample_seeded_dataset import SampleSeededDataset
from .sample_seeding import SampleIndex, seeded_sample
from .synthia_dataset import SynthiaDataset
from .synthshift_dataset import SynthShiftDataset, default_synthshift_root, ensure_synthshift
from .two_domain_dataset import TwoDomainDataset

__all__ = ['CheckedSegDataset', 'DatasetError', 'Cityscapes16Dataset', 'CityscapesTrainIdDataset',
           'GTA5Dataset', 'ResumableInfiniteSampler', 'SampleIndex',
           'SampleSeededDataset', 'SynthiaDataset', 'SynthShiftDataset', 'TwoDomainDataset',
           'default_synthshift_root', 'ensure_synthshift', 'seeded_sample']
