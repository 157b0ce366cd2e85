# ADA-MCU, SYNTHIA -> Cityscapes (16 classes), DeepLab-v2 ResNet-101
# (papers/004_1ecdab4497048225.txt; 'l. N' = its line N). The method's values (uncertainty,
# thresholds, contrastive loss, DCCM, adaptive sampling) are in configs/_base_/active/adamcu.py
# with their sources. Here:
# - model: DeepLab-v2 on an ImageNet ResNet-101 (l. 619-621; configs/_base_/models/
#   deeplabv2_r101.py, RIPU's: output stride 8, frozen BN). The contrastive loss needs the
#   decode head's pre-classifier features, so the main (conv5 = layer4) head is ADeADA's 256-d
#   DeepLab-v2 variant (DeepLabV2Head feature_channels=256: four dilated 3x3 convs to 256,
#   summed, then a 1x1 `conv_seg`); not given in the paper (its DeepLab-v2 head maps straight
#   to the classes). Projection 128-d, default contrastive caps (_base_/active/adamcu.py).
# - auxiliary head: the uncertainty's KL term uses "multi-level outputs coming from both conv4
#   and conv5 feature maps" (l. 622-624; Eq. 3, l. 339): the DeepLab-v2 classifier (dilations
#   6/12/18/24) on conv4 = layer3 (1024 channels). Its CE weight is not given in the paper:
#   0.1, AdaptSegNet's multi-level segmentation weight.
# - optimiser: SGD lr 2.5e-4, momentum 0.9, weight decay 1e-4, poly 0.9 (l. 626-631); the heads
#   (decode, auxiliary, projection: everything but the backbone) at 10x, the structure of RIPU's
#   schedule (configs/_base_/schedules/ripu_40k.py; DeepLab-v2 / AdaptSegNet's classifier x10).
#   Iterations: not given in the paper: 40k, RIPU's count; the poly decays to 0 at 40k (RIPU
#   decays over 62.5k and stops at 40k).
# - classes: the paper reports 13-class mIoU (l. 590-592, Table II l. 831-835); the model
#   follows the dataset config's 16-class protocol (RIPU's, as configs/ripu/ and configs/adeada/
#   synthia_to_cityscapes/): 16-way main and auxiliary heads; the metric reports mIoU13 too.
# - data: RIPU's inputs, batch 2 source + 2 target a step (the paper's 2 + 2, l. 637-638).
# - source: the paper trains on CycleGAN-translated source images (l. 632-636, Algorithm 1
#   step 1, l. 676-678, following [4]); set `translated_source_dir` to such a folder in
#   source_pretrain.py, which this config inherits (its model, heads and source data too).
#   None = the raw source (a documented deviation: no translator ships with this repository).
# - start: `warmup_config` (source_pretrain.py); sweeps train it once and set load_from; by
#   hand: tools/train.py it, then --cfg-options load_from=<its checkpoint>.
# - budget: 5% of the target pixels (the MADA comparison, l. 894-896); the tables sweep
#   1.7 / 3.4 / 6.8 / 16.8 % (l. 741, 789-790) through the `budget_ratio` knob. Purchases reach
#   the label store every 500 iterations (not given in the paper: bounds the writes).
_base_ = ['./synthia_to_cityscapes/source_pretrain.py', '../_base_/active/adamcu.py']
warmup_config = 'configs/adamcu/synthia_to_cityscapes/source_pretrain.py'
load_from = None
model = dict(_base_.adamcu_model, projection=dict(channels=128),
             contrastive_loss=_base_.adamcu_contrastive_loss)
train_dataloader = dict(dataset=dict(
    _delete_=True, type='TwoDomainDataset',
    source=dict(_base_.source_train, data_prefix=_base_.source_data_prefix),
    target=dict(_base_.target_train, active_label_dir='active_labels')))
# Score the target image as the model trains on it (the resized image), no labels loaded.
pool_pipeline = [t for t in _base_.target_pipeline if t['type'] != 'LoadAnnotations']
custom_hooks = [dict(_base_.adamcu_hook, pool_pipeline=pool_pipeline, commit_interval=500)]
