# RAND: regions in uniform random order (ADeADA supplement, section B), SYNTHIA -> Cityscapes,
# DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol as adeada.py (supplement
# Table 7: 59.05 / 60.96 / 63.65 / 65.53 / 66.09 16-class mIoU at 1..5% of the target pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='rand', strategy_cfg=dict())]
