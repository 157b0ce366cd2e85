"""Rows that several spaces share (not a space: the space loader skips this module): the
paper-table rows as Variants of a method's anchor config, configs/<method>/<benchmark>.py, each
setting a strategy (its registry name and options) and knobs.

`RIPU_ROWS` and `ADEADA_ROWS` are keyed by the names of the per-row config files they replace
(configs/ripu/<benchmark>/rand_pixel.py and the like: sweeps/moved.py points there). Sizes in
pixels are SynthShift's (64x128 images) in `knobs` and Cityscapes' (1024x2048 labels) in
`benchmarks`.
"""
from sweeps.space import Variant

CITYSCAPES = ('gta5_to_cityscapes', 'synthia_to_cityscapes')


def on_cityscapes(**knobs) -> dict:
    """Variant(benchmarks=...) for knobs of both Cityscapes targets."""
    return {benchmark: dict(knobs) for benchmark in CITYSCAPES}


def with_knobs(row: Variant, **knobs) -> Variant:
    """`row` with more knobs (applied in the knob table's order, so `k` after `strategy`)."""
    return Variant(row.config, {**row.knobs, **knobs}, row.benchmarks)


# RIPU's pixel budget: 40 px per target image (PA); on Cityscapes defined at the 1280x640
# training size and bought at label size (the reference's 1280x640 -> 2048x1024 scaling).
PA_BUDGET = dict(budget=dict(pixels=40))
PA_CITYSCAPES = dict(budget=dict(pixels=40, resolution=(640, 1280)))


def ripu_baseline(strategy: dict, pixels: bool = False) -> Variant:
    """A selection-only row on the RIPU anchor (no LCR, no NL, as the paper's baseline and
    ablation rows), at the RA budget (2.2%) or the PA budget (`pixels`)."""
    if not pixels:
        return Variant('ripu', dict(strategy=strategy, selection_only=True))
    return Variant('ripu', dict(strategy=strategy, selection_only=True, **PA_BUDGET),
                   benchmarks=on_cityscapes(**PA_CITYSCAPES))


RIPU_ROWS = {
    'ripu_ra': Variant('ripu'),
    # PA: k scales with the image: the paper's k=32 on 1024x2048 is k=2 on 64x128 (a 65x65
    # window cannot hold 40 picks on a 64x128 image)
    'ripu_pa': Variant('ripu', dict(strategy=dict(type='RIPU-PA', k=2), **PA_BUDGET),
                       benchmarks=on_cityscapes(strategy=dict(type='RIPU-PA', k=32),
                                                **PA_CITYSCAPES)),
    # Table 3 (a), (b): impurity only, uncertainty only
    'impurity': ripu_baseline(dict(type='RIPU-Impurity', k=1)),
    'uncertainty': ripu_baseline(dict(type='RIPU-Uncertainty', k=1)),
    # Table 4: RAND / ENT / SCONF in k-square regions (RA budget) and in pixels (PA budget)
    'rand_region': ripu_baseline(dict(type='RAND', unit='region', k=1)),
    'ent_region': ripu_baseline(dict(type='ENT', unit='region', k=1)),
    'sconf_region': ripu_baseline(dict(type='SCONF', unit='region', k=1)),
    'rand_pixel': ripu_baseline(dict(type='RAND', unit='pixel'), pixels=True),
    'ent_pixel': ripu_baseline(dict(type='ENT', unit='pixel'), pixels=True),
    'sconf_pixel': ripu_baseline(dict(type='SCONF', unit='pixel'), pixels=True),
    # Appendix C: Canny edges of the target image ranked by entropy, RA budget
    'canny_ent': ripu_baseline(dict(type='Canny-ENT', unit='region', k=1)),
    # Table 6: fixed rectangles (4x8 cells; 32x64 on Cityscapes) and superpixels (SLIC from
    # scikit-image; the paper used SEEDS, in opencv-contrib, not on PyPI) ranked by the RIPU score
    'ripu_rect': Variant(
        'ripu', dict(strategy=dict(type='RIPU-Rect', cell=(4, 8))),
        benchmarks=on_cityscapes(strategy=dict(type='RIPU-Rect', cell=(32, 64)))),
    'ripu_superpixel': Variant(
        'ripu', dict(strategy=dict(type='RIPU-Superpixel', n_segments=256, compactness=10)),
        benchmarks=on_cityscapes(strategy=dict(type='RIPU-Superpixel', n_segments=2048,
                                               compactness=10))),
    # Table 3 "fully supervised": every source and target label
    'target_oracle': Variant('fully_supervised'),
}

# ADeADA supplement section B: the region strategies on the ADeADA anchor (same regions, budget,
# warm-up and fine-tuning protocol), and RIPU (RA) as a tenth row at the same pixel cost: RIPU's
# per-image hook in place of the pool's, the same select_iters, batch and scoring inputs, its
# selection before the round's first update. RIPU buys ceil(P / 9) 3x3 squares per image and
# round (the reference rounds up): on 64x128 images a 1% round (81.9 px) would buy 10 squares =
# 1.1%, so the SynthShift ratio is 0.045 (73.7 px -> 9 squares = 81 px = 0.99% per round;
# ADeADA's 1% superpixel rounds buy 0.995%).
POOL_STRATEGIES = {'rand': 'Pool-RAND', 'mar': 'Pool-MAR', 'conf': 'Pool-CONF', 'ent': 'Pool-ENT',
                   'badge': 'BADGE', 'redal': 'ReDAL', 'aada': 'AADA', 'clue': 'CLUE'}
ADEADA_ROWS = {
    **{name: Variant('adeada', dict(strategy=dict(type=type_name)))
       for name, type_name in POOL_STRATEGIES.items()},
    'adeada': Variant('adeada'),
    'ripu_ra': Variant('adeada', dict(hook=dict(type='ActiveSelectionHook',
                                                strategy=dict(type='RIPU-RA', k=1),
                                                select_before_update=True)),
                       benchmarks=dict(synthshift=dict(budget_ratio=0.045))),
}


# POINT-ENT (paper 002): rows on the anchor configs/point_ent/<benchmark>.py (K = 10 entropy
# patches x N = 5 points, pseudo labels at the other patches' points) and G1 alone. "All"
# patches is the grid: 8x8 on SynthShift, 8x16 on Cityscapes.
POINT_ENT_ROWS = {
    'minent': Variant('point_ent/minent'),
    'advent': Variant('point_ent/advent'),
    'self_training': Variant('point_ent', {'strategy.k': 0}),
    'random': Variant('point_ent', {'strategy.selection': 'random'}),
    'active': Variant('point_ent'),
    'full': Variant('point_ent', {'strategy.k': 64, 'strategy.pseudo': 'none'},
                    benchmarks=on_cityscapes(**{'strategy.k': 128})),
}
# 40 oracle clicks per image, whatever picks them (sweeps/spaces/point_budget.py)
POINT_BUDGET_ROWS = {
    'point_ent_k8': Variant('point_ent', {'strategy.k': 8}),
    'random_points': Variant('point_ent', dict(strategy=dict(type='RAND', unit='pixel'),
                                               **PA_BUDGET),
                             benchmarks=on_cityscapes(**PA_CITYSCAPES)),
    'ripu_pa_40px': Variant('point_ent', dict(strategy=dict(type='RIPU-PA', k=2), **PA_BUDGET),
                            benchmarks=on_cityscapes(strategy=dict(type='RIPU-PA', k=32),
                                                     **PA_CITYSCAPES)),
    'point_ent_no_pseudo': Variant('point_ent', {'strategy.k': 8, 'strategy.pseudo': 'none'}),
}
