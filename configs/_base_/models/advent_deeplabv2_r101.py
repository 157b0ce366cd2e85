# ADVENT's multi-level DeepLab-v2 ResNet-101 (POINT-ENT's G1 and G2; reference a) "Multi-level
# network"): the project's DeepLab-v2 (./deeplabv2_r101.py: output stride 8, layer3 dilation 2,
# layer4 dilation 4, the summed dilated 3x3 classifier) with
# - the main classifier (conv5, ADVENT's layer6) on layer4 (2048 channels), seg weight 1.0;
# - the auxiliary classifier (conv4, ADVENT's layer5), the same DeepLab-v2 head on layer3
#   (1024 channels), seg weight 0.1 (LAMBDA_SEG_AUX); evaluation uses the main head only;
# - BN as ADVENT: affine parameters frozen (requires_grad False) but batch statistics used and
#   running statistics updated while training (`model.train()` in the reference), so
#   norm_eval=False (the RIPU base freezes them);
# - CE averaged over labelled pixels only (avg_non_ignore, ADVENT's cross_entropy_2d).
# Deviations, kept for one model across the project's methods (named flags, reference a)):
# - `backbone_style`: 'pytorch' (stride on the 3x3 conv) with torchvision's ImageNet weights and
#   their RGB mean/std preprocessing; ADVENT is 'caffe' (stride on the 1x1 conv) with
#   DeepLab_resnet_pretrained_imagenet.pth and BGR minus IMG_MEAN, no std: set
#   backbone_style='caffe', the checkpoint and the preprocessor together.
# - the stem max-pool has no ceil_mode (mmseg's ResNet; ADVENT ceil_mode=True): at 1024x512 the
#   stride-8 maps are 128x64 instead of 129x65.
_base_ = ['./deeplabv2_r101.py']
backbone_style = 'pytorch'
num_classes = 19
aux_head = dict(type='DeepLabV2Head', in_channels=1024, in_index=0, dilations=(6, 12, 18, 24),
                num_classes=num_classes, align_corners=True,
                loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.1,
                                 avg_non_ignore=True))
model = dict(
    backbone=dict(out_indices=(2, 3), style=backbone_style, norm_eval=False),
    decode_head=dict(in_index=1, num_classes=num_classes),
    auxiliary_head=aux_head)
