# POINT-ENT on SynthShift (paper 002, Sec. 3.2-3.3): G1 (./synthshift/advent.py, trained once by
# the sweep as this config's warm-up) scores the target-train set once, before G2's first
# update: per image the K = 10 patches of highest mean entropy (Eq. 5) get N = 5 oracle points
# each, every other patch N points with G1's argmax (pseudo='points'). G2 is a new model from
# the same initialisation (ADVENT's network, seed and schedule; new discriminators), trained
# with source CE, target CE on these weak labels (avg_non_ignore: over the labelled pixels only;
# aux head 0.1) and the same two-level entropy-map adversarial loss. The grid on SynthShift's
# 64x128 images is 8x8 patches of 8x16 pixels (1024x512: 8x16 of 64x64).
_base_ = ['./synthshift/advent.py']
runner_type = 'ActiveRunner'
warmup_config = 'configs/point_ent/synthshift/advent.py'
warmup_scores = True  # G1 only scores the pool (the hook's score_checkpoint); G2 starts fresh
model = dict(target_supervision=True)
train_dataloader = dict(dataset=dict(target=dict(active_label_dir='active_labels')))
point_ent = dict(type='POINT-ENT', grid=(8, 8), k=10, points_per_patch=5, selection='entropy',
                 pseudo='points')
custom_hooks = [dict(type='ActiveSelectionHook', select_iters=[0], select_before_update=True,
                     budget=None, strategy=point_ent, batch_size=8)]
