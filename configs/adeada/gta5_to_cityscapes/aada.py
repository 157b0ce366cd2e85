# AADA: entropy weighted by a source/target discriminator on region features (ADeADA supplement,
# section B), GTA5 -> Cityscapes, DeepLab-v3+: same regions, budget, warm-up and fine-tuning
# protocol as adeada.py (supplement Table 6: 55.84 / 61.71 / 64.93 / 65.74 / 66.01 mIoU at 1..5%
# of the target pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='aada', strategy_cfg=dict())]
