# RIPU schedule: SGD lr 2.5e-4 (head x10), momentum 0.9, wd 5e-4, poly 0.9 over 62.5k iterations,
# stopped at 40k (the LR never reaches 0); no validation during training in the reference, we
# validate at the end; checkpoints every 10k.
optimizer = dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None,
                     paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0)}))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=62500, by_epoch=False)]
train_cfg = dict(type='ExactResumeIterBasedTrainLoop', max_iters=40000, val_interval=40000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
