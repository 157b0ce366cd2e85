# RIPU (RA) as a tenth row of the ADeADA budget curves (supplement Table 7), SYNTHIA ->
# Cityscapes (16 classes), DeepLab-v3+: RIPU's per-image selection (3x3 regions, k=1, impurity x
# uncertainty) at the same pixel cost as adeada.py (1% of the target pixels per round: budget
# ratio 0.05 over the same 5 select_iters, before the round's first update), from the same
# warm-up, with the same fine-tuning (cross-entropy only, no LCR/NL, so only the acquisition
# differs) and the same scoring inputs (the target images resized as in training, as RIPU scores
# them).
_base_ = ['./adeada.py']
custom_hooks = [dict(type='ActiveSelectionHook', select_iters=_base_.select_iters,
                     strategy='ripu_ra', strategy_cfg=dict(k=1), budget=dict(ratio=0.05),
                     pool_pipeline=_base_.pool_pipeline, batch_size=_base_.region_hook.batch_size,
                     select_before_update=True)]
