# ADA-MCU, GTA5 -> Cityscapes, DeepLab-v3+ ResNet-101: the comparison with MADA (paper Table IV,
# l. 1084-1086; papers/004_1ecdab4497048225.txt, 'l. N' = its line N): "Since the DeepLab v3+ is
# adopted as the backbone network of this method, we follow their experiment setting" (l. 887-
# 889), "We set Me = 5%" (l. 894-896), "The other settings are the same as the former
# experiments" (l. 896-897): everything as configs/adamcu/gta5_to_cityscapes.py except the model and the warm-up.
# - model: configs/_base_/models/deeplabv3plus_r101.py (RIPU's: ImageNet ResNet-101, output
#   stride 8, frozen backbone BN, depthwise-separable ASPP head with 512 channels and a 1x1
#   `conv_seg`, whose input is the contrastive feature). The head keeps the base's dropout 0.1
#   before conv_seg, so in training the contrastive features are taken after that dropout (not
#   given in the paper).
# - auxiliary head (the uncertainty's second output, l. 622-624): mmseg's usual auxiliary
#   FCNHead on layer3 (in_index 2, 1024 channels, 256 hidden, one 3x3 conv, dropout 0.1), CE
#   weight 0.4 (mmseg's usual; not given in the paper).
# - start: source_pretrain_v3plus.py (the same model as an ADASegmentor on the source only).
# - model, heads, source data (and `translated_source_dir`), optimiser and schedule
#   (configs/_base_/schedules/adamcu_40k.py): source_pretrain_v3plus.py, which this config
#   inherits; the method values, budget and hook: as configs/adamcu/gta5_to_cityscapes.py.
_base_ = ['./source_pretrain_v3plus.py', '../../_base_/active/adamcu.py']
warmup_config = 'configs/adamcu/gta5_to_cityscapes/source_pretrain_v3plus.py'
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
