# SYNTHIA -> Cityscapes (16 classes) with ADVENT's / POINT-ENT's inputs (reference a) "Data",
# C11): the source SYNTHIA at 1280x760 (the paper; DADA's code), the target 1024x512 (bicubic
# images, nearest labels), no crop, flip or colour jitter, batch 1 source + 1 target;
# evaluation on Cityscapes val resized to 1024x512, the logits upsampled (bilinear, the heads'
# align_corners=True) to the full-resolution 2048x1024 labels (mmseg resizes predictions to
# ori_shape). Everything else: ./synthia_to_cityscapes.py.
_base_ = ['./synthia_to_cityscapes.py']
source_size = (1280, 760)
target_size = (1024, 512)
source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=source_size, keep_ratio=False, interpolation='bicubic'),
    dict(type='PackSegInputs'),
]
target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=target_size, keep_ratio=False, interpolation='bicubic'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=target_size, keep_ratio=False, interpolation='bicubic'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=target_size, keep_ratio=False, interpolation='bicubic')],
        [dict(type='RandomFlip', prob=0., direction='horizontal'),
         dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]]),
]
train_dataloader = dict(batch_size=1, dataset=dict(source=dict(pipeline=source_pipeline),
                                                   target=dict(pipeline=target_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
