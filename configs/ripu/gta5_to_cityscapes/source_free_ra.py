# Source-free RIPU (appendix E), GTA5 -> Cityscapes: stage 2 of the reference (train_source_free.py):
# no source data, no LCR; labelled target pixels + NL with tau fixed at 0.05; selection BEFORE the
# update at 0, 2k, 4k, 6k, 8k (the first round uses the source-only model); RA 2.2% with k=9;
# poly over 62.5k iterations, stopped at 30k. Target/test size (1280, 640) (w x h) as in the reference.
# Initialise from the source-only stage: --cfg-options load_from=<source_only checkpoint>.
# Reference: 67.1 mIoU.
_base_ = ['../gta5_to_cityscapes.py']
model = dict(single_domain='target', source_losses=[])
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.target_train,
                                     active_label_dir='active_labels'))
train_cfg = dict(max_iters=30000, val_interval=30000)
custom_hooks = [dict(_base_.custom_hooks[0], select_iters=[0, 2000, 4000, 6000, 8000],
                     select_before_update=True, strategy=dict(type='RIPU-RA', k=9))]
