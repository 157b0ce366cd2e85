# ADA-MCU's starting point on SynthShift (Algorithm 1 step 2, l. 680: "use Ds to train the
# segmentation network F" before adaptation): the tiny model with the auxiliary head trained on
# the source only (configs/source_only/synthshift.py plus the head), so the uncertainty's KL term
# compares two trained heads from the first iteration. Sweeps train it once and set load_from
# (sweeps/warmup.py); by hand: tools/train.py it, then --cfg-options load_from=...
# The paper first translates the source with CycleGAN (step 1); SynthShift has no translator, so
# this trains on the raw source (see README "ADA-MCU" for a pre-translated source folder).
_base_ = ['../../_base_/default_runtime.py', '../../_base_/models/tiny_synthshift.py',
          '../../_base_/datasets/synthshift.py', '../../_base_/schedules/synthshift.py',
          '../../_base_/models/tiny_synthshift_aux_head.py']
model = dict(auxiliary_head=_base_.tiny_aux_head)
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.source_train))
