from mmseg.registry import DATASETS

from .checked_seg_dataset import CheckedSegDataset
from adasweep_base.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE


@DATASETS.register_module()
class GTA5Dataset(CheckedSegDataset):
    """GTA5 in its release layout: `images/NNNNN.png`, `labels/NNNNN_labelTrainIds.png`.

    The train-id labels are written by `python -m mmseg_ext.tools.convert_datasets gta5 ROOT`.
    """
    METAINFO = dict(classes=CITYSCAPES_CLASSES, palette=[list(p) for p in CITYSCAPES_PALETTE])

    def __init__(self, img_suffix='.png', seg_map_suffix='_labelTrainIds.png',
                 data_prefix=dict(img_path='images', seg_map_path='labels'), **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         data_prefix=data_prefix, **kwargs)
