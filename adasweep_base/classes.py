"""Class names, palettes and label-id tables shared by datasets, converters and metrics.

Train ids follow the Cityscapes 19-class convention; 255 is ignore everywhere.
"""
import numpy as np

IGNORE_INDEX = 255

CITYSCAPES_CLASSES = (
    'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light',
    'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car',
    'truck', 'bus', 'train', 'motorcycle', 'bicycle')

CITYSCAPES_PALETTE = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
    (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
    (0, 80, 100), (0, 0, 230), (119, 11, 32))

# The 16 classes of the SYNTHIA -> Cityscapes protocol (terrain, truck, train dropped).
SYNTHIA16_CLASSES = tuple(c for c in CITYSCAPES_CLASSES if c not in ('terrain', 'truck', 'train'))
SYNTHIA16_PALETTE = tuple(p for c, p in zip(CITYSCAPES_CLASSES, CITYSCAPES_PALETTE)
                          if c in SYNTHIA16_CLASSES)
# mIoU-13 (mIoU*) drops wall, fence and pole from the 16 classes.
SYNTHIA13_EXCLUDED = ('wall', 'fence', 'pole')

# Cityscapes label id -> 19-class train id (GTA5 labels use the same ids).
CITYSCAPES_ID_TO_TRAINID_19 = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
    24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
# Cityscapes label id -> 16-class train id (SYNTHIA -> Cityscapes protocol).
CITYSCAPES_ID_TO_TRAINID_16 = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 23: 9,
    24: 10, 25: 11, 26: 12, 28: 13, 32: 14, 33: 15}
# SYNTHIA RAND_CITYSCAPES class id (red channel of GT/LABELS) -> 16-class train id.
SYNTHIA_ID_TO_TRAINID_16 = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 1: 9,
    10: 10, 17: 11, 8: 12, 19: 13, 12: 14, 11: 15}
# SYNTHIA class id -> 19-class train id: the same classes placed at their Cityscapes 19-id slots.
SYNTHIA_ID_TO_TRAINID_19 = {
    sid: CITYSCAPES_CLASSES.index(SYNTHIA16_CLASSES[t])
    for sid, t in SYNTHIA_ID_TO_TRAINID_16.items()}


def lookup_table(mapping, size=65536):
    """A uint8 array `lut` with lut[id] = train id and 255 for every id not in `mapping`."""
    lut = np.full(size, IGNORE_INDEX, dtype=np.uint8)
    for src, dst in mapping.items():
        lut[src] = dst
    return lut
