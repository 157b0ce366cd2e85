# CLUE: uncertainty-weighted k-means of region features (ADeADA supplement, section B), SYNTHIA
# -> Cityscapes, DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol as adeada.py
# (supplement Table 7: 60.17 / 64.71 / 66.50 / 67.46 / 68.37 16-class mIoU at 1..5% of the target
# pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='clue', strategy_cfg=dict())]
