# SynthShift (the embedded benchmark): GTA5-style source, Cityscapes-style target, 64x128 images,
# generated on first use (data root: $ADASWEEP_DATA/synthshift or data/synthshift). Like RIPU, no
# augmentation. Batch 4 source + 4 target.
synthshift_root = None  # None = default_synthshift_root()
pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
test_pipeline = pipeline
source_train = dict(type='SynthShiftDataset', domain='source', data_root=synthshift_root,
                    pipeline=pipeline)
target_train = dict(type='SynthShiftDataset', domain='target', split='train',
                    data_root=synthshift_root, pipeline=pipeline)
target_val = dict(type='SynthShiftDataset', domain='target', split='val',
                  data_root=synthshift_root, pipeline=test_pipeline)
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='TwoDomainDataset', source=source_train, target=target_train))
val_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False), dataset=target_val)
test_dataloader = val_dataloader
val_evaluator = dict(type='ClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
