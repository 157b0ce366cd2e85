# ADeADA UDA warm-up on SynthShift: the tiny model trained with AdaptSegNet-style output-space
# adversarial UDA (source CE + adv_weight * BCE(D(softmax(target)), source)), the checkpoint every
# ADeADA active run starts from. Where the values come from:
# - paper (ADeADA supplement, "UDA warm-up"): CE + adversarial loss following AdaptSegNet.
# - D2ADA warmup.py (reference notes 2.7): adv_weight 0.0005 (AdaptSegNet single-level: 0.001),
#   FCDiscriminator (ndf 64) on the full-resolution softmax, D trained with source 0 / target 1
#   (each term / 2), D optimiser Adam 2.5e-4 betas (0.9, 0.99), poly 0.9 on both optimisers.
# - scaled to the tiny benchmark like configs/source_only/synthshift.py: the segmentor keeps the
#   SynthShift schedule (AdamW lr 1e-2, poly 0.9, 600 iterations; the real configs keep D2ADA's
#   SGD), batch 4 source + 4 target (D2ADA: 1 + 1), no linear LR warm-up (D2ADA: 5000 of 100k
#   iterations), validation at the end and the last checkpoint kept (D2ADA keeps the best).
# Target labels: the target dataset loads them, AdversarialSegmentor never uses them.
# Measured once (seed 0, full SynthShift, 600 iterations, 2 CPU cores, ~3 min): target val mIoU
# 21.3 against 18.8 for configs/source_only/synthshift.py (the discriminator wins easily: its
# losses fall to ~0.05 while the weighted loss_adv grows to ~0.004).
_base_ = ['../../_base_/default_runtime.py', '../../_base_/models/tiny_synthshift.py',
          '../../_base_/datasets/synthshift.py', '../../_base_/schedules/synthshift.py']
adv_weight = 0.0005
model = dict(type='AdversarialSegmentor', adv_weight=adv_weight,
             discriminator=dict(type='FCDiscriminator', ndf=64))
discriminator_optimizer = dict(type='Adam', lr=2.5e-4, betas=(0.9, 0.99))
optim_wrapper = dict(
    _delete_=True, constructor='AdversarialOptimWrapperConstructor',
    segmentor=dict(type='OptimWrapper', optimizer=_base_.optimizer, clip_grad=None),
    discriminator=dict(type='OptimWrapper', optimizer=discriminator_optimizer))
param_scheduler = dict(
    _delete_=True,
    segmentor=[dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=_base_.max_iters,
                    by_epoch=False)],
    discriminator=[dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=_base_.max_iters,
                        by_epoch=False)])
default_hooks = dict(checkpoint=dict(interval=_base_.max_iters, max_keep_ckpts=1, save_last=True))
