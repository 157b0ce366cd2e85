# ADeADA (D2ADA), SYNTHIA -> Cityscapes (16 classes), DeepLab-v3+ ResNet-101 (the backbone of the
# paper's supplement Tables 7 and 8: 62.47 / 69.35 / 71.01 / 72.40 / 72.74 16-class mIoU at 1..5%
# of the target pixels). Where the values come from:
# - protocol (configs/_base_/active/adeada.py): 5 rounds of 1% of the target pixels (budget ratio
#   0.05 over 5 select_iters), regions = 40 SLIC superpixels per image at native resolution,
#   selection before the first update of each round, cross-entropy only (reference notes 2.6).
# - alpha 0.5, beta 1: the supplement, "Adaptive Budget Allocation" (SYNTHIA -> Cityscapes).
# - classes: the dataset config's 16-class protocol (RIPU's; SynthiaDataset(num_classes=16),
#   Cityscapes16Dataset), so the model has a 16-way head (num_classes=16, as the warm-up).
#   D2ADA trains a 19-way head and drops {9 terrain, 14 truck, 16 train} from the density
#   selection (reference notes 2.3, `ignore_classes`); with a 16-way head those classes do not
#   exist (never predicted, never a region's class), so ignore_classes is empty. (The 19-class
#   ids 9, 14, 16 would mean sky, motorcycle and nothing here.)
# - fine-tuning (schedules/adeada_finetune.py): SGD 2.5e-4 (head x10), poly 0.9 over 120k
#   iterations per round, restarted every round (reference notes 2.7); select_iters = the first
#   iteration of each round, 0, 120k, ..., 480k.
# - start: the AdaptSegNet warm-up `warmup_config` (README warm-up mIoU of D2ADA: 43.04); sweeps
#   train it once and set load_from; by hand: tools/train.py it, then
#   --cfg-options load_from=<its checkpoint>.
# - model, data (configs/_base_/models/deeplabv3plus_r101.py, datasets/synthia_to_cityscapes.py):
#   RIPU's inputs and batch (source 1280x720 + target 1280x640, 2 + 2 images a step, no
#   augmentation), output stride 8. Documented deviation: D2ADA fine-tunes at 1024x2048 full
#   resolution with batch 1 drawn from ConcatDataset(all source images, target images with a
#   labelled region) (ColorJitter 0.5 + flip), output stride 16; our loader keeps the two-domain
#   batch (every step sees source and labelled target), so the source/target mix differs.
#   mmseg's v3+ head keeps trainable BN (D2ADA freezes every BN; the warm-up is built the same way).
# - selection inputs: the target (and source) images are scored resized as in training
#   (`pool_pipeline`, `source_pipeline`: the train pipelines minus labels), logits and features
#   resized back to the label size where the superpixels live. D2ADA scores at 1024x2048 (with
#   training augmentation on for the features, its quirk 3).
_base_ = ['../_base_/default_runtime.py', '../_base_/models/deeplabv3plus_r101.py',
          '../_base_/datasets/synthia_to_cityscapes.py',
          '../_base_/schedules/adeada_finetune.py', '../_base_/active/adeada.py']
warmup_config = 'configs/adeada/synthia_to_cityscapes/warmup_deeplabv3plus.py'
load_from = None
num_classes = 16  # the dataset config's protocol
# D2ADA's v3+ decoder (VainF DeepLabV3Plus) has 256 channels (ASPP 256, 3x3 conv 304 -> 256):
# its output is the 256-d region feature; RIPU's v3+ base uses 512.
model = dict(decode_head=dict(num_classes=num_classes, channels=256))
train_dataloader = dict(dataset=dict(target=dict(active_label_dir='active_labels')))
pool_pipeline = [t for t in _base_.target_pipeline if t['type'] != 'LoadAnnotations']
score_source_pipeline = [t for t in _base_.source_pipeline if t['type'] != 'LoadAnnotations']
select_iters = [r * _base_.round_iters for r in range(_base_.adeada_rounds)]
custom_hooks = [dict(_base_.region_hook, select_iters=select_iters,
                     strategy=dict(type='ADeADA', alpha=0.5, beta=1.0, ignore_classes=()),
                     pool_pipeline=pool_pipeline, source_pipeline=score_source_pipeline)]
