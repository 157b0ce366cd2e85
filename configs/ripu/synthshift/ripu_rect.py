# Table 6: fixed non-overlapping rectangles (4x8 cells) ranked by the RIPU score.
_base_ = ['./ripu_ra.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='ripu_rect', strategy_cfg=dict(cell=(4, 8)))]
