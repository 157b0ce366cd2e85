# ADeADA on SynthShift: the paper's protocol (configs/_base_/active/adeada.py) on the tiny
# benchmark. Starts from the AdaptSegNet warm-up (adeada/synthshift/warmup.py: sweeps train it
# once and set load_from; by hand: tools/train.py it, then --cfg-options load_from=...).
# SynthShift-specific: 120 fine-tuning updates per round (schedules/adeada_synthshift.py); the
# density model sees a fixed random 500 of the 3000 source images (`source_images`; D2ADA
# uses all of them) to keep a trial near a minute on 2 CPU cores; 40 SLIC superpixels on the
# 64x128 images (about 200 pixels each).
_base_ = ['../_base_/default_runtime.py', '../_base_/models/tiny_synthshift.py',
          '../_base_/datasets/synthshift.py', '../_base_/schedules/adeada_synthshift.py',
          '../_base_/active/adeada.py']
warmup_config = 'configs/adeada/synthshift/warmup.py'
load_from = None
train_dataloader = dict(dataset=dict(target=dict(active_label_dir='active_labels')))
select_iters = [r * _base_.round_iters for r in range(_base_.adeada_rounds)]
custom_hooks = [dict(_base_.region_hook, select_iters=select_iters, batch_size=64,
                     source_images=500)]
