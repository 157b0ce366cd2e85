# SYNTHIA -> Cityscapes (16 classes): Table 3 (b): region uncertainty only.
_base_ = ['./ripu_ra.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='uncertainty')]
# Selection only, as the paper's baseline and ablation rows: no LCR, no NL.
model = dict(source_losses=[dict(type='LocalConsistencyLoss', loss_weight=0.0)],
             target_losses=[dict(type='NegativeLearningLoss', loss_weight=0.0)])
