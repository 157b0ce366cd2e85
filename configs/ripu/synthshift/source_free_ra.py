# Source-free RIPU (appendix E; reference train_source_free.py) on SynthShift: no source data, no
# LCR; labelled target pixels + NL (tau 0.05, which the reference fixes regardless of its config);
# selection BEFORE the update from iteration 0 (the first round uses the source-only model), RA
# 2.2% with k=9 on Cityscapes, which is k=1 on 64x128 (a 19x19 region would be a third of the
# image height). Initialise from a source-only checkpoint: `--cfg-options load_from=...`.
_base_ = ['../synthshift.py']
model = dict(single_domain='target', source_losses=[])
train_dataloader = dict(dataset=dict(
    _delete_=True, type='SynthShiftDataset', domain='target', split='train', data_root=None,
    pipeline=_base_.pipeline, active_label_dir='active_labels'))
select_iters = [int(_base_.max_iters * f) for f in (0.0, 0.05, 0.10, 0.15, 0.20)]
custom_hooks = [dict(_base_.custom_hooks[0], select_iters=select_iters, select_before_update=True,
                     strategy=dict(type='RIPU-RA', k=1))]
