# POINT-ENT on synthia -> cityscapes (paper 002, Sec. 3.2-3.3 and 4): G1 (./synthia_to_cityscapes/advent.py,
# the sweep's warm-up) scores the target-train images at the training size 1024x512 (the pool
# pipeline is the target pipeline without labels), cut into 8 x 16 patches of 64x64; per image
# the K = 10 patches of highest mean entropy (Eq. 5) get N = 5 oracle points each, every other
# patch N points with G1's argmax (pseudo='points'). Labels are 2048x1024, so the acquisition
# takes every second label pixel (stride=2), which the target pipeline's nearest resize keeps.
# G2: a new DeepLab-v2 from ImageNet, ADVENT's schedule and multi-level adversarial loss with new
# discriminators, plus target CE on the weak labels (over labelled pixels; aux 0.1) (reference:
# G2's iterations and weights are not stated; ADVENT / IntraDA's are used).
_base_ = ['./synthia_to_cityscapes/advent.py']
runner_type = 'ActiveRunner'
warmup_config = 'configs/point_ent/synthia_to_cityscapes/advent.py'
warmup_scores = True  # G1 only scores the pool (the hook's score_checkpoint); G2 starts fresh
model = dict(target_supervision=True)
train_dataloader = dict(dataset=dict(target=dict(active_label_dir='active_labels')))
pool_pipeline = [t for t in _base_.target_pipeline if t['type'] != 'LoadAnnotations']
point_ent = dict(type='POINT-ENT', grid=(8, 16), k=10, points_per_patch=5, selection='entropy',
                 pseudo='points', stride=2)
custom_hooks = [dict(type='ActiveSelectionHook', select_iters=[0], select_before_update=True,
                     budget=None, strategy=point_ent, batch_size=1, pool_pipeline=pool_pipeline)]
