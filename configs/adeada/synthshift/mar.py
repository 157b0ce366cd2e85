# MAR: regions by smallest mean top-2 margin (ADeADA supplement, section B),
# same regions, budget and fine-tuning protocol as adeada.py.
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='mar', strategy_cfg=dict())]
