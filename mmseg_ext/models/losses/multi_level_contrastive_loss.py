"""ADA-MCU multi-level contrastive loss (pixel-to-pixel and centre-to-centre InfoNCE over
intra-image, cross-image and cross-domain contrastive units, weighted by the DCCM). There
is no public code; the paper text is the reference (``l. N`` = line N of
papers/004_1ecdab4497048225.txt). The DCCM W itself (Eq. 7-8) is produced by
``mmseg_ext.ops.category_correlation.CategoryCorrelation``; this loss only consumes it.

``MultiLevelContrastiveLoss(temperature=0.1, levels=('intra_image', 'cross_image',
'cross_domain'), units=('pixel', 'centre'), max_anchors_per_class=32,
max_positives_per_class=128, max_negatives_per_class=128, use_dccm=True, normalize=True,
ignore_index=255, loss_weight=1.0, loss_name='loss_mcu', per_domain=True)``

``loss(src_embed, src_label, src_pred, tgt_embed, tgt_label, tgt_pred, tgt_high_uncertainty,
src_centre_mask, tgt_centre_mask, dccm_weights=None, generator=None, align_corners=False)``
    *_embed (N, D, h, w) floating projected features (D the same for both domains, h, w
    may differ between the domains); *_label (N, H, W) integer ids, ignore_index =
    unknown; *_pred (N, H, W) argmax predictions; tgt_high_uncertainty (N, H, W) bool = the
    high-uncertainty group G_h; *_centre_mask (N, H, W) bool = the low-uncertainty pixels
    G_l that form the category centres; dccm_weights (C, C) or None. (H, W) is either the
    embeddings' (h, w) (every role at the embedding resolution) or a label resolution of
    its own: then anchors and pool pixels are chosen among the label-resolution pixels and
    their embeddings are sampled bilinearly at those pixels' centres (F.grid_sample,
    padding 'border', ``align_corners`` as the model's resize: what bilinear upsampling of
    the map would give there, without the upsampled map), so sparse labels all stay
    candidates (issue 21); the centres are formed at (h, w) from the nearest-downsampled
    label, prediction and centre mask. Returns loss_weight * L_con, a scalar with a
    graph (0 with a graph when nothing contributes). After each call ``self.last_stats``
    holds Python ints: num_anchors (= num_src_anchors + num_tgt_anchors, after the caps),
    num_pool (pool pixels kept; num_tgt_pool of them from the target), num_centre_anchors (class-wise anchors of the image-level
    units) and num_domain_centre_anchors (those of the cross-domain unit). float16 /
    bfloat16 / float32 embeddings are computed in float32, float64 stays float64.

The definitions, the equations and the choices made where the paper is silent are in the
class docstring. The work is split by job: ``contrastive_roles`` (anchors, pool pixels and
centre sums of one domain), ``contrastive_info_nce`` (the Eq. 9-11 terms),
``contrastive_checks`` (argument checks); this module holds the options and puts them together.
"""
import math
import numbers

import torch
import torch.nn as nn
from mmseg.registry import MODELS

from ...ops.checks import check_int
from .contrastive_checks import check_choice, check_dccm, check_domain, num_classes
from .contrastive_info_nce import LEVELS, centre_loss, pixel_loss
from .contrastive_roles import domain_roles

UNITS = ('pixel', 'centre')


@MODELS.register_module()
class MultiLevelContrastiveLoss(nn.Module):
    """ADA-MCU multi-level contrastive loss (Eq. 9-11 with DCCM weights, Eq. 7-8); the
    arguments and shapes are in the module docstring.

    Pixel roles (all at the given resolution):
        anchors (l. 385-395, footnote l. 442-443): source pixels with label != ignore and
            pred != label; target pixels with tgt_high_uncertainty, label != ignore and
            pred != label (a high-uncertainty pixel is not necessarily wrong, l. 442-443).
        pool (positives / negatives, l. 396-400): every labelled pixel (label != ignore) of
            both domains - source ground truth, the target's actively annotated G_h / G_m and
            adaptive-sampling pseudo labels on G_l, whatever the caller put into tgt_label
            (the paper draws p2p samples from all three groups, l. 1511-1514). A pool pixel
            of the anchor's class is a positive, of another class a negative; an anchor is
            never its own positive.
        centre pixels (l. 349-360): *_centre_mask pixels, class = pred (the paper uses the
            predictions of G_l as their pseudo labels, l. 447-458); a centre pixel whose label
            is known and differs from pred is dropped (confidently wrong, not representative).

    Contrastive units (l. 396-428): anchors of image n (domain d) against a pool of
        'intra_image':  image n itself;
        'cross_image':  the other images of domain d in the batch (the paper takes "another
                        random image in the same domain", l. 413-415; with its 2 images per
                        domain, l. 637-638, that is the same thing, with more it is their union);
        'cross_domain': the images of the other domain (l. 422-425); both directions are used
                        (source anchors vs target pool and target anchors vs source pool,
                        l. 641-652).

    Pixel-to-pixel loss, Eq. 9-10 (l. 524-555), for an anchor p of class u with sampled
        positives P_p and negatives N_p of the unit (classes v != u):
            L_p = 1/|P_p| sum_{p+ in P_p} -log H(p, p+),
            H(p, p+) = exp(s(p, p+)) / (exp(s(p, p+)) + sum_{p- in N_p} exp(s(p, p-))),
            s(p, q) = (1 + W[u, class(q)]) * (p . q) / lambda    (W's diagonal is not used),
        computed as softplus(logsumexp_{N_p} s - s(p, p+)) from one (anchors x pool) matmul
        for all levels: exp(s) of the negatives is summed per pool image with a one-hot
        matmul, and a level is a set of pool images per anchor image, so the per-level
        logsumexp is an (anchors x images) reduction (no dense pass per level). The positive is unit
        weight: Eq. 7 counts pixels "misclassified from c_u to c_v" (l. 487-491), which is 0
        for v = u, while CategoryCorrelation keeps the recall on W's diagonal - it is ignored
        here (only W * (1 - eye) is used). Anchors with no positive or no negative in the unit
        do not contribute. L_p2p(level) = sum over the two anchor domains of the mean of L_p
        over that domain's anchors (per_domain=True, the default: the paper computes the
        source and the target losses separately, l. 641-652; averaging per domain keeps the
        few target anchors from being drowned by the many source ones). per_domain=False: one
        mean over the anchors of both domains, so a level counts once (about half of L_con at
        initialisation: benchmarks/bench_adamcu_loss_scale.py). With both units, all three
        levels and per_domain=True L_con sums up to 12 InfoNCE terms.
    Centre-to-centre loss, Eq. 11 (l. 556-575), "same form as Eq. 10 but class-wise anchors":
        centres = L2-normalised mean of the normalised centre-pixel embeddings per class,
        per image for the image-level units and per domain for the cross-domain unit ("the
        aggregation of those pixels ... for each domain", l. 358-360). A class-wise anchor is
        the centre of a class u that has at least one anchor pixel in that image / domain; its
        positives are the centres of u in the pool unit, its negatives the centres of v != u
        there, with the same s, DCCM weight and per-domain averaging as above. At the
        intra-image level the positive is the anchor centre itself (s = 1 / lambda, no
        gradient), so that term only pushes the image's centres of other classes away.
    L_con = loss_weight * sum over the enabled levels and units of L_p2p + L_c2c (l. 580-585).

    DCCM (Eq. 7-8, l. 477-523): R[u, v] = M^(u,v) / M^u, W <- beta W + (1 - beta) R. The paper
        writes w(u,v) p . p- / lambda inside the exponent (Eq. 10, l. 540-549); taken
        literally, the all-zero W it starts from would zero every logit (a constant loss),
        and it says DCCM should "increase the weight between the categories which are more
        likely to be misclassified" (l. 578-579). So the logit of a negative of class v is
        scaled by (1 + W[u, v]): W = 0 is plain InfoNCE and use_dccm=False is exactly
        dccm_weights = zeros (also what happens when dccm_weights is None).

    Open in the paper, chosen here after pixel-wise contrastive segmentation (Wang et al.,
    ICCV'21 "Exploring cross-image pixel contrast", cited as [18] at l. 198-204; the MCUs are
    "partially inspired by the pixel-wise contrastive learning for semantic segmentation [25]",
    l. 379-381, l. 387):
        normalisation: embeddings are L2-normalised (normalize=True), so p . q is a cosine;
            the projection head is the caller's (Wang et al.: conv1x1-BN-ReLU-conv1x1).
        temperature lambda (l. 1510-1511: only "lambda > 0"): 0.1 as Wang et al. (their extra
            temperature / base_temperature factor is a constant, left to loss_weight).
        anchors: at most max_anchors_per_class per (image, class), drawn uniformly at random
            (Wang et al. cap the anchor views per class); positives / negatives: at most
            max_positives_per_class / max_negatives_per_class pool pixels per (image, class),
            one random draw shared by both roles (a pixel kept as a positive for its class is
            also a negative for the others when within both caps). Memory is bounded by
            (N * C * max_anchors) x (N * C * max(max_pos, max_neg)) logits. Defaults 32 /
            128 / 128: at DeepLab-v2 scale (2 + 2 images, 19 classes) at most 2432 x 9728
            logits (~95 MB float32 per dense tensor). Cost grows with their product; the
            SynthShift configs use 16 / 64 / 64 (benchmarks/bench_adamcu_step.py).
        sampling: one random key per candidate (torch.rand on the generator, default the
            global RNG), sorted per group - no loop over anchors or pixels.
        the number of classes C is dccm_weights.shape[0] when given, otherwise 1 + the largest
            id in the labels / predictions of the call.
    """

    def __init__(self, temperature=0.1, levels=LEVELS, units=UNITS,
                 max_anchors_per_class=32, max_positives_per_class=128,
                 max_negatives_per_class=128, use_dccm=True, normalize=True,
                 ignore_index=255, loss_weight=1.0, loss_name='loss_mcu', per_domain=True):
        super().__init__()
        if not (isinstance(temperature, numbers.Real) and not isinstance(temperature, bool)
                and math.isfinite(temperature) and temperature > 0):
            raise ValueError(f'temperature must be a finite number > 0, got {temperature!r}')
        self.levels = check_choice('levels', levels, LEVELS)
        self.units = check_choice('units', units, UNITS)
        check_int('max_anchors_per_class', max_anchors_per_class, 1)
        check_int('max_positives_per_class', max_positives_per_class, 1)
        check_int('max_negatives_per_class', max_negatives_per_class, 1)
        if not (isinstance(loss_weight, numbers.Real) and loss_weight >= 0):
            raise ValueError(f'loss_weight must be >= 0, got {loss_weight!r}')
        if not (isinstance(loss_name, str) and loss_name.startswith('loss_')):
            raise ValueError(f"loss_name must be a str starting with 'loss_', got {loss_name!r}")
        self.temperature = float(temperature)
        self.max_anchors_per_class = int(max_anchors_per_class)
        self.max_positives_per_class = int(max_positives_per_class)
        self.max_negatives_per_class = int(max_negatives_per_class)
        self.use_dccm = bool(use_dccm)
        if not isinstance(per_domain, bool):
            raise ValueError(f'per_domain must be a bool, got {per_domain!r}')
        self.per_domain = per_domain
        self.normalize = bool(normalize)
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self._loss_name = loss_name
        self.last_stats = {}

    @property
    def loss_name(self):
        return self._loss_name

    def extra_repr(self):
        return (f'temperature={self.temperature}, levels={self.levels}, units={self.units}, '
                f'max_anchors_per_class={self.max_anchors_per_class}, '
                f'max_positives_per_class={self.max_positives_per_class}, '
                f'max_negatives_per_class={self.max_negatives_per_class}, '
                f'use_dccm={self.use_dccm}, per_domain={self.per_domain}')

    def forward(self, src_embed, src_label, src_pred, tgt_embed, tgt_label, tgt_pred,
                tgt_high_uncertainty, src_centre_mask, tgt_centre_mask, dccm_weights=None,
                generator=None, align_corners=False):
        check_domain('src', src_embed, src_label, src_pred,
                     [('src_centre_mask', src_centre_mask)])
        check_domain('tgt', tgt_embed, tgt_label, tgt_pred,
                     [('tgt_high_uncertainty', tgt_high_uncertainty),
                      ('tgt_centre_mask', tgt_centre_mask)])
        if src_embed.shape[1] != tgt_embed.shape[1]:
            raise ValueError(f'src_embed and tgt_embed must have the same channels D, '
                             f'got {src_embed.shape[1]} and {tgt_embed.shape[1]}')
        check_dccm(dccm_weights)
        C = num_classes((src_label, tgt_label), (src_pred, tgt_pred), dccm_weights,
                        self.ignore_index)
        dev = src_embed.device
        # float16 / bfloat16 / float32 are computed in float32, float64 stays float64
        dtype = torch.promote_types(
            torch.promote_types(src_embed.dtype, tgt_embed.dtype), torch.float32)
        W = None
        if self.use_dccm and dccm_weights is not None:
            W = dccm_weights.to(device=dev, dtype=dtype)
            # positives are unit weight (Eq. 7: M^(u,u) = 0), the diagonal is dropped
            W = W * (1 - torch.eye(C, device=dev, dtype=dtype))

        ig = self.ignore_index
        roles = dict(units=self.units, max_anchors=self.max_anchors_per_class,
                     max_pool=max(self.max_positives_per_class, self.max_negatives_per_class),
                     ignore_index=ig, normalize=self.normalize, dtype=dtype,
                     align_corners=bool(align_corners))
        src_anchor = (src_label != ig) & (src_pred != src_label)
        tgt_anchor = (tgt_label != ig) & tgt_high_uncertainty & (tgt_pred != tgt_label)
        S = domain_roles(src_embed, src_label, src_pred, src_anchor, src_centre_mask, C,
                         generator, **roles)
        T = domain_roles(tgt_embed, tgt_label, tgt_pred, tgt_anchor, tgt_centre_mask, C,
                         generator, **roles)
        Ns = src_embed.shape[0]
        img_dom = torch.cat([torch.zeros(Ns, dtype=torch.long, device=dev),
                             torch.ones(tgt_embed.shape[0], dtype=torch.long, device=dev)])

        # zero with a graph to the embeddings when nothing contributes
        total = (src_embed.sum() + tgt_embed.sum()).to(dtype) * 0
        a_n = torch.cat([S['anchor'][0], T['anchor'][0] + Ns])
        a_p = torch.cat([S['anchor'][1], T['anchor'][1]])
        a_cls = torch.cat([S['anchor'][2], T['anchor'][2]])
        stats = dict(num_src_anchors=len(S['anchor'][0]), num_tgt_anchors=len(T['anchor'][0]),
                     num_anchors=len(a_n), num_pool=0, num_centre_anchors=0,
                     num_domain_centre_anchors=0)
        infonce = dict(temperature=self.temperature, per_domain=self.per_domain)

        if 'pixel' in self.units:
            stats['num_pool'] = len(S['pool'][0]) + len(T['pool'][0])
            stats['num_tgt_pool'] = len(T['pool'][0])
            if len(a_n) and stats['num_pool']:
                pool = [torch.cat([S['pool'][i], T['pool'][i] + (Ns if i == 0 else 0)])
                        for i in range(5)]
                anchors = (a_n, a_p, a_cls, torch.cat([S['anchor'][3], T['anchor'][3]]))
                loss = pixel_loss(anchors, pool, img_dom, W, levels=self.levels,
                                  max_positives=self.max_positives_per_class,
                                  max_negatives=self.max_negatives_per_class, **infonce)
                if loss is not None:
                    total = total + loss

        if 'centre' in self.units:
            sums = torch.cat([S['centre'][0], T['centre'][0]])  # (N, C, D)
            counts = torch.cat([S['centre'][1], T['centre'][1]])  # (N, C)
            has = torch.cat([S['has_anchor'], T['has_anchor']])  # (N, C)
            image_levels = [lv for lv in self.levels if lv != 'cross_domain']
            if image_levels:  # centres per image
                loss, stats['num_centre_anchors'] = centre_loss(
                    sums, counts, has, img_dom, image_levels, W, normalize=self.normalize,
                    **infonce)
                total = total + loss
            if 'cross_domain' in self.levels:  # centres per domain
                loss, stats['num_domain_centre_anchors'] = centre_loss(
                    torch.stack([sums[:Ns].sum(0), sums[Ns:].sum(0)]),  # (2, C, D)
                    torch.stack([counts[:Ns].sum(0), counts[Ns:].sum(0)]),
                    torch.stack([has[:Ns].any(0), has[Ns:].any(0)]),
                    torch.arange(2, device=dev), ['cross_domain'], W, normalize=self.normalize,
                    **infonce)
                total = total + loss

        self.last_stats = stats
        return self.loss_weight * total
