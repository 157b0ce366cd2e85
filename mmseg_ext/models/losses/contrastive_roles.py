"""The pixel roles of ``MultiLevelContrastiveLoss`` in one domain: capped random anchors,
capped random pool pixels (positives / negatives) and per-image sums of the centre pixels'
embeddings, with the embeddings of label-resolution pixels sampled bilinearly. The choices
(caps, sampling, resolution) are documented on the loss class."""
import torch
import torch.nn.functional as F


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


def sample_at_pixels(embed, size, n, p, dtype, align_corners):
    """(K, D) bilinear samples of embed (N, D, h, w) at the centres of the pixels p (flat
    indices into size = (H, W)) of images n: what bilinear upsampling of the map to (H, W)
    with ``align_corners`` gives there (F.grid_sample, padding 'border'), in ``dtype``."""
    H, W = size
    y, x = (p // W).to(dtype), (p % W).to(dtype)
    if align_corners:
        gx = 2 * x / max(W - 1, 1) - 1
        gy = 2 * y / max(H - 1, 1) - 1
    else:
        gx, gy = (2 * x + 1) / W - 1, (2 * y + 1) / H - 1
    out = embed.new_zeros((len(n), embed.shape[1]), dtype=dtype)
    for i in n.unique().tolist():
        sel = (n == i).nonzero().squeeze(1)
        grid = torch.stack([gx[sel], gy[sel]], 1).view(1, 1, -1, 2)
        f = F.grid_sample(embed[i:i + 1].to(dtype), grid, mode='bilinear',
                          padding_mode='border', align_corners=align_corners)
        out = out.index_put((sel,), f[0, :, 0].t())
    return out


def _feats(ef, n, p, normalize, dtype, align_corners):
    if isinstance(ef, tuple):
        f = sample_at_pixels(*ef, n, p, dtype, align_corners)
    else:
        f = ef[n, :, p].to(dtype)  # (K, D)
    return F.normalize(f, dim=1) if normalize else f


def domain_roles(embed, label, pred, anchor_mask, centre_mask, C, generator, *, units,
                 max_anchors, max_pool, ignore_index, normalize, dtype, align_corners):
    """Capped anchors, capped pool pixels and per-image centre sums of one domain:
    {'anchor': (n, p, cls, feats), 'has_anchor': (N, C) bool (before the cap),
    'pool': (n, p, cls, rank, feats) with 'pixel' in units, 'centre': (sums (N, C, D),
    counts (N, C)) with 'centre' in units}."""
    N = embed.shape[0]
    ef = embed.flatten(2)  # (N, D, hw), a view
    if tuple(label.shape[1:]) != tuple(embed.shape[2:]):  # label resolution
        ef = (embed, tuple(label.shape[1:]))
    lab = label.reshape(N, -1).long()
    prd = pred.reshape(N, -1).long()
    out = {}
    # anchors: <= max_anchors per (image, class)
    n, p = anchor_mask.reshape(N, -1).nonzero(as_tuple=True)
    cls = lab[n, p]
    has = torch.zeros(N * C, dtype=torch.bool, device=lab.device)
    has[n * C + cls] = True  # before the cap: which classes have anchors per image
    keep = random_group_rank(n * C + cls, generator) < max_anchors
    n, p, cls = n[keep], p[keep], cls[keep]
    out['anchor'] = (n, p, cls, _feats(ef, n, p, normalize, dtype, align_corners))
    out['has_anchor'] = has.view(N, C)
    if 'pixel' in units:
        n, p = (lab != ignore_index).nonzero(as_tuple=True)
        cls = lab[n, p]
        rank = random_group_rank(n * C + cls, generator)
        keep = rank < max_pool
        n, p, cls, rank = n[keep], p[keep], cls[keep], rank[keep]
        out['pool'] = (n, p, cls, rank, _feats(ef, n, p, normalize, dtype, align_corners))
    if 'centre' in units:
        if isinstance(ef, tuple):  # centres at the embedding resolution
            size = tuple(embed.shape[2:])
            ef = embed.flatten(2)
            lab = nearest_resize(label, size).reshape(N, -1).long()
            prd = nearest_resize(pred, size).reshape(N, -1).long()
            centre_mask = nearest_resize(centre_mask, size)
        cm = centre_mask.reshape(N, -1) & ((lab == ignore_index) | (lab == prd))
        onehot = F.one_hot(prd, C).to(dtype) * cm.unsqueeze(-1)  # (N, hw, C)
        counts = onehot.sum(1)  # (N, C)
        e = ef.to(dtype)
        if normalize:  # sum of the normalised embeddings without a normalised copy
            onehot = onehot / e.norm(dim=1).clamp_min(1e-12).unsqueeze(-1)
        out['centre'] = (torch.bmm(onehot.transpose(1, 2), e.transpose(1, 2)), counts)
    return out
