# ADA-MCU's starting point, GTA5 -> Cityscapes, DeepLab-v2 ResNet-101
# (papers/004_1ecdab4497048225.txt; 'l. N' = its line N): "Before the domain adaptation
# procedure, we use translated source domain data to train the model first" (l. 635-636;
# Algorithm 1 step 2, l. 680). The model of configs/adamcu/gta5_to_cityscapes.py (same backbone, 256-d main head on
# layer4 and DeepLab-v2 auxiliary head on layer3, so the checkpoint loads there; its
# projection head and DCCM start fresh) as a plain ADASegmentor, trained on the source only
# (like configs/source_only/synthshift.py), so the uncertainty's KL term compares two trained
# heads from the first adaptation step.
# - optimiser and schedule: configs/_base_/schedules/adamcu_40k.py (l. 626-631; 40k iterations,
#   not given in the paper).
# - data: RIPU's source input (1280x720), batch 2 source images. Validated on Cityscapes val at
#   the end.
# - source: `translated_source_dir` (CycleGAN-translated source images, l. 632-636);
#   None = the raw source; the ADA-MCU configs inherit this file, so set it here only.
# Sweeps train it once (sweeps/warmup.py); by hand: tools/train.py it, then
# --cfg-options load_from=<its checkpoint> on configs/adamcu/gta5_to_cityscapes.py.
_base_ = ['../../_base_/default_runtime.py', '../../_base_/models/deeplabv2_r101.py',
          '../../_base_/datasets/gta5_to_cityscapes.py', '../../_base_/schedules/adamcu_40k.py']
# A folder of CycleGAN-translated source images with the same file names as the source images
# (absolute, or relative to the source data_root); None = the raw source.
translated_source_dir = None
source_data_prefix = dict(
    img_path='images' if translated_source_dir is None else translated_source_dir,
    seg_map_path='labels')  # GTA5Dataset's default folders
num_classes = 19
aux_head = dict(type='DeepLabV2Head', in_channels=1024, in_index=0, dilations=(6, 12, 18, 24),
                num_classes=num_classes, align_corners=True,
                loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.1,
                                 avg_non_ignore=True))
model = dict(backbone=dict(out_indices=(2, 3)),
             decode_head=dict(in_index=1, feature_channels=256, num_classes=num_classes),
             auxiliary_head=aux_head)
train_dataloader = dict(dataset=dict(_delete_=True, **dict(_base_.source_train,
                                                           data_prefix=source_data_prefix)))
