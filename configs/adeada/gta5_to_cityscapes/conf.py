# CONF: regions by mean least confidence (1 - max p) (ADeADA supplement, section B), GTA5 ->
# Cityscapes, DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol as adeada.py
# (supplement Table 6: 59.90 / 65.72 / 68.83 / 69.55 / 70.70 mIoU at 1..5% of the target pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='conf', strategy_cfg=dict())]
