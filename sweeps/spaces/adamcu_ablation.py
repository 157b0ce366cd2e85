"""ADA-MCU Tables V-VI: active learning without / with adaptive sampling, then the contrastive
units added level by level (image-level MCU_i, + cross-domain MCU_d), the two losses (p2p only,
c2c only, p2p + c2c = MCU_d) and the DCCM (full model), at 5% of the target pixels (SynthShift;
the paper's ablation uses 20% on GTA5 -> Cityscapes: `--set` the budget there).

"AL (w/o AS)" is the paper's degradation model (Sec. IV-F-1, l. 904-907): labels only from the high
group (the whole budget, pi_high decayed as in AS so both arms spend the same budget) and pseudo
labels on ALL low-uncertainty pixels; "AL (w AS)" samples the pseudo labels as many as one
labelled group per batch (Sec. III-B-2)."""
from sweeps.space import Space, Variant

NO_MCU = dict(contrastive=False, use_dccm=False)
IMAGE_LEVELS = ('intra_image', 'cross_image')

SPACE = Space(
    name='adamcu_ablation',
    description=__doc__,
    variants={
        'al_without_as': Variant('adamcu', dict(adaptive_sampling=False, pseudo_labels='all',
                                                **NO_MCU)),
        'al_with_as': Variant('adamcu', dict(NO_MCU)),
        'mcu_image': Variant('adamcu', dict(mcu_levels=IMAGE_LEVELS, use_dccm=False)),
        'mcu_image_domain': Variant('adamcu', dict(use_dccm=False)),
        'p2p': Variant('adamcu', dict(mcu_units=('pixel',), use_dccm=False)),
        'c2c': Variant('adamcu', dict(mcu_units=('centre',), use_dccm=False)),
        'full_model': Variant('adamcu'),
    },
    seeds=3, metric='miou', mode='max', search='grid', scheduler='fifo', configs='adamcu')
