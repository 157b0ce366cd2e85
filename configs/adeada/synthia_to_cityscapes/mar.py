# MAR: regions by smallest mean top-2 margin (ADeADA supplement, section B), SYNTHIA ->
# Cityscapes, DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol as adeada.py
# (supplement Table 7: 60.67 / 67.23 / 69.68 / 70.43 / 71.37 16-class mIoU at 1..5% of the target
# pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='mar', strategy_cfg=dict())]
