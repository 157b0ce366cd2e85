# ADeADA (D2ADA) fine-tuning, the real benchmarks: 5 rounds of `round_iters` updates each, the lr
# restarted at every round with a poly decay. Where the values come from (reference notes 2.7,
# D2ADA BaseTrainer.train_impl / utils/common.py):
# - SGD lr 2.5e-4 (`train_lr`), momentum 0.9, weight decay 5e-4; the head (D2ADA: `net.classifier`,
#   everything but the backbone) at 10x: paramwise custom_keys decode_head lr_mult 10, as RIPU's
#   schedule (schedules/ripu_40k.py). (`--finetune_lr` is parsed by D2ADA but unused.)
# - PolyLR power 0.9 over finetune_itrs = 120,000 iterations per round, stepped every iteration and
#   restarted each round: RoundPolyLR(period=round_iters). D2ADA floors the lr at 1e-6
#   (max(base * (1 - t/T)^0.9, 1e-6)); here eta_min=1e-6 in mmengine's form
#   (base - eta_min) * (1 - t/T)^0.9 + eta_min (differs by at most 1e-6).
# - 5 rounds (ADeADA: 1% of the target pixels per round, 5% in all): max_iters = 5 * round_iters;
#   selection happens before the first update of each round (configs/_base_/active/adeada.py).
# Documented deviations:
# - model selection: D2ADA validates on Cityscapes val every 1000 iterations once past 80k and
#   keeps the best-val checkpoint of each round (the next round starts from it, and the reported
#   number is that best val mIoU: model selection on the test set). We keep the last checkpoint
#   of each round (CheckpointHook every round_iters) and evaluate it; validation runs only at the
#   end (val_interval = max_iters), the sweeps evaluate after every round themselves.
# - optimiser state: D2ADA rebuilds its optimiser every round (fresh SGD momentum buffers); the
#   mmengine runner keeps one optimiser, so the momentum buffers carry over the round boundary
#   (only the lr restarts).
round_iters = 120000
max_iters = 5 * round_iters
optimizer = dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None,
                     paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0)}))
param_scheduler = [dict(type='RoundPolyLR', period=round_iters, eta_min=1e-6, power=0.9, begin=0,
                        end=max_iters, by_epoch=False)]
train_cfg = dict(type='ExactResumeIterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=round_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
