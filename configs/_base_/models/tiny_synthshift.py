# The tiny model for SynthShift (64x128 inputs), trained from scratch in minutes on a CPU:
# TinyConvNet (features at 1/2 and, with dilated context, at 1/4) and an FCN head on both
# (the 1/4 features upsampled and concatenated to the 1/2 ones, like a DeepLab-v3+ decoder). The
# DeepLab-v2 ResNet-101 of the real configs has output stride 8, which on 64x128 images blurs away
# the thin and small classes; this keeps them. BN is trained (no pretrained weights).
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
                         size_divisor=8)
model = dict(
    type='ADASegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='TinyConvNet', stem_channels=(16, 24), context_channels=32,
                  dilations=(1, 2, 4, 8), norm_cfg=norm_cfg, channels_last=True),
    decode_head=dict(type='FCNHead', in_channels=[24, 32], in_index=[0, 1],
                     input_transform='resize_concat', channels=32, num_convs=1, kernel_size=1,
                     concat_input=False, dropout_ratio=0.0, num_classes=19, norm_cfg=norm_cfg,
                     align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                                      avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
