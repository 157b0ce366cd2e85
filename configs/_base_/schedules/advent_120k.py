# ADVENT's schedule (reference a) "Optimisers", e) table), the same for G1 and G2 of POINT-ENT:
# - generator: SGD lr 2.5e-4, momentum 0.9, weight decay 5e-4 (ADVENT / IntraDA code; the papers
#   say 1e-4, reference C12), both classifiers (decode and auxiliary head) at 10x lr;
# - discriminators: Adam lr 1e-4, betas (0.9, 0.99), one wrapper for both (Adam is per
#   parameter: the same as ADVENT's two Adams);
# - poly 0.9 on both over 250k iterations (MAX_ITERS), stopped at 120k (EARLY_STOP): the lr at
#   the stop is ~1.39e-4;
# - validation and a checkpoint every 2000 iterations, the best (val mIoU) kept: ADVENT's
#   TEST.MODE='best' selects the checkpoint on Cityscapes val.
# MinEnt configs use `generator_optim_wrapper` and `generator_schedule` alone (no discriminator).
max_iters = 120000
poly_iters = 250000
val_interval = 2000
optimizer = dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4)
generator_optim_wrapper = dict(
    type='OptimWrapper', optimizer=optimizer, clip_grad=None,
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0),
                                    'auxiliary_head': dict(lr_mult=10.0)}))
discriminator_optimizer = dict(type='Adam', lr=1e-4, betas=(0.9, 0.99))
optim_wrapper = dict(constructor='AdversarialOptimWrapperConstructor',
                     segmentor=generator_optim_wrapper,
                     discriminator=dict(type='OptimWrapper', optimizer=discriminator_optimizer))
generator_schedule = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=poly_iters,
                           by_epoch=False)]
param_scheduler = dict(segmentor=generator_schedule, discriminator=generator_schedule)
train_cfg = dict(type='ExactResumeIterBasedTrainLoop', max_iters=max_iters,
                 val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=val_interval,
                    max_keep_ckpts=1, save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
