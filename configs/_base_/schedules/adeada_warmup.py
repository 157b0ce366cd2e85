# D2ADA's warm-up schedule (reference notes 2.7), for the real benchmarks: the segmentor with
# RIPU's optimiser (SGD 2.5e-4, momentum 0.9, wd 5e-4, head x10: ./ripu_40k.py), the
# discriminator with Adam 2.5e-4 betas (0.9, 0.99), each through its own OptimWrapper
# (AdversarialOptimWrapperConstructor); PolyLR 0.9 over 100k iterations times a 5000-iteration
# linear warm-up on both (pytorch_warmup.LinearWarmup in D2ADA: mmengine multiplies overlapping
# schedulers, so the lr is base * (t+1)/5000 * (1 - t/T)^0.9 until 5000); validation every 1000
# iterations, the best checkpoint (val mIoU) kept.
_base_ = ['./ripu_40k.py']
max_iters = 100000
warmup_iters = 5000
optim_wrapper = dict(
    _delete_=True, constructor='AdversarialOptimWrapperConstructor',
    segmentor=dict(type='OptimWrapper', optimizer=_base_.optimizer, clip_grad=None,
                   paramwise_cfg=_base_.optim_wrapper.paramwise_cfg),
    discriminator=dict(type='OptimWrapper',
                       optimizer=dict(type='Adam', lr=2.5e-4, betas=(0.9, 0.99))))
warmup_lr_schedule = [dict(type='LinearLR', start_factor=1.0 / warmup_iters, end_factor=1.0,
                           begin=0, end=warmup_iters, by_epoch=False),
                      dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
                           by_epoch=False)]
param_scheduler = dict(_delete_=True, segmentor=warmup_lr_schedule,
                       discriminator=warmup_lr_schedule)
train_cfg = dict(max_iters=max_iters, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1, save_best='mIoU',
                                     rule='greater'))
