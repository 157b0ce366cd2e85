"""ADA-MCU multi-level contrastive loss (pixel-to-pixel and centre-to-centre InfoNCE over
intra-image, cross-image and cross-domain contrastive units, weighted by the DCCM). There
is no public code; the paper text is the reference (``l. N`` = line N of
papers/004_1ecdab4497048225.txt). The DCCM W itself (Eq. 7-8) is produced by
``mmseg_ext.active.adamcu.CategoryCorrelation``; this loss only consumes it.

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
class docstring.
"""
import math
import numbers

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS

from ...active.checks import check_int

LEVELS = ('intra_image', 'cross_image', 'cross_domain')
UNITS = ('pixel', 'centre')


def nearest_resize(x, size):
    """Nearest resize of an (N, H, W) integer / bool map to size (h, w), same dtype."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    y = F.interpolate(x[:, None].float(), size=size, mode='nearest')[:, 0]
    return y.bool() if x.dtype == torch.bool else y.to(x.dtype)


def random_group_rank(group, generator=None):
    """For a 1-D integer tensor of group ids, a long tensor of the same shape whose values
    within each group are a uniformly random permutation of 0 .. n_group - 1 (one sort of
    random keys, then a stable sort by group). ``rank < k`` keeps k random members a group."""
    n = group.numel()
    if n == 0:
        return group.new_zeros(0, dtype=torch.long)
    dev = generator.device if generator is not None else group.device
    keys = torch.rand(n, generator=generator, device=dev).to(group.device)
    order = keys.argsort()
    order = order[group[order].argsort(stable=True)]
    g = group[order]
    pos = torch.arange(n, device=group.device)
    start = torch.ones(n, dtype=torch.bool, device=group.device)
    start[1:] = g[1:] != g[:-1]
    first = torch.cummax(torch.where(start, pos, 0), 0).values
    rank = torch.empty_like(pos)
    rank[order] = pos - first
    return rank


def _check_choice(name, value, allowed):
    if (isinstance(value, str) or not isinstance(value, (tuple, list)) or not value
            or any(v not in allowed for v in value) or len(set(value)) != len(value)):
        raise ValueError(f'{name} must be a non-empty sequence of distinct values from '
                         f'{allowed}, got {value!r}')
    return tuple(value)


def _shape(x):
    return tuple(x.shape) if torch.is_tensor(x) else type(x).__name__


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
        self.levels = _check_choice('levels', levels, LEVELS)
        self.units = _check_choice('units', units, UNITS)
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
        self._dtype = torch.float32

    @property
    def loss_name(self):
        return self._loss_name

    def extra_repr(self):
        return (f'temperature={self.temperature}, levels={self.levels}, units={self.units}, '
                f'max_anchors_per_class={self.max_anchors_per_class}, '
                f'max_positives_per_class={self.max_positives_per_class}, '
                f'max_negatives_per_class={self.max_negatives_per_class}, '
                f'use_dccm={self.use_dccm}, per_domain={self.per_domain}')

    # ------------------------------------------------------------------ validation
    def _check_domain(self, prefix, embed, label, pred, masks):
        if not torch.is_tensor(embed) or embed.ndim != 4 or not embed.is_floating_point():
            raise ValueError(f'{prefix}_embed must be a floating (N, D, h, w) tensor, '
                             f'got {_shape(embed)}')
        size, source = (embed.shape[0], *embed.shape[2:]), f'{prefix}_embed'
        if torch.is_tensor(label) and label.ndim == 3 and label.shape[0] == embed.shape[0]:
            size, source = tuple(label.shape), f'{prefix}_label'  # a label resolution of its own
        for name, x in ((f'{prefix}_label', label), (f'{prefix}_pred', pred)):
            if not torch.is_tensor(x) or tuple(x.shape) != size:
                raise ValueError(f'{name} must have shape {size} (from {source}), '
                                 f'got {_shape(x)}')
            if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
                raise ValueError(f'{name} must hold integer class ids, got dtype {x.dtype}')
        for name, x in masks:
            if not torch.is_tensor(x) or tuple(x.shape) != size or x.dtype != torch.bool:
                raise ValueError(f'{name} must be a bool tensor of shape {size} '
                                 f'(from {source}), got {_shape(x)} '
                                 f'{x.dtype if torch.is_tensor(x) else ""}'.rstrip())

    def _num_classes(self, labels, preds, dccm_weights):
        ids = [p.reshape(-1) for p in preds]
        ids += [lab[lab != self.ignore_index].reshape(-1) for lab in labels]
        ids = torch.cat([i.long() for i in ids])
        lo, hi = (torch.stack([ids.min(), ids.max()]).tolist() if ids.numel() else (0, 0))
        if dccm_weights is not None:
            C = dccm_weights.shape[0]
            if lo < 0 or hi >= C:
                raise ValueError(f'labels / predictions must be in [0, {C}) (dccm_weights is '
                                 f'{C}x{C}) or {self.ignore_index}, got range [{lo}, {hi}]')
            return C
        if lo < 0:
            raise ValueError(f'labels / predictions must be >= 0 or {self.ignore_index}, '
                             f'got minimum {lo}')
        return hi + 1

    # ------------------------------------------------------------------ per domain
    def _domain(self, embed, label, pred, anchor_mask, centre_mask, C, generator):
        """Capped anchors, capped pool pixels and per-image centre sums of one domain."""
        N = embed.shape[0]
        ef = embed.flatten(2)  # (N, D, hw), a view
        if tuple(label.shape[1:]) != tuple(embed.shape[2:]):  # label resolution
            ef = (embed, tuple(label.shape[1:]))
        lab = label.reshape(N, -1).long()
        prd = pred.reshape(N, -1).long()
        out = {}
        # anchors: <= max_anchors_per_class per (image, class)
        n, p = anchor_mask.reshape(N, -1).nonzero(as_tuple=True)
        cls = lab[n, p]
        has = torch.zeros(N * C, dtype=torch.bool, device=lab.device)
        has[n * C + cls] = True  # before the cap: which classes have anchors per image
        keep = random_group_rank(n * C + cls, generator) < self.max_anchors_per_class
        n, p, cls = n[keep], p[keep], cls[keep]
        out['anchor'] = (n, p, cls, self._feats(ef, n, p))
        out['has_anchor'] = has.view(N, C)
        if 'pixel' in self.units:
            n, p = (lab != self.ignore_index).nonzero(as_tuple=True)
            cls = lab[n, p]
            rank = random_group_rank(n * C + cls, generator)
            keep = rank < max(self.max_positives_per_class, self.max_negatives_per_class)
            n, p, cls, rank = n[keep], p[keep], cls[keep], rank[keep]
            out['pool'] = (n, p, cls, rank, self._feats(ef, n, p))
        if 'centre' in self.units:
            if isinstance(ef, tuple):  # centres at the embedding resolution
                size = tuple(embed.shape[2:])
                ef = embed.flatten(2)
                lab = nearest_resize(label, size).reshape(N, -1).long()
                prd = nearest_resize(pred, size).reshape(N, -1).long()
                centre_mask = nearest_resize(centre_mask, size)
            cm = centre_mask.reshape(N, -1) & ((lab == self.ignore_index) | (lab == prd))
            onehot = F.one_hot(prd, C).to(self._dtype) * cm.unsqueeze(-1)  # (N, hw, C)
            counts = onehot.sum(1)  # (N, C)
            e = ef.to(self._dtype)
            if self.normalize:  # sum of the normalised embeddings without a normalised copy
                onehot = onehot / e.norm(dim=1).clamp_min(1e-12).unsqueeze(-1)
            out['centre'] = (torch.bmm(onehot.transpose(1, 2), e.transpose(1, 2)), counts)
        return out

    def _feats(self, ef, n, p):
        if isinstance(ef, tuple):
            f = self._sampled(*ef, n, p)
        else:
            f = ef[n, :, p].to(self._dtype)  # (K, D)
        return F.normalize(f, dim=1) if self.normalize else f

    def _sampled(self, embed, size, n, p):
        """(K, D) bilinear samples of embed (N, D, h, w) at the centres of the pixels p (flat
        indices into size = (H, W)) of images n."""
        H, W = size
        y, x = (p // W).to(self._dtype), (p % W).to(self._dtype)
        if self._align_corners:
            gx = 2 * x / max(W - 1, 1) - 1
            gy = 2 * y / max(H - 1, 1) - 1
        else:
            gx, gy = (2 * x + 1) / W - 1, (2 * y + 1) / H - 1
        out = embed.new_zeros((len(n), embed.shape[1]), dtype=self._dtype)
        for i in n.unique().tolist():
            sel = (n == i).nonzero().squeeze(1)
            grid = torch.stack([gx[sel], gy[sel]], 1).view(1, 1, -1, 2)
            f = F.grid_sample(embed[i:i + 1].to(self._dtype), grid, mode='bilinear',
                              padding_mode='border', align_corners=self._align_corners)
            out = out.index_put((sel,), f[0, :, 0].t())
        return out

    def _centres(self, sums, counts):
        if self.normalize:
            return F.normalize(sums, dim=-1)
        return sums / counts.clamp_min(1).unsqueeze(-1)

    # ------------------------------------------------------------------ InfoNCE
    def _logits(self, fa, ca, fp, cp, W):
        logits = fa @ fp.t() / self.temperature
        if W is not None:
            cols = F.one_hot(cp, W.shape[1]).to(W.dtype)  # (P, C): a matmul, not a gather
            logits = logits * (1 + W[ca] @ cols.t())
        return logits

    def _info_nce(self, logits, pos, neg, a_dom):
        """Eq. 9-10: per anchor mean over positives of -log H, then sum over the anchor
        domains of the mean over that domain's anchors with >= 1 positive and negative."""
        has_neg = neg.any(1)
        valid = pos.any(1) & has_neg
        if not bool(valid.any()):
            return None
        neg_logits = logits.masked_fill(~neg, float('-inf'))
        # rows without negatives get a finite dummy (they are not valid) so no NaN gradient
        neg_logits = torch.where(has_neg.unsqueeze(1), neg_logits, torch.zeros_like(logits))
        lse = torch.logsumexp(neg_logits, 1, keepdim=True)
        term = F.softplus(lse - logits)  # -log H(anchor, positive)
        per_anchor = torch.where(pos, term, 0).sum(1) / pos.sum(1).clamp_min(1)
        total = 0
        for d in ((0, 1) if self.per_domain else (None, )):
            m = valid & (a_dom == d) if d is not None else valid
            total = total + torch.where(m, per_anchor, 0).sum() / m.sum().clamp_min(1)
        return total

    @staticmethod
    def _pairs(level, a_img, s_img, a_dom, s_dom):
        if level == 'intra_image':
            return a_img.unsqueeze(1) == s_img.unsqueeze(0)
        same_dom = a_dom.unsqueeze(1) == s_dom.unsqueeze(0)
        if level == 'cross_image':
            return same_dom & (a_img.unsqueeze(1) != s_img.unsqueeze(0))
        return ~same_dom

    def _pixel_loss(self, anchors, pool, img_dom, W):
        """Eq. 9-10 for every enabled level from ONE (anchors x pool) logits matrix: the pool
        columns are summed per pool image with a one-hot matmul, so each level (a set of pool
        images per anchor image) costs an (A x images) reduction, not another dense pass."""
        a_n, a_p, a_cls, fa = anchors
        s_n, s_p, s_cls, s_rank, fs = pool
        num_img = img_dom.numel()
        logits = self._logits(fa, a_cls, fs, s_cls, W)  # (A, P)
        same_cls = a_cls.unsqueeze(1) == s_cls.unsqueeze(0)
        neg = ~same_cls & (s_rank < self.max_negatives_per_class).unsqueeze(0)
        pos = same_cls & (s_rank < self.max_positives_per_class).unsqueeze(0)
        # an anchor is never its own positive: find its pool column (sorted pixel keys)
        hw = int(max(a_p.max(), s_p.max())) + 1
        s_key, a_key = s_n * hw + s_p, a_n * hw + a_p
        order = s_key.argsort()
        col = torch.searchsorted(s_key[order], a_key).clamp_max(len(order) - 1)
        found = s_key[order[col]] == a_key
        pos[found.nonzero().squeeze(1), order[col[found]]] = False
        # level of (anchor image, pool image): 0 intra, 1 cross-image, 2 cross-domain
        imgs = torch.arange(num_img, device=img_dom.device)
        same_dom = img_dom.unsqueeze(1) == img_dom.unsqueeze(0)
        level_of = torch.where(same_dom, 1, 2)
        level_of[imgs, imgs] = 0
        enabled = torch.tensor([lv in self.levels for lv in LEVELS], device=img_dom.device)
        a_level = level_of[a_n]  # (A, images)
        onehot = F.one_hot(s_n, num_img).to(logits.dtype)  # (P, images)
        # negatives: sum of exp per (anchor, pool image), then per level -> logsumexp
        shift = logits.detach().max(1, keepdim=True).values
        neg_exp = (torch.exp(logits - shift) * neg) @ onehot  # (A, images)
        neg_count = neg.to(logits.dtype) @ onehot
        pos_count = pos.to(logits.dtype) @ onehot
        lse = torch.zeros_like(neg_exp)
        valid = torch.zeros(len(a_n), 3, dtype=torch.bool, device=logits.device)
        for level in range(3):  # three levels: a loop over (A, images) tables, not pixels
            in_level = a_level == level
            n_neg = (neg_count * in_level).sum(1)
            valid[:, level] = enabled[level] & (n_neg > 0) & ((pos_count * in_level).sum(1) > 0)
            sums = (neg_exp * in_level).sum(1, keepdim=True)
            # rows without negatives get a finite dummy (they are not valid): no NaN gradient
            level_lse = torch.log(torch.where(n_neg.unsqueeze(1) > 0, sums, 1)) + shift
            lse = torch.where(in_level, level_lse, lse)
        # -log H(anchor, positive) = softplus(lse of the anchor's level - s(anchor, positive))
        # per-column gathers as one-hot matmuls (contiguous, much faster than fancy indexing)
        pos = pos & ((valid.gather(1, a_level).to(logits.dtype) @ onehot.t()) > 0)
        if not bool(pos.any()):
            return None
        term = torch.where(pos, F.softplus(lse @ onehot.t() - logits), 0)
        term_sum = term @ onehot  # (A, images)
        total = 0
        for level in range(3):
            in_level = a_level == level
            per_anchor = (term_sum * in_level).sum(1) / (pos_count * in_level).sum(1).clamp_min(1)
            for d in ((0, 1) if self.per_domain else (None, )):
                m = valid[:, level]
                if d is not None:
                    m = m & (img_dom[a_n] == d)
                total = total + torch.where(m, per_anchor, 0).sum() / m.sum().clamp_min(1)
        return total

    def _centre_loss(self, sums, counts, has, group_dom, levels, W):
        """Eq. 11 over centres of groups (images or domains): sums (G, C, D), counts and has
        (G, C), group_dom (G,) the domain of each group. Returns (loss or 0, class-wise
        anchors)."""
        cen = self._centres(sums, counts)
        an, ac = (has & (counts > 0)).nonzero(as_tuple=True)
        pn, pc = (counts > 0).nonzero(as_tuple=True)
        total = 0
        if len(an):
            logits = self._logits(cen[an, ac], ac, cen[pn, pc], pc, W)
            same_cls = ac.unsqueeze(1) == pc.unsqueeze(0)
            a_dom, s_dom = group_dom[an], group_dom[pn]
            for level in levels:
                pair = self._pairs(level, an, pn, a_dom, s_dom)
                loss = self._info_nce(logits, same_cls & pair, ~same_cls & pair, a_dom)
                if loss is not None:
                    total = total + loss
        return total, len(an)

    # ------------------------------------------------------------------ forward
    def forward(self, src_embed, src_label, src_pred, tgt_embed, tgt_label, tgt_pred,
                tgt_high_uncertainty, src_centre_mask, tgt_centre_mask, dccm_weights=None,
                generator=None, align_corners=False):
        self._align_corners = bool(align_corners)
        self._check_domain('src', src_embed, src_label, src_pred,
                           [('src_centre_mask', src_centre_mask)])
        self._check_domain('tgt', tgt_embed, tgt_label, tgt_pred,
                           [('tgt_high_uncertainty', tgt_high_uncertainty),
                            ('tgt_centre_mask', tgt_centre_mask)])
        if src_embed.shape[1] != tgt_embed.shape[1]:
            raise ValueError(f'src_embed and tgt_embed must have the same channels D, '
                             f'got {src_embed.shape[1]} and {tgt_embed.shape[1]}')
        if dccm_weights is not None and (not torch.is_tensor(dccm_weights)
                                         or dccm_weights.ndim != 2
                                         or dccm_weights.shape[0] != dccm_weights.shape[1]):
            raise ValueError(f'dccm_weights must be a (C, C) tensor or None, '
                             f'got {_shape(dccm_weights)}')
        C = self._num_classes((src_label, tgt_label), (src_pred, tgt_pred), dccm_weights)
        dev = src_embed.device
        # float16 / bfloat16 / float32 are computed in float32, float64 stays float64
        self._dtype = torch.promote_types(
            torch.promote_types(src_embed.dtype, tgt_embed.dtype), torch.float32)
        W = None
        if self.use_dccm and dccm_weights is not None:
            W = dccm_weights.to(device=dev, dtype=self._dtype)
            # positives are unit weight (Eq. 7: M^(u,u) = 0), the diagonal is dropped
            W = W * (1 - torch.eye(C, device=dev, dtype=self._dtype))

        ig = self.ignore_index
        src_anchor = (src_label != ig) & (src_pred != src_label)
        tgt_anchor = (tgt_label != ig) & tgt_high_uncertainty & (tgt_pred != tgt_label)
        S = self._domain(src_embed, src_label, src_pred, src_anchor, src_centre_mask, C,
                         generator)
        T = self._domain(tgt_embed, tgt_label, tgt_pred, tgt_anchor, tgt_centre_mask, C,
                         generator)
        Ns = src_embed.shape[0]
        img_dom = torch.cat([torch.zeros(Ns, dtype=torch.long, device=dev),
                             torch.ones(tgt_embed.shape[0], dtype=torch.long, device=dev)])

        # zero with a graph to the embeddings when nothing contributes
        total = (src_embed.sum() + tgt_embed.sum()).to(self._dtype) * 0
        a_n = torch.cat([S['anchor'][0], T['anchor'][0] + Ns])
        a_p = torch.cat([S['anchor'][1], T['anchor'][1]])
        a_cls = torch.cat([S['anchor'][2], T['anchor'][2]])
        stats = dict(num_src_anchors=len(S['anchor'][0]), num_tgt_anchors=len(T['anchor'][0]),
                     num_anchors=len(a_n), num_pool=0, num_centre_anchors=0,
                     num_domain_centre_anchors=0)

        if 'pixel' in self.units:
            stats['num_pool'] = len(S['pool'][0]) + len(T['pool'][0])
            stats['num_tgt_pool'] = len(T['pool'][0])
            if len(a_n) and stats['num_pool']:
                pool = [torch.cat([S['pool'][i], T['pool'][i] + (Ns if i == 0 else 0)])
                        for i in range(5)]
                anchors = (a_n, a_p, a_cls, torch.cat([S['anchor'][3], T['anchor'][3]]))
                loss = self._pixel_loss(anchors, pool, img_dom, W)
                if loss is not None:
                    total = total + loss

        if 'centre' in self.units:
            sums = torch.cat([S['centre'][0], T['centre'][0]])  # (N, C, D)
            counts = torch.cat([S['centre'][1], T['centre'][1]])  # (N, C)
            has = torch.cat([S['has_anchor'], T['has_anchor']])  # (N, C)
            image_levels = [lv for lv in self.levels if lv != 'cross_domain']
            if image_levels:  # centres per image
                loss, stats['num_centre_anchors'] = self._centre_loss(
                    sums, counts, has, img_dom, image_levels, W)
                total = total + loss
            if 'cross_domain' in self.levels:  # centres per domain
                loss, stats['num_domain_centre_anchors'] = self._centre_loss(
                    torch.stack([sums[:Ns].sum(0), sums[Ns:].sum(0)]),  # (2, C, D)
                    torch.stack([counts[:Ns].sum(0), counts[Ns:].sum(0)]),
                    torch.stack([has[:Ns].any(0), has[Ns:].any(0)]),
                    torch.arange(2, device=dev), ['cross_domain'], W)
                total = total + loss

        self.last_stats = stats
        return self.loss_weight * total
