# ADA-MCU schedule (papers/004_1ecdab4497048225.txt, l. 626-631): SGD lr 2.5e-4, momentum 0.9,
# weight decay 1e-4, poly 0.9 to 0; everything but the backbone (decode, auxiliary and
# projection heads) at 10x, the structure of RIPU's schedule (DeepLab-v2 / AdaptSegNet's
# classifier x10). Iterations are not given in the paper: 40k, RIPU's count (RIPU decays over
# 62.5k and stops at 40k; here the poly reaches 0 at 40k). Validation and checkpoints: RIPU's.
_base_ = ['./ripu_40k.py']
max_iters = 40000
optimizer = dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=1e-4)
head_lr = dict(lr_mult=10.0)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None,
                     paramwise_cfg=dict(custom_keys={'decode_head': head_lr,
                                                     'auxiliary_head': head_lr,
                                                     'projection': head_lr}))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
                        by_epoch=False)]
train_cfg = dict(type='ExactResumeIterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
