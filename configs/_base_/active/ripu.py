# RIPU on top of a two-domain dataset config (the paper's defaults; its section 4 and the
# reference code): labels bought into an active-label store in the work_dir (ActiveRunner puts
# it there), five selection rounds at 10k..18k of 40k, RA with k=1 (3x3 regions, suppression
# radius 2k) and 2.2% of the target pixels, local consistency (alpha1 = 0.1, label-boundary
# pixels of the source) and negative learning (alpha2 = 1.0, tau = 0.05, all target pixels).
# A loss weight of 0 switches that loss off. A method config combines these with a model and a
# dataset config:
#   model = dict(source_losses=_base_.ripu_source_losses, target_losses=_base_.ripu_target_losses)
#   train_dataloader = dict(dataset=dict(target=dict(active_label_dir='active_labels')))
runner_type = 'ActiveRunner'
ripu_source_losses = [dict(type='LocalConsistencyLoss', loss_weight=0.1, region='boundary')]
ripu_target_losses = [dict(type='NegativeLearningLoss', threshold=0.05, loss_weight=1.0)]
# The hook scores target images with the target train pipeline minus LoadAnnotations (RIPU: the
# resized image; no augmentation), unless `pool_pipeline` is given.
active_hook = dict(type='ActiveSelectionHook', select_iters=[10000, 12000, 14000, 16000, 18000],
                   strategy=dict(type='RIPU-RA', k=1), budget=dict(ratio=0.022),
                   batch_size=2)
custom_hooks = [active_hook]
