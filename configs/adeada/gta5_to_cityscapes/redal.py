# ReDAL: entropy + 2-D edge term, diversity-aware greedy selection (ADeADA supplement, section
# B), GTA5 -> Cityscapes, DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol as
# adeada.py (supplement Table 6: 61.97 / 65.93 / 67.12 / 68.55 / 68.30 mIoU at 1..5% of the
# target pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='redal', strategy_cfg=dict())]
