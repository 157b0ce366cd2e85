# GTA5 -> Cityscapes with RIPU's inputs: source resized to 1280x720, target to 1280x640 (bicubic
# images, nearest labels; no crop, flip or colour jitter), batch 2 source + 2 target; evaluation on
# Cityscapes val resized to 1280x640 against full-resolution (2048x1024) labels.
# The reference always evaluates with horizontal-flip TTA: `python tools/test.py ... --tta`.
# Layouts and conversion: README "Data". The target labels here are Cityscapes' own; active
# configs (configs/_base_/active) replace them with the labels bought so far.
gta5_root = 'data/gta5'
cityscapes_root = 'data/cityscapes'
source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1280, 720), keep_ratio=False, interpolation='bicubic'),
    dict(type='PackSegInputs'),
]
target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1280, 640), keep_ratio=False, interpolation='bicubic'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1280, 640), keep_ratio=False, interpolation='bicubic'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(1280, 640), keep_ratio=False, interpolation='bicubic')],
        [dict(type='RandomFlip', prob=0., direction='horizontal'),
         dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]]),
]
source_train = dict(type='GTA5Dataset', data_root=gta5_root, pipeline=source_pipeline)
target_train = dict(type='CityscapesTrainIdDataset', data_root=cityscapes_root,
                    data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
                    pipeline=target_pipeline)
target_val = dict(type='CityscapesTrainIdDataset', data_root=cityscapes_root,
                  data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
                  pipeline=test_pipeline)
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='TwoDomainDataset', source=source_train, target=target_train))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False), dataset=target_val)
test_dataloader = val_dataloader
val_evaluator = dict(type='ClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
