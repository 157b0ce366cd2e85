# ADeADA (D2ADA) protocol on top of a two-domain dataset config: start from the UDA warm-up
# checkpoint (`load_from`; sweeps/run.py trains `warmup_config` once and sets it), then K = 5
# rounds: select 1% of the target pixels in regions ranked over the whole target pool
# (before the round's first update), fine-tune on source + labelled target with cross-entropy
# (no other losses), evaluate. Regions: SLIC superpixels, 40 per image at native resolution,
# compactness 10 (D2ADA: fast_slic with the same parameters; cached on disk). ADeADA: alpha 1,
# beta 1 (GTA5; SYNTHIA: alpha 0.5), paper indexing of the schedule, category-balanced density
# budgets (sigma 'log'), entropy for the rest. Deviations from D2ADA are named options with the
# paper's behaviour as default: strategy option indexing='reference' (its off-by-one),
# sigma='reference' (int(log10 KL), clamped to >= 1 instead of hanging), candidate_cap=200,
# budget_overshoot=True (keep the region crossing the budget). Features are extracted without
# augmentation (D2ADA: with training augmentation on, its quirk 3).
runner_type = 'ActiveRunner'
adeada_rounds = 5
warmup_config = None  # the warm-up config of the benchmark, relative to the repository root
region_hook = dict(type='RegionSelectionHook',
                   strategy=dict(type='ADeADA', alpha=1.0, beta=1.0), budget=dict(ratio=0.05),
                   budget_overshoot=False,
                   region=dict(type='superpixel', n_segments=40, compactness=10.0),
                   batch_size=2, select_before_update=True)
