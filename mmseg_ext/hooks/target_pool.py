"""``TargetPool``: what every acquisition hook knows about the target-train pool.

The pool's data infos and label sizes, its active-label store (labels bought so far, the
ledger, rollback to a checkpoint), the loaders that score its images, the RGB image and ground
truth of an image, the round log and the checkpoint bookkeeping. Hooks hold one and compose it;
``TargetPool(infos)`` without a label folder serves the checks a sweep runs before training.
"""
import zlib

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from PIL import Image

from ..active.label_store import ActiveLabelStore
from .inference import PoolImages

DEFAULT_PIPELINE = (dict(type='LoadImageFromFile'), dict(type='PackSegInputs'))


def target_dataset(runner):
    """The target-train dataset of a runner (the target of a two-domain dataset)."""
    dataset = runner.train_dataloader.dataset
    return getattr(dataset, 'target', dataset)


def seeded_generator(*parts) -> torch.Generator:
    """A CPU generator seeded by crc32 of '/'-joined parts (seed, round, image, ...)."""
    return torch.Generator().manual_seed(zlib.crc32('/'.join(str(p) for p in parts).encode()))


class TargetPool:

    def __init__(self, infos, label_dir=None):
        self.infos = list(infos)
        self.sizes = [Image.open(info['gt_seg_map_path']).size[::-1] for info in self.infos]
        self.total_pixels = int(sum(h * w for h, w in self.sizes))
        self.store = ActiveLabelStore(label_dir) if label_dir is not None else None

    @classmethod
    def of_runner(cls, runner, owner: str) -> 'TargetPool':
        """The runner's target-train pool with its store, rolled back to the runner's iteration
        (a no-op unless ActiveRunner could not do it first)."""
        target = target_dataset(runner)
        label_dir = getattr(target, 'active_label_dir', None)
        if label_dir is None:
            raise ValueError(f'{owner}: the target train dataset has no active_label_dir (set '
                             "it and runner_type='ActiveRunner')")
        store = ActiveLabelStore(label_dir)
        store.rollback(runner.iter)
        pool = cls([target.get_data_info(i) for i in range(len(target))])
        pool.store = store
        return pool

    def __len__(self):
        return len(self.infos)

    # ---------------------------------------------------------------- images

    def loader(self, pipeline, batch_size: int, num_workers: int = 0, infos=None):
        """Batches of PoolImages (each item carries its ``index`` into ``infos``)."""
        return torch.utils.data.DataLoader(
            PoolImages(self.infos if infos is None else infos, list(pipeline)),
            batch_size=batch_size, num_workers=num_workers, collate_fn=pseudo_collate)

    @staticmethod
    def image(info, height: int, width: int) -> np.ndarray:
        """The RGB image of ``info`` at (height, width), uint8."""
        return np.array(Image.open(info['img_path']).convert('RGB').resize((width, height)))

    # ---------------------------------------------------------------- labels

    def rel(self, info) -> str:
        """The store's key of an image (its label path under the store's labels folder)."""
        return str(info['seg_map_path'])[len(str(self.store.root / 'labels')) + 1:]

    def blocked(self, info) -> np.ndarray:
        """(h, w) bool: pixels bought or excluded so far."""
        return self.store.state(self.rel(info))[0]

    def ground_truth(self, rel: str) -> np.ndarray:
        return np.array(Image.open(self.store.gt_path(rel)))

    def has_round_at(self, iteration: int) -> bool:
        return any(r['iteration'] == iteration for r in self.store.rounds())

    def save_rounds(self, checkpoint: dict) -> None:
        """What a checkpoint records of the store: the iterations of its rounds."""
        if self.store is not None:
            checkpoint['active_rounds'] = [r['iteration'] for r in self.store.rounds()]

    # ---------------------------------------------------------------- log

    def log_round(self, runner, round_index: int, rows, seconds: float, unit: str) -> None:
        """Message-hub scalars and one log line for a committed round."""
        ledger = self.store.ledger()
        pixels = sum(r['pixels'] for r in ledger)
        units = sum(r['units'] for r in ledger)
        pseudo = sum(r.get('pseudo_pixels', 0) for r in ledger)
        classes = {}
        for row in rows:
            for c, n in row['classes'].items():
                classes[int(c)] = classes.get(int(c), 0) + n
        names = runner.train_dataloader.dataset.metainfo['classes']
        fraction = pixels / self.total_pixels
        hub = runner.message_hub
        for key, value in dict(round=round_index, labelled_fraction=fraction, pixels=pixels,
                               units=units, seconds=seconds).items():
            hub.update_scalar(f'active/{key}', value)
        if any('pseudo_pixels' in r for r in ledger):
            hub.update_scalar('active/pseudo_pixels', pseudo)
        hub.update_info('active/classes', {names[c]: n for c, n in sorted(classes.items())})
        histogram = ', '.join(f'{names[c]} {n}' for c, n in sorted(classes.items()))
        runner.logger.info(
            f'active round {round_index} at iter {rows[0]["iteration"] if rows else "?"}: bought '
            f'{sum(r["pixels"] for r in rows)} px in {sum(r["units"] for r in rows)} '
            f'{unit}s; labelled {fraction:.4%} of target pixels ({pixels} px, '
            f'{units} units{f", {pseudo} px pseudo-labelled" if pseudo else ""}) in '
            f'{seconds:.1f}s; classes: {histogram}')
