# GTA5 -> Cityscapes, DeepLab-v2: "fully supervised" (every source and target label), RIPU Table 3.
_base_ = ['../_base_/default_runtime.py', '../_base_/models/deeplabv2_r101.py',
          '../_base_/datasets/gta5_to_cityscapes.py', '../_base_/schedules/ripu_40k.py']
