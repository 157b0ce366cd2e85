# ADeADA fine-tuning on SynthShift: 5 rounds of `round_iters` updates each, the optimiser's lr
# restarted at every round with a poly decay (D2ADA: SGD 2.5e-4 poly over 120k per round,
# restarted; here AdamW as in the other SynthShift schedules, at a fine-tuning lr below the
# 1e-2 the tiny model is trained from scratch with). Evaluated after every round (sweeps) and at
# the end.
round_iters = 120
max_iters = 5 * round_iters
optimizer = dict(type='AdamW', lr=2e-3, weight_decay=1e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [dict(type='RoundPolyLR', period=round_iters, eta_min=0.0, power=0.9, begin=0,
                        end=max_iters, by_epoch=False)]
train_cfg = dict(type='ExactResumeIterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=60, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=round_iters, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
