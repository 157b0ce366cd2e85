# Short schedule for the tiny SynthShift model: the structure of the RIPU schedule (poly 0.9, an
# iteration-based loop, selection at fixed fractions of it in the method configs) with AdamW,
# which trains the small from-scratch model far better than SGD in the iterations a 2-core CPU
# affords (the real configs keep RIPU's SGD).
optimizer = dict(type='AdamW', lr=1e-2, weight_decay=1e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
max_iters = 600
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
                        by_epoch=False)]
train_cfg = dict(type='ExactResumeIterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
