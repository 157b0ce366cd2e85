# ENT: regions by mean pixel entropy (ADeADA supplement, section B), SYNTHIA -> Cityscapes,
# DeepLab-v3+: same regions, budget, warm-up and fine-tuning protocol as adeada.py (supplement
# Table 7: 61.56 / 67.75 / 70.23 / 71.28 / 71.76 16-class mIoU at 1..5% of the target pixels).
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='ent', strategy_cfg=dict())]
