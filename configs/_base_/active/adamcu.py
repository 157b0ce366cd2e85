# ADA-MCU (papers/004_1ecdab4497048225.txt; 'l. N' = its line N). No public code: where the
# paper is silent the choice is made here, after pixel-wise contrastive segmentation (Wang et al.
# ICCV'21), and named. A method config combines these with a model that has an auxiliary head:
#   model = dict(_base_.adamcu_model, auxiliary_head=..., contrastive_loss=..., ...)
#   train_dataloader = dict(dataset=dict(target=dict(active_label_dir='active_labels')))
#   custom_hooks = [_base_.adamcu_hook]
runner_type = 'ActiveRunner'
# Uncertainty (Eq. 1-3): normalised entropy + gamma * KL(main || aux), gamma 0.5 (l. 646).
# pi_high / pi_low are not given: pi_high starts at 1.0 ("a large value", l. 717: above the
# normalised entropy of almost every pixel) and decays by r = 0.9 once per epoch (pass over the
# target set) while the high half of the budget is bought (Sec. IV-C l. 717-720 and Algorithm 1's
# "epoch variable"; see mmseg_ext/active/strategies/adamcu.py); pi_low = 0.1 (normalised entropy 0.1: a softmax
# of ~0.95 on 19 classes) marks the confident pixels that become pseudo labels and centres.
adamcu_pi_high = 1.0
adamcu_pi_low = 0.1
adamcu_gamma = 0.5
# Multi-level contrastive loss (Eq. 9-11), weight 1 (L_total = L_seg + L_con, l. 580); lambda
# 0.1 (Wang et al.; the paper: "lambda > 0"); all three levels and both units; per-class caps on
# anchors and pool pixels per image bound the memory (see the loss docstring).
# What weight 1 means: L_con sums p2p + c2c over three levels and, per_domain=True (the paper
# computes the source and target losses separately, l. 641-652), over both anchor domains: up to
# 12 InfoNCE terms. At initialisation (benchmarks/bench_adamcu_loss_scale.py, DeepLab-v2 R101,
# random init, GTA5 config) it is 31.3 against a CE of 2.95 (1 + 1 full-size images; 48.4 with
# the paper's 2 + 2 at half size, the cross-image level added): each pixel term is ~7.8 per
# anchor domain. per_domain=False (one mean over the anchors of both domains, a deviation)
# halves it.
adamcu_contrastive_loss = dict(type='MultiLevelContrastiveLoss', temperature=0.1,
                               levels=('intra_image', 'cross_image', 'cross_domain'),
                               units=('pixel', 'centre'), max_anchors_per_class=32,
                               max_positives_per_class=128, max_negatives_per_class=128,
                               loss_weight=1.0, per_domain=True)
# DCCM momentum beta (Eq. 8): not given in the paper; 0.9 (a ~10-iteration average).
# Projection head: conv1x1-ReLU-conv1x1 to 128-d (Wang et al.'s pixel-contrast head width).
# Pseudo-label CE (Eq. 5), weight 1, on low-uncertainty target pixels sampled as many as one
# labelled group per batch (pseudo_label_sampling='balanced': Sec. III-B-2 l. 361-375, Algorithm
# 1 step 12); 'all' (every unlabelled low pixel, every iteration) is the "AL (w/o AS)" model of
# Sec. IV-F-1 (l. 904-907) and the behaviour before issue 21.
# Contrastive roles at the label resolution, embeddings sampled bilinearly at the chosen pixels
# (contrastive_resolution='label'); 'decoder' nearest-downsamples the labels to the decoder's
# map as before issue 21 (at output stride 8 only ~1/64 of sparse bought pixels survive).
adamcu_model = dict(type='ADAMCUSegmentor', pi_high=adamcu_pi_high, pi_low=adamcu_pi_low,
                    gamma=adamcu_gamma, dccm_momentum=0.9, use_dccm=True,
                    pseudo_label_weight=1.0, projection=dict(channels=128),
                    contrastive_loss=adamcu_contrastive_loss,
                    pseudo_label_sampling='balanced', contrastive_resolution='label')
# Adaptive sampling (Algorithm 1) buys target pixels during training: M_e = 5% of the target
# pixels (the MADA comparison; the tables use 1.7 / 3.4 / 6.8 / 16.8 %), half from the high
# group (half of its unbought pixels per iteration, footnote 3), then half uniformly from the
# medium group. Thresholds and gamma come from the model. Purchases reach the label store (and
# the data-loader workers) every `commit_interval` iterations; the buying iteration itself
# trains on them. adaptive_sampling=False is the paper's "AL (w/o AS)" ablation: the whole budget
# from the high group, pi_high decayed on the same schedule so it spends the same budget
# (fixed_pi_high=True keeps pi_high at 1.0, as before issue 21). decay_every='epoch' (the text);
# 1 = per iteration (Algorithm 1 read per iteration; does not spend large budgets).
# require_spent: a schedule that cannot hold the budget fails before training, a run that
# bought less than its budget fails at its end (after committing what it bought).
# The sampler's options are the 'ADA-MCU' strategy's; the evaluations of a sweep trial are the
# hook's `eval_iters` (none: only at the end).
adamcu_hook = dict(type='AdaptiveSamplingHook',
                   strategy=dict(type='ADA-MCU', decay=0.9, high_fraction=0.5, medium_fraction=0.5,
                                 adaptive_sampling=True, decay_every='epoch',
                                 fixed_pi_high=False),
                   budget=dict(ratio=0.05), interval=1, commit_interval=50, start_iter=0,
                   eval_iters=[], require_spent=True)
