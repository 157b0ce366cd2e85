from mmseg.registry import DATASETS

from .checked_seg_dataset import CheckedSegDataset
from adasweep_base.classes import SYNTHIA16_CLASSES, SYNTHIA16_PALETTE


@DATASETS.register_module()
class Cityscapes16Dataset(CheckedSegDataset):
    """Cityscapes with the 16 classes of the SYNTHIA -> Cityscapes protocol (terrain, truck and
    train are 255). Labels `*_gtFine_labelTrainIds16.png` come from
    `python -m mmseg_ext.tools.convert_datasets cityscapes ROOT --num-classes 16`."""
    METAINFO = dict(classes=SYNTHIA16_CLASSES, palette=[list(p) for p in SYNTHIA16_PALETTE])

    def __init__(self, img_suffix='_leftImg8bit.png',
                 seg_map_suffix='_gtFine_labelTrainIds16.png', **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
