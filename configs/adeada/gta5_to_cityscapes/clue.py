# CLUE: uncertainty-weighted k-means of region features (ADeADA supplement, section B), GTA5 ->
# Cityscapes, DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol as adeada.py
# (supplement Table 6: 60.13 / 62.96 / 64.99 / 65.88 / 67.13 mIoU at 1..5% of the target pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='clue', strategy_cfg=dict())]
