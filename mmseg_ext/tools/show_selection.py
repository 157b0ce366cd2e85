"""Draw the regions an active run bought over its target images, one colour per round (RIPU Fig. 4).

    python -m mmseg_ext.tools.show_selection WORK_DIR --out FILE.png [--images 6] [--round R]

Reads WORK_DIR/active_labels (see mmseg_ext.active.label_store). Each row of the figure is one
target image: the image with the bought pixels in their round's colour, then the bought ground
truth in the Cityscapes palette. Pseudo labels (POINT-ENT) are grey on the image and dimmed in
the label panel; a round of a grid strategy (POINT-ENT's `grid`, `stride`) outlines the patches
it bought points in, in the round's colour.
"""
import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

from ..active.label_store import ActiveLabelStore
from adasweep_base.classes import CITYSCAPES_PALETTE

ROUND_COLOURS = np.array([(255, 0, 0), (255, 160, 0), (255, 255, 0), (0, 255, 0), (0, 255, 255),
                          (0, 80, 255), (255, 0, 255), (255, 255, 255)], np.uint8)


def _image_path(gt_path):
    """Cityscapes / GTA5 / SYNTHIA label path -> its image path."""
    pairs = [('/gtFine/', '/leftImg8bit/', '_gtFine_labelTrainIds16.png', '_leftImg8bit.png'),
             ('/gtFine/', '/leftImg8bit/', '_gtFine_labelTrainIds.png', '_leftImg8bit.png'),
             ('/labels/', '/images/', '_labelTrainIds.png', '.png'),
             ('/GT/LABELS/', '/RGB/', '_labelTrainIds.png', '.png')]
    for folder, img_folder, suffix, img_suffix in pairs:
        if folder in gt_path and gt_path.endswith(suffix):
            candidate = gt_path.replace(folder, img_folder)[:-len(suffix)] + img_suffix
            if os.path.isfile(candidate):
                return candidate
    return None


def round_map(store, rel, shape, upto=None):
    """(H, W) int map: the round in which each pixel was bought, -1 where not bought."""
    rounds = np.full(shape, -1, np.int16)
    for rnd in store.rounds():
        if upto is not None and rnd['round'] > upto or rel not in rnd['images']:
            continue
        rounds.flat[store.round_delta(rnd)[rel][0]] = rnd['round']
    return rounds


PSEUDO_COLOUR = (150, 150, 150)


def _outline_patches(overlay, bought, grid, colour):
    """Outline the cells of a (rows, cols) grid over the image that hold a bought pixel."""
    h, w = bought.shape
    rows, cols = grid
    ph, pw = h // rows, w // cols
    cells = bought[:rows * ph, :cols * pw].reshape(rows, ph, cols, pw).any(axis=(1, 3))
    for r, c in zip(*np.nonzero(cells)):
        top, left = r * ph, c * pw
        overlay[top, left:left + pw] = overlay[top + ph - 1, left:left + pw] = colour
        overlay[top:top + ph, left] = overlay[top:top + ph, left + pw - 1] = colour


def render(store, rel, upto=None):
    gt_path = store.gt_path(rel)
    labels = store.labels(rel)
    h, w = labels.shape
    img_path = _image_path(gt_path)
    image = (np.array(Image.open(img_path).convert('RGB').resize((w, h))) if img_path
             else np.zeros((h, w, 3), np.uint8))
    rounds = round_map(store, rel, (h, w), upto)
    overlay = (image * 0.6).astype(np.uint8)
    bought = rounds >= 0
    pseudo = store.pseudo(rel)
    overlay[pseudo & ~bought] = PSEUDO_COLOUR
    overlay[bought] = ROUND_COLOURS[rounds[bought] % len(ROUND_COLOURS)]
    for rnd in store.rounds():
        grid = (rnd.get('options') or {}).get('grid')
        if grid and rel in rnd['images'] and (upto is None or rnd['round'] <= upto):
            _outline_patches(overlay, rounds == rnd['round'], grid,
                             ROUND_COLOURS[rnd['round'] % len(ROUND_COLOURS)])
    palette = np.array(CITYSCAPES_PALETTE + ((0, 0, 0),) * (256 - len(CITYSCAPES_PALETTE)),
                       np.uint8)
    truth = palette[labels]
    truth[pseudo & ~bought] = (truth[pseudo & ~bought] * 0.5).astype(np.uint8)
    truth[labels == 255] = (image[labels == 255] * 0.25).astype(np.uint8)
    return np.concatenate([overlay, np.full((h, 4, 3), 255, np.uint8), truth], axis=1)


def show_selection(work_dir, out, images=6, upto=None):
    store = ActiveLabelStore(os.path.join(work_dir, 'active_labels'))
    if not (store.root / 'index.json').is_file():
        raise FileNotFoundError(f'{work_dir} has no active-label store (active_labels/index.json)')
    ledger = store.ledger()
    bought = {}
    for row in ledger:
        bought[row['image']] = bought.get(row['image'], 0) + row['pixels']
    chosen = sorted(bought, key=lambda r: -bought[r])[:images] or \
        [e['rel'] for e in store.index()[:images]]
    panels = [render(store, rel, upto) for rel in chosen]
    width = max(p.shape[1] for p in panels)
    rows = [np.pad(p, ((0, 4), (0, width - p.shape[1]), (0, 0)), constant_values=255)
            for p in panels]
    grid = np.concatenate(rows, axis=0)
    scale = max(1, 1024 // grid.shape[1])
    Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale),
                                 Image.NEAREST).save(out)
    return out, json.dumps({'images': chosen, 'rounds': len(store.rounds())})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--images', type=int, default=6)
    parser.add_argument('--round', type=int, default=None, help='draw rounds up to this one')
    args = parser.parse_args(argv)
    try:
        out, info = show_selection(args.work_dir, args.out, args.images, args.round)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'wrote {out}: {info}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
