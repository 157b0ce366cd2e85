# GTA5 -> Cityscapes: Table 3 (a): region impurity only.
_base_ = ['./ripu_ra.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='impurity')]
# Selection only, as the paper's baseline and ablation rows: no LCR, no NL.
model = dict(source_losses=[dict(type='LocalConsistencyLoss', loss_weight=0.0)],
             target_losses=[dict(type='NegativeLearningLoss', loss_weight=0.0)])
