# BADGE: k-means++ seeding on region-averaged gradient embeddings (ADeADA supplement, section B),
# SYNTHIA -> Cityscapes, DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol as
# adeada.py (supplement Table 7: 61.64 / 66.29 / 69.18 / 70.26 / 71.08 16-class mIoU at 1..5% of
# the target pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='badge', strategy_cfg=dict())]
