# A tiny DeepLab-v2-style model for SynthShift (64x128 inputs): the first three stages of a
# ResNet-18 (deep stem) with 16 base channels, output stride 8 (the third stage dilated), and the
# DeepLab-v2 classifier with its dilations scaled down to the 8x16 feature map. Trains from scratch
# (no pretrained weights), so BN is trained, not frozen. Chosen for speed on a 2-core CPU: a fourth
# stage doubles the cost without raising the target mIoU in the schedule we can afford.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size_divisor=8)
model = dict(
    type='ADASegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=16, base_channels=16, num_stages=3,
                  out_indices=(2, ), strides=(1, 2, 1), dilations=(1, 1, 2),
                  norm_cfg=norm_cfg, norm_eval=False, style='pytorch', contract_dilation=True),
    decode_head=dict(type='DeepLabV2Head', in_channels=64, in_index=0, dilations=(1, 2, 3, 4),
                     num_classes=19, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                                      avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
