# RIPU (RA) on SynthShift: the paper's method with the structure of the real runs, scaled to the
# tiny benchmark. Selection at 25%, 30%, ..., 45% of the schedule (RIPU: 10k..18k of 40k), 2.2% of
# the target pixels in k=1 (3x3) regions, LCR 0.1, NL 1.0 (tau 0.05).
_base_ = ['../_base_/default_runtime.py', '../_base_/models/tiny_synthshift.py',
          '../_base_/datasets/synthshift.py', '../_base_/schedules/synthshift.py',
          '../_base_/active/ripu.py']
model = dict(source_losses=_base_.ripu_source_losses, target_losses=_base_.ripu_target_losses)
train_dataloader = dict(dataset=dict(target=dict(active_label_dir='active_labels')))
select_iters = [int(_base_.max_iters * f) for f in (0.25, 0.30, 0.35, 0.40, 0.45)]
custom_hooks = [dict(_base_.active_hook, select_iters=select_iters, batch_size=64)]
