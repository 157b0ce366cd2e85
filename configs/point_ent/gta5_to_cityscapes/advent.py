# POINT-ENT G1 on GTA5 -> Cityscapes (paper 002, Sec. 3.1, Eq. (1)-(4); reference a), C1): ADVENT,
# the UDA model whose entropy selects the patches and whose argmax gives the pseudo labels; also
# the Table 1 row "AdvEnt" (paper: 43.8 mIoU19).
# - multi-level DeepLab-v2 ResNet-101, auxiliary classifier on layer3, ImageNet init:
#   ../../_base_/models/advent_deeplabv2_r101.py (its deviations: backbone_style, no ceil_mode);
# - source CE, main 1.0 + aux 0.1; per level a fully-convolutional discriminator (5 convs 4x4
#   stride 2, 64-128-256-512-1, LeakyReLU 0.2, no sigmoid) on the weighted self-information
#   maps -p*log2(p + 1e-30)/log2(C) of all C channels of the logits upsampled to the input
#   size; BCE with logits, source 0 / target 1, each D loss half source, half target;
#   adversarial weights main 0.001, aux 0.0002 (LAMBDA_ADV_MAIN / LAMBDA_ADV_AUX);
# - source 1280x720 (ADVENT's code; the paper writes 1280x760, reference C11), target 1024x512,
#   no augmentation, batch 1 + 1; evaluation at 1024x512 upsampled to 2048x1024:
#   ../../_base_/datasets/advent_gta5_to_cityscapes.py;
# - G SGD 2.5e-4 (heads x10, wd 5e-4), D Adam 1e-4 (0.9, 0.99), poly 0.9 over 250k stopped at
#   120k, best val checkpoint: ../../_base_/schedules/advent_120k.py.
_base_ = ['../../_base_/default_runtime.py', '../../_base_/models/advent_deeplabv2_r101.py',
          '../../_base_/datasets/advent_gta5_to_cityscapes.py',
          '../../_base_/schedules/advent_120k.py']
adv_weight = 0.001
aux_adv_weight = 0.0002
model = dict(type='AdversarialSegmentor', alignment='adversarial',
             discriminator_input='self_information', adv_weight=adv_weight,
             aux_adv_weight=aux_adv_weight, discriminator=dict(type='FCDiscriminator', ndf=64))
# The G1 the sweep publishes (sweeps/warmup.py): 'best', the checkpoint of the best validation
# mIoU (a validation and checkpoint every 2000 iterations), as IntraDA picks G1 (reference b,
# "BEST_ID"; ADVENT's TEST.MODE='best'); 'last' for the 120k one. warmup.json next to the
# published checkpoint records its iteration.
warmup_publish = 'best'
