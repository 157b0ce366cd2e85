from mmseg.registry import DATASETS

from .checked_seg_dataset import CheckedSegDataset, DatasetError
from adasweep_base.classes import (CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, SYNTHIA16_CLASSES,
                      SYNTHIA16_PALETTE)


@DATASETS.register_module()
class SynthiaDataset(CheckedSegDataset):
    """SYNTHIA-RAND-CITYSCAPES: `RGB/NNNNNNN.png`, `GT/LABELS/NNNNNNN_labelTrainIds.png`.

    `num_classes=16` (the RIPU protocol, default) or 19; convert with
    `python -m mmseg_ext.tools.convert_datasets synthia ROOT [--num-classes 19]` to match.
    """

    def __init__(self, num_classes=16, img_suffix='.png', seg_map_suffix='_labelTrainIds.png',
                 data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'), metainfo=None,
                 **kwargs):
        if num_classes not in (16, 19):
            raise DatasetError(f'SynthiaDataset: num_classes={num_classes!r}, expected 16 or 19')
        if metainfo is None:
            classes, palette = ((SYNTHIA16_CLASSES, SYNTHIA16_PALETTE) if num_classes == 16 else
                                (CITYSCAPES_CLASSES, CITYSCAPES_PALETTE))
            metainfo = dict(classes=classes, palette=[list(p) for p in palette])
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         data_prefix=data_prefix, metainfo=metainfo, **kwargs)
