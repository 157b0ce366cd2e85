# BADGE: k-means++ seeding on region-averaged gradient embeddings (ADeADA supplement, section B),
# same regions, budget and fine-tuning protocol as adeada.py.
_base_ = ['./adeada.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='badge', strategy_cfg=dict())]
