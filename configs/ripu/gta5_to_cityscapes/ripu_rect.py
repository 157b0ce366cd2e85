# GTA5 -> Cityscapes: Table 6: fixed 32x64 rectangles ranked by the RIPU score, 2.2%.
_base_ = ['./ripu_ra.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='ripu_rect', strategy_cfg=dict(cell=(32, 64)))]
