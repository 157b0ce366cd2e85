# ADA-MCU, GTA5 -> Cityscapes, DeepLab-v3+ ResNet-101: the comparison with MADA (paper Table IV,
# l. 1084-1086; papers/004_1ecdab4497048225.txt, 'l. N' = its line N): "Since the DeepLab v3+ is
# adopted as the backbone network of this method, we follow their experiment setting" (l. 887-
# 889), "We set Me = 5%" (l. 894-896), "The other settings are the same as the former
# experiments" (l. 896-897): everything as adamcu.py except the model and the warm-up.
# - model: configs/_base_/models/deeplabv3plus_r101.py (RIPU's: ImageNet ResNet-101, output
#   stride 8, frozen backbone BN, depthwise-separable ASPP head with 512 channels and a 1x1
#   `conv_seg`, whose input is the contrastive feature). The head keeps the base's dropout 0.1
#   before conv_seg, so in training the contrastive features are taken after that dropout (not
#   given in the paper).
# - auxiliary head (the uncertainty's second output, l. 622-624): mmseg's usual auxiliary
#   FCNHead on layer3 (in_index 2, 1024 channels, 256 hidden, one 3x3 conv, dropout 0.1), CE
#   weight 0.4 (mmseg's usual; not given in the paper).
# - start: source_pretrain_v3plus.py (the same model as an ADASegmentor on the source only).
# - optimiser, schedule, data, translated source, budget: adamcu.py (SGD 2.5e-4 / 0.9 / 1e-4,
#   poly 0.9, l. 626-631; 40k iterations, not given in the paper; heads x10), repeated here
#   (a second model base cannot be merged into adamcu.py's).
_base_ = ['../../_base_/default_runtime.py', '../../_base_/models/deeplabv3plus_r101.py',
          '../../_base_/datasets/gta5_to_cityscapes.py', '../../_base_/schedules/ripu_40k.py',
          '../../_base_/active/adamcu.py']
warmup_config = 'configs/adamcu/gta5_to_cityscapes/source_pretrain_v3plus.py'
load_from = None
# A folder of CycleGAN-translated source images with the same file names as the source images
# (absolute, or relative to the source data_root); None = the raw source. Edit it here (and in
# source_pretrain_v3plus.py); --cfg-options cannot reach it (the data_prefix below is computed
# from it), set train_dataloader.dataset.source.data_prefix.img_path there instead.
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
model = dict(
    _base_.adamcu_model, projection=dict(channels=128),
    contrastive_loss=_base_.adamcu_contrastive_loss,
    decode_head=dict(num_classes=num_classes), auxiliary_head=aux_head)
optimizer = dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=1e-4)
head_lr = dict(lr_mult=10.0)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None,
                     paramwise_cfg=dict(custom_keys={'decode_head': head_lr,
                                                     'auxiliary_head': head_lr,
                                                     'projection': head_lr}))
max_iters = 40000
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
                        by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
train_dataloader = dict(dataset=dict(source=dict(data_prefix=source_data_prefix),
                                     target=dict(active_label_dir='active_labels')))
# Score the target image as the model trains on it (the resized image), no labels loaded.
pool_pipeline = [t for t in _base_.target_pipeline if t['type'] != 'LoadAnnotations']
custom_hooks = [dict(_base_.adamcu_hook, pool_pipeline=pool_pipeline, commit_interval=500)]
