# ReDAL: entropy + 2-D edge term, diversity-aware greedy selection (ADeADA supplement, section
# B), SYNTHIA -> Cityscapes, DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol
# as adeada.py (supplement Table 7: 61.08 / 66.58 / 69.30 / 69.97 / 71.01 16-class mIoU at 1..5%
# of the target pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='redal', strategy_cfg=dict())]
