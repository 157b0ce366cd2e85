# ENT: regions by mean pixel entropy (ADeADA supplement, section B), GTA5 -> Cityscapes,
# DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol as adeada.py (supplement
# Table 6: 59.57 / 66.08 / 68.79 / 69.83 / 70.70 mIoU at 1..5% of the target pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='ent', strategy_cfg=dict())]
