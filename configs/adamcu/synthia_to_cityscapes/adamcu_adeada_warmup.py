# ADA-MCU as a row of `strategy_curve` (ADeADA's strategy comparison), SYNTHIA -> Cityscapes (16
# classes): the full ADA-MCU model (configs/_base_/active/adamcu.py; papers/
# 004_1ecdab4497048225.txt, 'l. N' = its line N) on ADeADA's DeepLab-v3+ model (as
# configs/adeada/synthia_to_cityscapes.py: 256-channel decoder, 16-way head, so its
# warm-up checkpoint loads), started from the same AdaptSegNet warm-up as the region strategies
# (warmup_deeplabv3plus.py; the auxiliary head and the projection are not in that checkpoint and
# start untrained), buying the same 5% of the target pixels. It buys during training, not in
# rounds; it is evaluated where the region strategies are (after every 120k updates; sweeps
# report evaluation k as round k) with whatever it has bought by then (`tables.py --table
# rounds --rounds 5` compares at equal cost).
# There is no SYNTHIA v3+ ADA-MCU config of its own (the paper's v3+ run, Table IV, is GTA5
# only), so the model is built here, as configs/adamcu/gta5_to_cityscapes/adamcu_v3plus.py:
# - auxiliary head (the uncertainty's second output, l. 622-624): mmseg's usual auxiliary
#   FCNHead on layer3 (in_index 2, 1024 channels, 256 hidden), CE weight 0.4 (mmseg's usual;
#   not given in the paper). The v3+ head's dropout 0.1 sits before conv_seg, so in training the
#   contrastive features are taken after it (not given in the paper). Projection 128-d, default
#   contrastive caps.
# - classes: 16, the dataset config's protocol (the paper reports 13-class mIoU, l. 590-592).
# - fine-tuning: ADeADA's (configs/_base_/schedules/adeada_finetune.py): 5 x 120k = 600k
#   updates, SGD lr 2.5e-4 (head x10; here also the auxiliary head and the projection:
#   everything but the backbone), momentum 0.9, weight decay 5e-4 (ADeADA's; the ADA-MCU paper
#   has 1e-4, l. 626-631). The lr is one poly 0.9 decay over the 600k (ADA-MCU's schedule,
#   l. 626-631; no rounds to restart at), floored at 1e-6 like ADeADA's; checkpoints every 120k.
# - data: RIPU's inputs, 2 source + 2 target images a step (l. 637-638), the raw source (as the
#   warm-up and the other rows); purchases reach the label store every 500 iterations.
_base_ = ['../../_base_/default_runtime.py', '../../_base_/models/deeplabv3plus_r101.py',
          '../../_base_/datasets/synthia_to_cityscapes.py',
          '../../_base_/schedules/adeada_finetune.py', '../../_base_/active/adamcu.py']
warmup_config = 'configs/adeada/synthia_to_cityscapes/warmup_deeplabv3plus.py'
load_from = None
num_classes = 16  # the dataset config's protocol, main and auxiliary head
aux_head = dict(type='FCNHead', in_channels=1024, in_index=2, channels=256, num_convs=1,
                concat_input=False, dropout_ratio=0.1, num_classes=num_classes,
                norm_cfg=_base_.head_norm_cfg, align_corners=True,
                loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4,
                                 avg_non_ignore=True))
# D2ADA's v3+ decoder has 256 channels (configs/adeada/synthia_to_cityscapes.py).
model = dict(
    _base_.adamcu_model, projection=dict(channels=128),
    contrastive_loss=_base_.adamcu_contrastive_loss,
    decode_head=dict(num_classes=num_classes, channels=256), auxiliary_head=aux_head)
head_lr = dict(lr_mult=10.0)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'decode_head': head_lr,
                                                     'auxiliary_head': head_lr,
                                                     'projection': head_lr}))
param_scheduler = [dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=0,
                        end=_base_.max_iters, by_epoch=False)]
train_dataloader = dict(dataset=dict(target=dict(active_label_dir='active_labels')))
# Score the target image as the model trains on it (the resized image), no labels loaded.
pool_pipeline = [t for t in _base_.target_pipeline if t['type'] != 'LoadAnnotations']
custom_hooks = [dict(_base_.adamcu_hook, pool_pipeline=pool_pipeline, commit_interval=500,
                     eval_iters=[120000 * r for r in range(1, 5)])]
