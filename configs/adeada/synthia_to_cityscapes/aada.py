# AADA: entropy weighted by a source/target discriminator on region features (ADeADA supplement,
# section B), SYNTHIA -> Cityscapes, DeepLab-v3+: same regions, budget, warm-up and fine-tuning
# protocol as adeada.py (supplement Table 7: 54.16 / 59.84 / 63.12 / 66.09 / 67.03 16-class mIoU
# at 1..5% of the target pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='aada', strategy_cfg=dict())]
