# ReDAL: entropy + 2-D edge term, diversity-aware greedy selection (ADeADA supplement, section B),
# same regions, budget and fine-tuning protocol as adeada.py.
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='redal', strategy_cfg=dict())]
