# MAR: regions by smallest mean top-2 margin (ADeADA supplement, section B), GTA5 -> Cityscapes,
# DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol as adeada.py (supplement
# Table 6: 57.95 / 64.33 / 67.08 / 68.47 / 69.44 mIoU at 1..5% of the target pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='mar', strategy_cfg=dict())]
