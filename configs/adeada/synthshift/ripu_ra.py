# RIPU (RA) as a tenth row of the ADeADA budget curves (supplement Tables 6-7): RIPU's per-image
# selection (3x3 regions, impurity x uncertainty) at the same pixel cost (1% of the target
# pixels per round, 5 rounds) and the same warm-up and fine-tuning protocol as adeada.py
# (cross-entropy only, no LCR/NL, so only the acquisition differs).
_base_ = ['./adeada.py']
custom_hooks = [dict(type='ActiveSelectionHook', select_iters=_base_.select_iters,
                     strategy='ripu_ra', strategy_cfg=dict(k=1), budget=dict(ratio=0.05),
                     batch_size=64, select_before_update=True)]
