# RIPU (PA), SYNTHIA -> Cityscapes (16 classes), DeepLab-v2: 40 pixels per target image, defined at the 1280x640 training
# resolution and bought at label resolution (the reference's 1280x640 -> 2048x1024 scaling: 21 picks
# per image per round), k=32 (65x65 purity window and suppression box). Reference: 66.1 mIoU.
_base_ = ['./ripu_ra.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='ripu_pa', strategy_cfg=dict(k=32),
                     budget=dict(pixels=40, resolution=(640, 1280)))]
