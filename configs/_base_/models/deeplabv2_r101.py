# DeepLab-v2 ResNet-101 as in RIPU: torchvision-style ResNet-101 (stride on the 3x3 conv, no deep
# stem), output stride 8 (layer3 dilation 2, layer4 dilation 4), frozen BN (batch statistics and
# affine parameters fixed; mmseg's BN has eps 1e-5 where the reference's FrozenBatchNorm has none),
# ImageNet weights; the DeepLab-v2 classifier (dilations 6, 12, 18, 24, summed).
# ImageNet weights: 'torchvision://resnet101' needs torchvision; point
# model.backbone.init_cfg.checkpoint at a local resnet101-*.pth otherwise.
norm_cfg = dict(type='BN', requires_grad=False)
data_preprocessor = dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size_divisor=8)
model = dict(
    type='ADASegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='ResNet', depth=101, num_stages=4, out_indices=(3, ),
                  strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), norm_cfg=norm_cfg,
                  norm_eval=True, style='pytorch', contract_dilation=False,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')),
    decode_head=dict(type='DeepLabV2Head', in_channels=2048, in_index=0,
                     dilations=(6, 12, 18, 24), num_classes=19, align_corners=True,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                                      avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
