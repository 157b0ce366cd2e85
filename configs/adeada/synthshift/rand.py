# RAND: regions in uniform random order (ADeADA supplement, section B),
# same regions, budget and fine-tuning protocol as adeada.py.
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='rand', strategy_cfg=dict())]
