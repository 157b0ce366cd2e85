# RAND: regions in uniform random order (ADeADA supplement, section B), GTA5 -> Cityscapes,
# DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol as adeada.py (supplement
# Table 6: 58.81 / 61.11 / 62.23 / 63.62 / 63.50 mIoU at 1..5% of the target pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='rand', strategy_cfg=dict())]
