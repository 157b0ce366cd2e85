# GTA5 -> Cityscapes, DeepLab-v2, source labels only (the source-free variant's stage 1 uses lr 5e-4
# for 20k of 31.25k iterations: see the reference notes 1.7).
_base_ = ['../_base_/default_runtime.py', '../_base_/models/deeplabv2_r101.py',
          '../_base_/datasets/gta5_to_cityscapes.py', '../_base_/schedules/ripu_40k.py']
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.source_train))
