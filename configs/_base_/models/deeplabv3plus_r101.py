# DeepLab-v3+ ResNet-101 as in RIPU: torchvision-style ResNet-101, output stride 8, frozen BN,
# ImageNet weights; depthwise-separable ASPP head (512 channels, dilations 1/6/12/18 plus image
# pooling) with the low-level (layer1, 256 -> 48) shortcut. mmseg's head keeps trainable BN in the
# head where RIPU's FrozenBN turns it into identity (its quirk 8); norm_cfg of the head below is
# the knob.
backbone_norm_cfg = dict(type='BN', requires_grad=False)
head_norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size_divisor=8)
model = dict(
    type='ADASegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='ResNet', depth=101, num_stages=4, out_indices=(0, 1, 2, 3),
                  strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), norm_cfg=backbone_norm_cfg,
                  norm_eval=True, style='pytorch', contract_dilation=False,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')),
    decode_head=dict(type='DepthwiseSeparableASPPHead', in_channels=2048, in_index=3, channels=512,
                     dilations=(1, 6, 12, 18), c1_in_channels=256, c1_channels=48,
                     dropout_ratio=0.1, num_classes=19, norm_cfg=head_norm_cfg,
                     align_corners=True,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                                      avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
