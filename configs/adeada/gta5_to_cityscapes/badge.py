# BADGE: k-means++ seeding on region-averaged gradient embeddings (ADeADA supplement, section B),
# GTA5 -> Cityscapes, DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol as
# adeada.py (supplement Table 6: 62.67 / 65.62 / 67.73 / 68.66 / 70.50 mIoU at 1..5% of the
# target pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='badge', strategy_cfg=dict())]
