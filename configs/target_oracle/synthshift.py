# Target oracle ("fully supervised"): the tiny model trained on every SynthShift target-train
# label, validated on the target val split. The upper bound of every active method.
_base_ = ['../_base_/default_runtime.py', '../_base_/models/tiny_synthshift.py',
          '../_base_/datasets/synthshift.py', '../_base_/schedules/synthshift.py']
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.target_train))
