"""Base of the project's datasets: BaseSegDataset plus one-line errors for bad folders and labels."""
import os.path as osp

import torch
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from adasweep_base.classes import IGNORE_INDEX


class DatasetError(ValueError):
    """A dataset folder or file is missing or malformed."""


@DATASETS.register_module()
class CheckedSegDataset(BaseSegDataset):
    """BaseSegDataset that refuses a missing data root, images without labels and out-of-range labels.

    Label values must lie in [0, num_classes) or equal 255; they are checked on every sample after
    the pipeline (a cheap comparison), so a wrongly converted label file is named, not trained on.

    `active_label_dir`: read labels from an active-label store (mmseg_ext.active.label_store)
    instead of the ground truth, which stays in each item's `gt_seg_map_path` for the annotator.
    A relative path is resolved against the run's work_dir by ActiveRunner. The store gets an
    all-255 label per image on first use, before any data-loader worker starts.
    """

    def __init__(self, *args, active_label_dir=None, **kwargs):
        self.active_label_dir = active_label_dir
        super().__init__(*args, **kwargs)

    def load_data_list(self):
        root = self.data_root or ''
        if root and not osp.isdir(root):
            raise DatasetError(f'{type(self).__name__}: data root {root!r} does not exist '
                               f'(expected the dataset folder; see docs/data.md)')
        for key in ('img_path', 'seg_map_path'):
            folder = self.data_prefix.get(key)
            if folder and not self.ann_file and not osp.isdir(folder):
                raise DatasetError(f'{type(self).__name__}: folder {folder!r} does not exist '
                                   f'(expected {key} folder under {root!r})')
        data_list = super().load_data_list()
        if not data_list:
            raise DatasetError(f'{type(self).__name__}: no images ending in {self.img_suffix!r} '
                               f'under {self.data_prefix.get("img_path")!r}')
        for info in data_list:
            seg = info.get('seg_map_path')
            if seg is not None and not osp.isfile(seg):
                raise DatasetError(f'{type(self).__name__}: image {info["img_path"]!r} has no label '
                                   f'file {seg!r} (run mmseg_ext.tools.convert_datasets first?)')
        if self.active_label_dir is not None:
            self._use_active_labels(data_list)
        return data_list

    def _use_active_labels(self, data_list):
        from ..active.label_store import ActiveLabelStore
        if not osp.isabs(self.active_label_dir):
            raise DatasetError(f'{type(self).__name__}: active_label_dir '
                               f'{self.active_label_dir!r} must be absolute (use runner_type='
                               "'ActiveRunner', which resolves it against the work_dir)")
        gt_root = self.data_prefix['seg_map_path']
        items = [(osp.relpath(info['seg_map_path'], gt_root), info['seg_map_path'])
                 for info in data_list]
        paths = ActiveLabelStore(self.active_label_dir).initialise(items)
        for info, path in zip(data_list, paths):
            info['gt_seg_map_path'] = info['seg_map_path']
            info['seg_map_path'] = path

    def prepare_data(self, idx):
        data = super().prepare_data(idx)
        sample = data.get('data_samples') if isinstance(data, dict) else None
        if sample is not None and 'gt_sem_seg' in sample:
            label = sample.gt_sem_seg.data
            bad = (label >= len(self.metainfo['classes'])) & (label != IGNORE_INDEX)
            if bool(bad.any()):
                values = torch.unique(label[bad]).tolist()
                raise DatasetError(
                    f'{type(self).__name__}: label file {sample.seg_map_path!r} has values {values} '
                    f'outside 0..{len(self.metainfo["classes"]) - 1} and 255 (not train ids?)')
        return data
