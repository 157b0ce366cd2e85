# ADeADA UDA warm-up, SYNTHIA -> Cityscapes (16 classes), DeepLab-v3+ ResNet-101: AdaptSegNet-style
# output-space adversarial UDA (single level), the checkpoint the ADeADA active rounds start from.
# Where the values come from:
# - paper (ADeADA supplement, "UDA warm-up"): SGD, initial lr 2.5e-4, decay (poly) 0.9, CE plus
#   AdaptSegNet's adversarial loss, about 100k steps.
# - D2ADA warmup.py (reference notes 2.7): adv_weight 0.0005 (AdaptSegNet single-level: 0.001);
#   FCDiscriminator (ndf 64) on the full-resolution softmax, D trained with source 0 / target 1
#   (each BCE / 2); D Adam 2.5e-4 betas (0.9, 0.99); G SGD momentum 0.9, wd 5e-4, head x10 (RIPU's
#   optimiser, configs/_base_/schedules/ripu_40k.py); PolyLR 0.9 over 100k iterations times a
#   5000-iteration linear warm-up (pytorch_warmup.LinearWarmup) on both optimisers; batch 1 source
#   + 1 target; validation every 1000 iterations, the best checkpoint (val mIoU) kept.
#   README warm-up mIoU (16 classes): 43.04.
# - kept from the base configs (D2ADA differs): 16 output classes (D2ADA: 19, three never
#   labelled), output stride 8 (D2ADA: 16), RIPU's input sizes (source 1280x720, target
#   1280x640; D2ADA 1024x2048), no augmentation, 4 loader workers.
# Target labels: loaded by the target dataset, never used by AdversarialSegmentor.
_base_ = ['../../_base_/default_runtime.py', '../../_base_/models/deeplabv3plus_r101.py',
          '../../_base_/datasets/synthia_to_cityscapes.py', '../../_base_/schedules/adeada_warmup.py']
adv_weight = 0.0005
num_classes = 16  # the dataset config's protocol
# Head BatchNorm at batch 1 (issue 24): each domain is forwarded alone, one image, so the ASPP
# image-pooling BN would see one value per channel and training-mode BN refuses it. The fix is
# the reference's: D2ADA's freeze_bn (every BN in eval mode, affine frozen; reference notes 2.7),
# i.e. the head's BN with frozen statistics (FrozenStatsBN; the backbone's BN is frozen already).
# Not chosen: a batch of 2 (D2ADA trains at 1 + 1), GroupNorm (another network).
head_norm_cfg = dict(type='FrozenStatsBN', requires_grad=False)
# D2ADA's v3+ decoder (VainF DeepLabV3Plus) has 256 channels (ASPP 256, 3x3 conv 304 -> 256):
# its output is the 256-d region feature; RIPU's v3+ base uses 512.
model = dict(type='AdversarialSegmentor', adv_weight=adv_weight,
             discriminator=dict(type='FCDiscriminator', ndf=64),
             decode_head=dict(norm_cfg=head_norm_cfg, channels=256, num_classes=num_classes))
train_dataloader = dict(batch_size=1)
