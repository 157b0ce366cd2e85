# Source only: the tiny model trained on SynthShift source labels, validated on the target val
# split. The lower bound of every active method on this benchmark.
_base_ = ['../_base_/default_runtime.py', '../_base_/models/tiny_synthshift.py',
          '../_base_/datasets/synthshift.py', '../_base_/schedules/synthshift.py']
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.source_train))
