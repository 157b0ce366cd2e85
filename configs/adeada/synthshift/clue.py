# CLUE: uncertainty-weighted k-means of region features (ADeADA supplement, section B),
# same regions, budget and fine-tuning protocol as adeada.py.
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='clue', strategy_cfg=dict())]
