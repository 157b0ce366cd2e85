# The auxiliary head ADA-MCU's uncertainty needs on the tiny SynthShift model. DeepLab-v2's
# auxiliary classifier sits on conv4 (papers/004, l. 622-624); the tiny model's earlier,
# 1/2-resolution 24-channel features play that role. Loss weight 0.4 (mmseg's usual auxiliary
# weight; the paper gives none). Use: model = dict(auxiliary_head=_base_.tiny_aux_head).
tiny_aux_head = dict(type='FCNHead', in_channels=24, in_index=0, channels=16, num_convs=1,
                     kernel_size=1, concat_input=False, dropout_ratio=0.0, num_classes=19,
                     norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4,
                                      avg_non_ignore=True))
