# GTA5 -> Cityscapes: Table 6: SLIC superpixels (the paper: SEEDS, from opencv-contrib)
# ranked by the RIPU score, 2.2%.
_base_ = ['./ripu_ra.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='ripu_superpixel', strategy_cfg=dict(n_segments=2048, compactness=10))]
