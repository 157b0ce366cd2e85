# POINT-ENT G1 on SYNTHIA -> Cityscapes, 16 classes (paper 002, Sec. 3.1, Eq. (1)-(4); reference
# a), C1): ADVENT, the UDA model whose entropy selects the patches and whose argmax gives the
# pseudo labels; also the Table 2 row "AdvEnt" (paper: 40.8 mIoU16, 47.6 mIoU13).
# Everything as ../gta5_to_cityscapes/advent.py (network, losses, weights, schedule) except:
# - source 1280x760 (the paper; DADA's code), 16 classes for both heads and discriminators:
#   ../../_base_/datasets/advent_synthia_to_cityscapes.py;
# - the weights: ADVENT's repository has no SYNTHIA multi-level run (DADA turns multi-level
#   off); the paper uses multi-level on both benchmarks, so GTA5's 0.001 / 0.0002 are kept.
_base_ = ['../../_base_/default_runtime.py', '../../_base_/models/advent_deeplabv2_r101.py',
          '../../_base_/datasets/advent_synthia_to_cityscapes.py',
          '../../_base_/schedules/advent_120k.py']
num_classes = 16  # the dataset config's protocol
adv_weight = 0.001
aux_adv_weight = 0.0002
model = dict(type='AdversarialSegmentor', alignment='adversarial',
             discriminator_input='self_information', adv_weight=adv_weight,
             aux_adv_weight=aux_adv_weight, discriminator=dict(type='FCDiscriminator', ndf=64),
             decode_head=dict(num_classes=num_classes),
             auxiliary_head=dict(num_classes=num_classes))
# The G1 the sweep publishes (sweeps/warmup.py): 'best', the checkpoint of the best validation
# mIoU (a validation and checkpoint every 2000 iterations), as IntraDA picks G1 (reference b,
# "BEST_ID"; ADVENT's TEST.MODE='best'); 'last' for the 120k one. warmup.json next to the
# published checkpoint records its iteration.
warmup_publish = 'best'
