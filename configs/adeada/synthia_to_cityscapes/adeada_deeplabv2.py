# ADeADA (D2ADA), SYNTHIA -> Cityscapes (16 classes), DeepLab-v2 ResNet-101 with the paper's 256-d
# ASPP variant (supplement Table 8: 59.53 / 67.07 / 68.99 / 70.04 / 70.62 16-class mIoU at 1..5%
# of the target pixels). Everything as configs/adeada/synthia_to_cityscapes.py (protocol, alpha 0.5 / beta 1, 16 classes and
# the empty ignore_classes, fine-tuning, inputs and their documented deviations: see there)
# except the model:
# - configs/_base_/models/deeplabv2_r101.py with decode_head feature_channels=256: the four
#   dilated 3x3 convs map 2048 -> 256 (no bias), their sum is the region feature and a 1x1
#   `conv_seg` classifies it (supplement, "Density-aware selection"; D2ADA's deeplabv2; reference
#   notes 2.7). RIPU's v2 head has no 256-d features, and this is the head of the v2 warm-up, so
#   its checkpoint loads.
# - warm-up: warmup_deeplabv2.py (README warm-up mIoU of D2ADA: 39.95).
_base_ = ['../../_base_/default_runtime.py', '../../_base_/models/deeplabv2_r101.py',
          '../../_base_/datasets/synthia_to_cityscapes.py',
          '../../_base_/schedules/adeada_finetune.py', '../../_base_/active/adeada.py']
warmup_config = 'configs/adeada/synthia_to_cityscapes/warmup_deeplabv2.py'
load_from = None
head_feature_channels = 256
num_classes = 16  # the dataset config's protocol
model = dict(decode_head=dict(feature_channels=head_feature_channels, num_classes=num_classes))
train_dataloader = dict(dataset=dict(target=dict(active_label_dir='active_labels')))
pool_pipeline = [t for t in _base_.target_pipeline if t['type'] != 'LoadAnnotations']
score_source_pipeline = [t for t in _base_.source_pipeline if t['type'] != 'LoadAnnotations']
select_iters = [r * _base_.round_iters for r in range(_base_.adeada_rounds)]
custom_hooks = [dict(_base_.region_hook, select_iters=select_iters,
                     strategy=dict(type='ADeADA', alpha=0.5, beta=1.0, ignore_classes=()),
                     pool_pipeline=pool_pipeline, source_pipeline=score_source_pipeline)]
