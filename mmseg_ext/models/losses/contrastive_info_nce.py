"""The InfoNCE terms of ``MultiLevelContrastiveLoss`` (ADA-MCU Eq. 9-11 with DCCM-weighted
logits): the pixel-to-pixel loss of every enabled level from one (anchors x pool) logits
matrix, and the centre-to-centre loss over class centres of images or domains. The equations
and the choices made where the paper is silent are documented on the loss class."""
import torch
import torch.nn.functional as F

LEVELS = ('intra_image', 'cross_image', 'cross_domain')


def dccm_logits(fa, ca, fp, cp, W, temperature):
    """s(a, p) = (1 + W[class(a), class(p)]) * (a . p) / temperature; W None = plain."""
    logits = fa @ fp.t() / temperature
    if W is not None:
        cols = F.one_hot(cp, W.shape[1]).to(W.dtype)  # (P, C): a matmul, not a gather
        logits = logits * (1 + W[ca] @ cols.t())
    return logits


def info_nce(logits, pos, neg, a_dom, per_domain):
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
    for d in ((0, 1) if per_domain else (None, )):
        m = valid & (a_dom == d) if d is not None else valid
        total = total + torch.where(m, per_anchor, 0).sum() / m.sum().clamp_min(1)
    return total


def pairs(level, a_img, s_img, a_dom, s_dom):
    """(anchors x pool) bool: the pool members of each anchor's unit at ``level``."""
    if level == 'intra_image':
        return a_img.unsqueeze(1) == s_img.unsqueeze(0)
    same_dom = a_dom.unsqueeze(1) == s_dom.unsqueeze(0)
    if level == 'cross_image':
        return same_dom & (a_img.unsqueeze(1) != s_img.unsqueeze(0))
    return ~same_dom


def pixel_loss(anchors, pool, img_dom, W, *, temperature, levels, max_positives,
               max_negatives, per_domain):
    """Eq. 9-10 for every enabled level from ONE (anchors x pool) logits matrix: the pool
    columns are summed per pool image with a one-hot matmul, so each level (a set of pool
    images per anchor image) costs an (A x images) reduction, not another dense pass.
    Returns the loss or None when no anchor has a positive and a negative."""
    a_n, a_p, a_cls, fa = anchors
    s_n, s_p, s_cls, s_rank, fs = pool
    num_img = img_dom.numel()
    logits = dccm_logits(fa, a_cls, fs, s_cls, W, temperature)  # (A, P)
    same_cls = a_cls.unsqueeze(1) == s_cls.unsqueeze(0)
    neg = ~same_cls & (s_rank < max_negatives).unsqueeze(0)
    pos = same_cls & (s_rank < max_positives).unsqueeze(0)
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
    enabled = torch.tensor([lv in levels for lv in LEVELS], device=img_dom.device)
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
        for d in ((0, 1) if per_domain else (None, )):
            m = valid[:, level]
            if d is not None:
                m = m & (img_dom[a_n] == d)
            total = total + torch.where(m, per_anchor, 0).sum() / m.sum().clamp_min(1)
    return total


def centre_loss(sums, counts, has, group_dom, levels, W, *, temperature, normalize,
                per_domain):
    """Eq. 11 over centres of groups (images or domains): sums (G, C, D), counts and has
    (G, C), group_dom (G,) the domain of each group. Returns (loss or 0, class-wise
    anchors)."""
    if normalize:
        cen = F.normalize(sums, dim=-1)
    else:
        cen = sums / counts.clamp_min(1).unsqueeze(-1)
    an, ac = (has & (counts > 0)).nonzero(as_tuple=True)
    pn, pc = (counts > 0).nonzero(as_tuple=True)
    total = 0
    if len(an):
        logits = dccm_logits(cen[an, ac], ac, cen[pn, pc], pc, W, temperature)
        same_cls = ac.unsqueeze(1) == pc.unsqueeze(0)
        a_dom, s_dom = group_dom[an], group_dom[pn]
        for level in levels:
            pair = pairs(level, an, pn, a_dom, s_dom)
            loss = info_nce(logits, same_cls & pair, ~same_cls & pair, a_dom, per_domain)
            if loss is not None:
                total = total + loss
    return total, len(an)
