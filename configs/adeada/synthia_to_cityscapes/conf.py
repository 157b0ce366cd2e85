# CONF: regions by mean least confidence (1 - max p) (ADeADA supplement, section B), SYNTHIA ->
# Cityscapes, DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol as adeada.py
# (supplement Table 7: 61.94 / 68.20 / 69.70 / 71.17 / 71.50 16-class mIoU at 1..5% of the target
# pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='conf', strategy_cfg=dict())]
