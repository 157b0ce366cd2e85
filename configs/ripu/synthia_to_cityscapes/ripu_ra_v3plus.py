# RIPU (RA) 5%, SYNTHIA -> Cityscapes (16 classes), DeepLab-v3+ ResNet-101. Reference: 71.4 mIoU.
_base_ = ['../../_base_/default_runtime.py', '../../_base_/models/deeplabv3plus_r101.py',
          '../../_base_/datasets/synthia_to_cityscapes.py', '../../_base_/schedules/ripu_40k.py',
          '../../_base_/active/ripu.py']
model = dict(source_losses=_base_.ripu_source_losses, target_losses=_base_.ripu_target_losses, decode_head=dict(num_classes=16))
train_dataloader = dict(dataset=dict(target=dict(active_label_dir='active_labels')))
# Score the target image as the model trains on it (RIPU's RA_select: the resized image).
pool_pipeline = [t for t in _base_.target_pipeline if t['type'] != 'LoadAnnotations']
custom_hooks = [dict(_base_.custom_hooks[0], budget=dict(ratio=0.05), pool_pipeline=pool_pipeline)]
