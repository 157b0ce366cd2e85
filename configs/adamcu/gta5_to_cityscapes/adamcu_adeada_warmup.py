# ADA-MCU as a row of `strategy_curve` (ADeADA's strategy comparison), GTA5 -> Cityscapes: the
# full model of adamcu_v3plus.py on ADeADA's DeepLab-v3+ (256-channel decoder, as
# configs/adeada/gta5_to_cityscapes.py, so its warm-up checkpoint loads), started from
# the same AdaptSegNet warm-up as the region strategies (warmup_deeplabv3plus.py; the auxiliary
# head and the projection are not in that checkpoint and start untrained), buying the same 5%
# of the target pixels. It buys during training, not in rounds; it is evaluated where the
# region strategies are (after every 120k updates; sweeps report evaluation k as round k) with
# whatever it has bought by then (`tables.py --table rounds --rounds 5` compares at equal cost).
# - fine-tuning: ADeADA's (configs/_base_/schedules/adeada_finetune.py): 5 x 120k = 600k
#   updates, SGD lr 2.5e-4 (head x10; here also the auxiliary head and the projection:
#   everything but the backbone), momentum 0.9, weight decay 5e-4 (ADeADA's; the ADA-MCU paper
#   has 1e-4, l. 626-631). The lr is one poly 0.9 decay over the 600k (ADA-MCU's schedule,
#   l. 626-631; no rounds to restart at), floored at 1e-6 like ADeADA's; checkpoints every 120k.
# - everything else (method values, auxiliary FCNHead weight 0.4, raw source, RIPU's inputs,
#   commit every 500 iterations): adamcu_v3plus.py / configs/adamcu/gta5_to_cityscapes.py.
_base_ = ['./adamcu_v3plus.py']
warmup_config = 'configs/adeada/gta5_to_cityscapes/warmup_deeplabv3plus.py'
# D2ADA's v3+ decoder has 256 channels (configs/adeada/gta5_to_cityscapes.py).
model = dict(decode_head=dict(channels=256))
optimizer = dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(optimizer=optimizer)
finetune_iters = 5 * 120000
param_scheduler = [dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=0, end=finetune_iters,
                        by_epoch=False)]
train_cfg = dict(type='ExactResumeIterBasedTrainLoop', max_iters=finetune_iters,
                 val_interval=finetune_iters)
default_hooks = dict(checkpoint=dict(interval=120000))
custom_hooks = [dict(_base_.custom_hooks[0], eval_iters=[120000 * r for r in range(1, 5)])]
