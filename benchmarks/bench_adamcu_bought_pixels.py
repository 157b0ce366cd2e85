"""How many bought target pixels reach ADA-MCU's contrastive loss per iteration (issue 21, item 2):
5% of the target pixels bought sparsely (uniformly at random, as adaptive sampling draws them
within its groups), at SynthShift's decoder stride 2 (64x128 labels, 4 target images a batch) and
DeepLab-v2's output stride 8 (GTA5 -> Cityscapes target at 1280x640, 2 target images a batch as in
the paper, l. 637-638). For each: the bought pixels of the batch, those the loss is given as
candidates ('decoder': labels nearest-downsampled to the logits, the behaviour before issue 21;
'label': the label resolution, embeddings sampled bilinearly - the default) and those kept in the
target pool after the per-class caps (MultiLevelContrastiveLoss with its default caps 32/128/128,
19 classes, 10x10-pixel class blocks at label resolution, random embeddings). Mean over --draws.

    python benchmarks/bench_adamcu_bought_pixels.py [--draws 5] [--ratio 0.05]
"""
import argparse

import torch

from mmseg_ext.models.losses.contrastive_roles import nearest_resize
from mmseg_ext.models.losses.multi_level_contrastive_loss import MultiLevelContrastiveLoss

SETTINGS = (('SynthShift (tiny model)', (64, 128), 2, 4),
            ('DeepLab-v2 (GTA5 -> Cityscapes)', (640, 1280), 8, 2))


def one_batch(size, stride, n, ratio, g, loss):
    H, W = size
    h, w = H // stride, W // stride
    blocks = torch.randint(0, 19, (n, H // 10 + 1, W // 10 + 1), generator=g)
    full = blocks.repeat_interleave(10, 1).repeat_interleave(10, 2)[:, :H, :W]
    bought = torch.rand(n, H, W, generator=g) < ratio
    label = torch.where(bought, full, torch.full_like(full, 255))
    out = {'bought': int(bought.sum())}
    for mode in ('decoder', 'label'):
        lab = nearest_resize(label, (h, w)) if mode == 'decoder' else label
        out[mode] = int((lab != 255).sum())
        src = torch.randint(0, 19, lab.shape, generator=g)
        embed = torch.randn(n, 8, h, w, generator=g)
        none = torch.zeros(lab.shape, dtype=torch.bool)
        pred = torch.randint(0, 19, lab.shape, generator=g)
        loss(embed, src, pred, embed, lab, pred, tgt_high_uncertainty=~none,
             src_centre_mask=none, tgt_centre_mask=none, dccm_weights=torch.zeros(19, 19))
        out[mode + '_pool'] = loss.last_stats['num_tgt_pool']
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--draws', type=int, default=5)
    parser.add_argument('--ratio', type=float, default=0.05)
    args = parser.parse_args()
    torch.set_num_threads(1)
    loss = MultiLevelContrastiveLoss(units=('pixel', ))
    print('| setting | stride | bought / batch | reach the loss: decoder (before) | label (after) '
          '| in the target pool after caps: decoder | label |')
    print('|:---|---:|---:|---:|---:|---:|---:|')
    for name, size, stride, n in SETTINGS:
        g = torch.Generator().manual_seed(0)
        rows = [one_batch(size, stride, n, args.ratio, g, loss) for _ in range(args.draws)]
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
        b = mean['bought']
        print(f"| {name} | {stride} | {b:.0f} | {mean['decoder']:.0f} "
              f"({100 * mean['decoder'] / b:.1f}%) | {mean['label']:.0f} "
              f"({100 * mean['label'] / b:.1f}%) | {mean['decoder_pool']:.0f} | "
              f"{mean['label_pool']:.0f} |")


if __name__ == '__main__':
    main()
