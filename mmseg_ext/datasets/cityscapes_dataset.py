from mmseg.registry import DATASETS

from .checked_seg_dataset import CheckedSegDataset
from adasweep_base.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE


@DATASETS.register_module()
class CityscapesTrainIdDataset(CheckedSegDataset):
    """Cityscapes (19 classes) with the project's checks: `leftImg8bit/<split>/<city>/*` images and
    `gtFine/<split>/<city>/*_gtFine_labelTrainIds.png` labels (convert_datasets cityscapes ROOT)."""
    METAINFO = dict(classes=CITYSCAPES_CLASSES, palette=[list(p) for p in CITYSCAPES_PALETTE])

    def __init__(self, img_suffix='_leftImg8bit.png', seg_map_suffix='_gtFine_labelTrainIds.png',
                 **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
