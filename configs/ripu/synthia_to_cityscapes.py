# RIPU (RA), SYNTHIA -> Cityscapes (16 classes), DeepLab-v2 ResNet-101: 2.2% of the target pixels in 3x3 regions (k=1),
# five rounds at 10k..18k of 40k, LCR 0.1, NL 1.0 (tau 0.05). README model zoo of the reference:
# 70.1 mIoU.
_base_ = ['../_base_/default_runtime.py', '../_base_/models/deeplabv2_r101.py',
          '../_base_/datasets/synthia_to_cityscapes.py', '../_base_/schedules/ripu_40k.py',
          '../_base_/active/ripu.py']
model = dict(source_losses=_base_.ripu_source_losses, target_losses=_base_.ripu_target_losses, decode_head=dict(num_classes=16))
train_dataloader = dict(dataset=dict(target=dict(active_label_dir='active_labels')))
# Score the target image as the model trains on it (RIPU's RA_select: the resized image; the
# logits are then resized to the label size), not the native-resolution file.
pool_pipeline = [t for t in _base_.target_pipeline if t['type'] != 'LoadAnnotations']
custom_hooks = [dict(_base_.active_hook, pool_pipeline=pool_pipeline)]
