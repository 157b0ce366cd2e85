import numpy as np
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from adasweep_base.classes import SYNTHIA13_EXCLUDED, SYNTHIA16_CLASSES


@METRICS.register_module()
class ClassIoUMetric(IoUMetric):
    """mmseg's IoUMetric that also returns the per-class IoU (mmseg only prints it).

    Adds `IoU.<class name>` for every class (percent, NaN for a class absent from both prediction
    and ground truth) and, for the 16-class SYNTHIA protocol, `mIoU13` (mIoU without wall, fence,
    pole). Values are python floats, so they serialise to JSON.
    """

    def compute_metrics(self, results):
        metrics = {k: float(v) for k, v in super().compute_metrics(results).items()}
        intersect = sum(r[0] for r in results).cpu().numpy().astype(np.float64)
        union = sum(r[1] for r in results).cpu().numpy().astype(np.float64)
        with np.errstate(invalid='ignore', divide='ignore'):
            iou = np.where(union > 0, intersect / union, np.nan) * 100
        classes = list(self.dataset_meta['classes'])
        for name, value in zip(classes, iou):
            metrics[f'IoU.{name}'] = round(float(value), 2)
        if tuple(classes) == SYNTHIA16_CLASSES:
            keep = [i for i, c in enumerate(classes) if c not in SYNTHIA13_EXCLUDED]
            metrics['mIoU13'] = round(float(np.nanmean(iou[keep])), 2)
        return metrics
