"""ClassIoUMetric returns per-class IoU (and mIoU13 for the 16-class SYNTHIA protocol)."""
import math

import pytest
import torch
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

import mmseg_ext  # noqa: F401
from adasweep_base.classes import CITYSCAPES_CLASSES, SYNTHIA16_CLASSES
from mmseg_ext.evaluation import ClassIoUMetric


def _sample(pred, gt):
    s = SegDataSample()
    s.pred_sem_seg = PixelData(data=torch.as_tensor(pred)[None])
    s.gt_sem_seg = PixelData(data=torch.as_tensor(gt)[None])
    return s.to_dict()


def _run(classes, pairs):
    metric = ClassIoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=classes)
    metric.process([], [_sample(p, g) for p, g in pairs])
    return metric.compute_metrics(metric.results)


def test_per_class_iou_and_miou():
    gt = torch.tensor([[0, 0, 1, 1], [2, 2, 255, 255]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 0, 5, 5]])
    m = _run(CITYSCAPES_CLASSES, [(pred, gt)])
    # road: I=1, U=3; sidewalk: I=2, U=3; building: I=1, U=2; other classes absent -> NaN
    assert m['IoU.road'] == pytest.approx(33.33, abs=0.01)
    assert m['IoU.sidewalk'] == pytest.approx(66.67, abs=0.01)
    assert m['IoU.building'] == pytest.approx(50.0)
    assert math.isnan(m['IoU.wall'])
    assert m['mIoU'] == pytest.approx((33.333 + 66.667 + 50.0) / 3, abs=0.01)
    assert isinstance(m['mIoU'], float) and 'mIoU13' not in m


def test_miou13_for_synthia16():
    gt = torch.arange(16).reshape(4, 4)
    pred = gt.clone()
    pred[0, 3] = 0  # wall (id 3) wrong -> wall IoU 0, road IoU 50
    m = _run(SYNTHIA16_CLASSES, [(pred, gt)])
    assert m['IoU.wall'] == 0.0 and m['IoU.road'] == 50.0
    assert m['mIoU'] == pytest.approx((14 * 100 + 50) / 16, abs=0.01)
    assert m['mIoU13'] == pytest.approx((12 * 100 + 50) / 13, abs=0.01)
