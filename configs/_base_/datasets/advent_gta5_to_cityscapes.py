# GTA5 -> Cityscapes with ADVENT's / POINT-ENT's inputs (reference a) "Data", C11): the
# source GTA5 at ADVENT's 1280x720 (the paper writes 1280x760 for both benchmarks,
# reference C11), the target 1024x512 (bicubic images, nearest labels), no crop,
# flip or colour jitter, batch 1 source + 1 target; evaluation on Cityscapes val resized to
# 1024x512, the logits upsampled (bilinear, the heads' align_corners=True) to the
# full-resolution 2048x1024 labels (mmseg resizes predictions to ori_shape). Everything else:
# ./gta5_to_cityscapes.py.
_base_ = ['./gta5_to_cityscapes.py']
source_size = (1280, 720)
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
