# GTA5 -> Cityscapes: ENT, 3x3 regions at 2.2% (Table 4).
_base_ = ['./ripu_ra.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='ent', strategy_cfg=dict(unit='region', k=1))]
# Selection only, as the paper's baseline and ablation rows: no LCR, no NL.
model = dict(source_losses=[dict(type='LocalConsistencyLoss', loss_weight=0.0)],
             target_losses=[dict(type='NegativeLearningLoss', loss_weight=0.0)])
