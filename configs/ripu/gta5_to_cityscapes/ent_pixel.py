# GTA5 -> Cityscapes: ENT, pixels at 40 px (Table 4).
_base_ = ['./ripu_pa.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='ent', strategy_cfg=dict(unit='pixel'))]
# Selection only, as the paper's baseline and ablation rows: no LCR, no NL.
model = dict(source_losses=[dict(type='LocalConsistencyLoss', loss_weight=0.0)],
             target_losses=[dict(type='NegativeLearningLoss', loss_weight=0.0)])
