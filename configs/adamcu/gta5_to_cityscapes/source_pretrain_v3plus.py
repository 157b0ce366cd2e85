# ADA-MCU's starting point for the DeepLab-v3+ comparison (adamcu_v3plus.py), GTA5 -> Cityscapes
# (papers/004_1ecdab4497048225.txt; 'l. N' = its line N): the (CycleGAN-translated) source
# trains the model first (l. 635-636; Algorithm 1 step 2, l. 680). The model of adamcu_v3plus.py
# (DeepLab-v3+ ResNet-101 with the auxiliary FCNHead on layer3, so the checkpoint loads there;
# its projection head and DCCM start fresh) as a plain ADASegmentor on the source only (like
# configs/source_only/synthshift.py).
# - optimiser and schedule: configs/_base_/schedules/adamcu_40k.py (l. 626-631; 40k iterations,
#   not given in the paper).
# - data: RIPU's source input (1280x720), batch 2 source images; validated at the end.
# - source: `translated_source_dir` (CycleGAN-translated source, l. 632-636); None = the raw
#   source; adamcu_v3plus.py inherits this file, so set it here only.
_base_ = ['../../_base_/default_runtime.py', '../../_base_/models/deeplabv3plus_r101.py',
          '../../_base_/datasets/gta5_to_cityscapes.py', '../../_base_/schedules/adamcu_40k.py']
# A folder of CycleGAN-translated source images with the same file names as the source images
# (absolute, or relative to the source data_root); None = the raw source.
translated_source_dir = None
source_data_prefix = dict(
    img_path='images' if translated_source_dir is None else translated_source_dir,
    seg_map_path='labels')  # GTA5Dataset's default folders
num_classes = 19
aux_head = dict(type='FCNHead', in_channels=1024, in_index=2, channels=256, num_convs=1,
                concat_input=False, dropout_ratio=0.1, num_classes=num_classes,
                norm_cfg=_base_.head_norm_cfg, align_corners=True,
                loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4,
                                 avg_non_ignore=True))
model = dict(decode_head=dict(num_classes=num_classes), auxiliary_head=aux_head)
train_dataloader = dict(dataset=dict(_delete_=True, **dict(_base_.source_train,
                                                           data_prefix=source_data_prefix)))
