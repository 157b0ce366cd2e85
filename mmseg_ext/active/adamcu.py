"""ADA-MCU acquisition core (active domain adaptation with multi-level contrastive units):
pixel uncertainty, the three uncertainty groups, the dynamic category correlation matrix
(DCCM) and the adaptive sampling schedule of Algorithm 1. There is no public code; the
paper text is the reference. 'l. N' is a line of papers/004_1ecdab4497048225.txt, 'step N'
a numbered step of Algorithm 1.

``u = uncertainty(main_logits, aux_logits, gamma)``  (N, H, W) score of Eq. 1-3 (l. 291-326):
    p = softmax(main), q = softmax(aux) over C >= 2 classes (dim 1),
    u = -sum_c p_c log p_c / log(C) + gamma * sum_c p_c (log p_c - log q_c),
    i.e. the entropy normalised to [0, 1] (Eq. 2) plus gamma times KL(p || q) (Eq. 3, not
    normalised). Logs come from log_softmax (no epsilon); terms with p_c = 0 count as 0.
    The KL sum is clamped at 0 (rounding can leave -1e-8 where the heads agree; identical
    heads give exactly 0). Both logits must be floating (N, C, H, W) of the same shape:
    the paper's auxiliary head is DeepLab v2's conv4 classifier (l. 338-340, 622-624) at the main
    head's resolution; resize before if yours differs. float16/bfloat16 are computed in
    float32, float64 stays float64 (mixed float32/float64 inputs are promoted). gamma >= 0
    (the paper uses 0.5, l. 646, which cites "Eqn. (12)": read Eq. 1). Runs under no_grad.

``g = uncertainty_groups(u, pi_high, pi_low)``  long tensor of u's shape (l. 330-335):
    2 = high (u >= pi_high), 1 = medium (pi_low <= u < pi_high), 0 = low (u < pi_low).
    The paper does not say which side the boundaries fall on; a pixel exactly at a
    threshold goes to the higher group. Needs 0 <= pi_low <= pi_high (pi_low == pi_high
    leaves the medium group empty) and a NaN-free floating u.

``R, present = confusion_rates(pred, label, num_classes, ignore_index=255)``  Eq. 7 (l. 486-502):
    R[u, v] = #(label == u and pred == v) / #(label == u) over the batch, (C, C) float64,
    rows of classes absent from label are 0 and present (C,) bool marks the others. The
    paper calls M^(u, v) "misclassified" pixels; the diagonal is kept here (R is the
    row-normalised confusion matrix, R[u, u] = recall of u), so every present row sums to
    1. Use W * (1 - eye(C)) if only the off-diagonal errors are wanted. pred / label:
    integer (N, H, W) (any integer dtype, not bool) on the same device; label values in
    [0, C) or ignore_index, pred values in [0, C). One bincount over u * C + v.

``dccm = CategoryCorrelation(num_classes, momentum)``  DCCM, Eq. 8 (l. 504-521), an nn.Module:
    ``dccm.weights`` (C, C) float32 buffer W, zeros at start (the paper gives no initial
    value), saved by state_dict / restored by load_state_dict, moved by .to(device) and
    cast by .double(). ``dccm.update(pred, label)`` computes R of the batch and sets, for
    the rows u of classes present in label,
        W[u] = momentum * W[u] + (1 - momentum) * R[u]    (momentum = the paper's beta);
    rows of absent classes are left unchanged (an absent class has no R row; averaging
    in zeros would decay what was learnt about it). R is computed on pred's device and
    moved to W's device and dtype. Returns (R, present). num_classes int >= 1,
    momentum in [0, 1). The paper updates W once per training iteration (step 14,
    l. 705-706; l. 504); its value for beta is not given.

``sampler = AdaptiveSampler(budget, pi_high, pi_low, decay=0.9, high_fraction=0.5,
medium_fraction=0.5, high_share=0.5, decay_every=1)``  Algorithm 1 (l. 666-712, text l.
715-735) as a state machine:
    budget = M_e is the TOTAL number of target pixels to annotate over the whole run
    ("budget of expected annotated pixels in target domain M_e", l. 672-673; "assume we set
    M_e equals 5% of total pixels in the target domain", l. 721-722), not per image or per
    batch; M_a (``bought``) counts every pixel select() returned so far. The run is split
    into high_budget = M_e - floor((1 - high_share) * M_e) pixels from the high group
    (high_share=0.5: ceil(M_e / 2)) and medium_budget = the rest from the medium group (so
    they sum to M_e and budget 1 still decays pi_high once). high_share=1 with decay=1 is
    the paper's "AL (w/o AS)" ablation (l. 910-913): the whole budget from the high group at
    a fixed pi_high, no medium purchase. decay_every=1 decays pi_high at every call, as
    Algorithm 1 step 7 does per iteration; decay_every=k decays it at the first of every k calls
    in the high phase (the text, l. 718-720: "in each training epoch ... we decrease pi_high":
    k = iterations per epoch). With per-call decay and a large budget pi_high can reach pi_low
    before the high half is bought; the medium group is then empty and the medium half is never
    bought (the hook warns). ``sampler.phase``:
      'high'    while bought_high < high_budget (steps 6-8, l. 685-691). Every select() call
                (every decay_every-th) in this phase first decays pi_high <- pi_high *
                decay, exactly as step 7
                does on every iteration with M_a < M_e / 2 (the rule depends on M_a only,
                not on how many high pixels exist), then buys from the not-blocked pixels
                with u >= pi_high: ceil(high_fraction * n) of the n candidates, uniformly
                at random without replacement (footnote 3, l. 732-735: "we only sample
                half of the pixels in G_h uniformly", hence the default 0.5; ceil so a
                non-empty group always makes progress), capped at what is left of
                high_budget so M_a hits M_e / 2 exactly (the step 9 branch needs equality).
                pi_high never decays below pi_low (it is clamped there; the groups stay
                ordered, the medium group is then empty).
      'medium'  while bought_medium < medium_budget (steps 9-10, l. 692-696, 727-728): pi_high is
                frozen; buys ceil(medium_fraction * n) of the n not-blocked pixels with
                pi_low <= u < pi_high, uniformly at random, capped at what is left of
                medium_budget. The paper buys M_e / 2 from G_m in the single iteration
                after the high phase; a training batch usually holds far fewer medium
                pixels than that (M_e / 2 is a share of the whole target set), so the
                purchase is spread over as many calls as needed, at the same per-call
                rate as the high group by default (medium_fraction=1.0 is the literal
                "take them all now" reading). A call whose batch has no unblocked medium
                pixel buys nothing and the phase waits for later batches (it never falls
                back to other groups).
      'done'    afterwards (steps 11-12, l. 697-702, 729-730): select() returns all False;
                the caller uses the low group (``sampler.groups(u) == 0``) for pseudo labels.
    The anchor-selection clause of steps 7 / 12 (incorrectly predicted pixels become
    contrastive anchors) needs the labels and so belongs to the loss, not to the purchase.
    ``mask = sampler.select(u, blocked, generator=None)``: u floating (H, W) or (N, H, W),
    blocked bool of the same shape and device (already bought pixels, padding, anything
    that must not be bought); returns a bool mask of u's shape, never True where blocked.
    One call is one Algorithm 1 iteration: pass the whole target batch (N, H, W) at once
    (candidates are pooled over the batch); calling per image decays pi_high per image.
    The random draw is torch.randperm on the generator's device (default: u's device).
    The caller annotates exactly the returned pixels and adds them to blocked.
    ``sampler.pi_high`` (current, = max(pi_high_init * decay ** num_decays, pi_low)),
    ``pi_low``, ``bought`` (M_a), ``bought_high``, ``bought_medium``, ``high_budget``,
    ``medium_budget``, ``num_decays``; ``sampler.groups(u)`` = uncertainty_groups(u,
    sampler.pi_high, sampler.pi_low). ``state_dict()`` returns plain Python numbers
    (configuration + num_decays, high_calls, bought_high, bought_medium); ``load_state_dict(sd)``
    restores the schedule of a resumed run and raises if a key is missing or the saved
    configuration differs from this sampler's. budget int >= 1, 0 <= pi_low <= pi_high,
    decay in (0, 1], fractions and high_share in (0, 1], decay_every int >= 1.

Open in the paper and not done here: the initial pi_high ("a large value", l. 717) and
pi_low are not given; Section III-B-2 (l. 361-375) describes a different per-batch rule
("randomly select the same number of pixels in those three groups"): the purchase follows
Algorithm 1 instead, and the rule's pseudo-label side (as many G_l pixels as one labelled
group) is ADAMCUSegmentor's pseudo_label_sampling='balanced'. The ADA-MCU strategy decays
pi_high once per epoch by default (decay_every here counts calls; see
mmseg_ext/active/strategies/adamcu.py for why).
"""
import math

import torch
from torch import nn

from .checks import check_fraction, check_int, check_real, is_real

IGNORE_INDEX = 255
PHASES = ('high', 'medium', 'done')

_CONFIG_KEYS = ('budget', 'pi_high_init', 'pi_low', 'decay', 'high_fraction',
                'medium_fraction', 'high_share', 'decay_every')
_STATE_KEYS = ('num_decays', 'high_calls', 'bought_high', 'bought_medium')


# ----------------------------------------------------------------------------- validation

def check_thresholds(pi_high, pi_low):
    if not (is_real(pi_high) and is_real(pi_low) and 0 <= pi_low <= pi_high):
        raise ValueError(f'thresholds must satisfy 0 <= pi_low <= pi_high (finite), '
                         f'got pi_low={pi_low!r}, pi_high={pi_high!r}')


def _check_scores(u, name='u'):
    if not torch.is_tensor(u) or not u.is_floating_point():
        raise ValueError(f'{name} must be a floating tensor, got '
                         f'{type(u).__name__ if not torch.is_tensor(u) else u.dtype}')
    if torch.isnan(u).any():
        raise ValueError(f'{name} must not contain NaN')


def _check_labels(x, name, ndim=3):
    if not torch.is_tensor(x) or x.ndim != ndim:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f'{name} must be a {ndim}-D (N, H, W) integer tensor, got {shape}')
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise ValueError(f'{name} must hold integer class ids, got dtype {x.dtype}')


# ----------------------------------------------------------------------------- uncertainty

def _logits(x, name):
    if not torch.is_tensor(x) or x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f'{name} must be a floating (N, C, H, W) tensor, got '
                         f'{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}')
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


@torch.no_grad()
def uncertainty(main_logits, aux_logits, gamma):
    """(N, H, W) entropy(p) / log(C) + gamma * KL(p || p_aux) (Eq. 1-3)."""
    main = _logits(main_logits, 'main_logits')
    aux = _logits(aux_logits, 'aux_logits')
    if main.shape != aux.shape:
        raise ValueError(f'main_logits and aux_logits must have the same shape, '
                         f'got {tuple(main.shape)} and {tuple(aux.shape)}')
    if main.device != aux.device:
        raise ValueError(f'main_logits and aux_logits must be on one device, '
                         f'got {main.device} and {aux.device}')
    C = main.shape[1]
    if C < 2:
        raise ValueError(f'uncertainty needs at least 2 classes (log C normalisation), got {C}')
    check_real('gamma', gamma)
    dtype = torch.promote_types(main.dtype, aux.dtype)
    log_p = torch.log_softmax(main.to(dtype), 1)
    p = log_p.exp()
    zero = ~(p > 0)  # 0 * log 0 = 0 also for -inf logits
    # in place where the values allow it (full-size maps: fewer temporaries); the same
    # operations on the same values as torch.where(p > 0, p * log_p, 0), so the same bits
    ent = (p * log_p).masked_fill_(zero, 0).sum(1).neg_().div_(math.log(C))
    if gamma == 0:
        return ent
    log_q = torch.log_softmax(aux.to(dtype), 1)
    kl = log_p.sub_(log_q).mul_(p).masked_fill_(zero, 0).sum(1).clamp_min_(0)
    return ent.add_(kl.mul_(gamma))


def uncertainty_groups(u, pi_high, pi_low):
    """Long tensor of u's shape: 2 high (u >= pi_high), 1 medium, 0 low (u < pi_low)."""
    check_thresholds(pi_high, pi_low)
    _check_scores(u)
    return (u >= pi_low).long() + (u >= pi_high).long()


# ----------------------------------------------------------------------------- DCCM

def confusion_rates(pred, label, num_classes, ignore_index=IGNORE_INDEX):
    """(C, C) float64 R[u, v] = #(label u, pred v) / #(label u) and (C,) bool present rows."""
    check_int('num_classes', num_classes, 1)
    _check_labels(pred, 'pred')
    _check_labels(label, 'label')
    if pred.shape != label.shape:
        raise ValueError(f'pred and label must have the same shape, '
                         f'got {tuple(pred.shape)} and {tuple(label.shape)}')
    if pred.device != label.device:
        raise ValueError(f'pred and label must be on one device, '
                         f'got {pred.device} and {label.device}')
    C = num_classes
    pred, label = pred.long(), label.long()
    keep = label != ignore_index
    lab, prd = label[keep], pred[keep]
    if lab.numel():
        if lab.min() < 0 or lab.max() >= C:
            raise ValueError(f'label values must be in [0, {C}) or {ignore_index}, '
                             f'got range [{int(lab.min())}, {int(lab.max())}]')
        if prd.min() < 0 or prd.max() >= C:
            raise ValueError(f'pred values must be in [0, {C}), '
                             f'got range [{int(prd.min())}, {int(prd.max())}]')
    counts = torch.bincount(lab * C + prd, minlength=C * C).view(C, C).double()
    rows = counts.sum(1)
    present = rows > 0
    return counts / rows.clamp_min(1).unsqueeze(1), present


class CategoryCorrelation(nn.Module):
    """Dynamic category correlation matrix W (Eq. 7-8), EMA of the batch confusion rates."""

    def __init__(self, num_classes, momentum):
        super().__init__()
        check_int('num_classes', num_classes, 1)
        check_fraction('momentum', momentum, low_open=False)
        self.num_classes = int(num_classes)
        self.momentum = float(momentum)
        self.register_buffer('weights', torch.zeros(self.num_classes, self.num_classes))

    def extra_repr(self):
        return f'num_classes={self.num_classes}, momentum={self.momentum}'

    @torch.no_grad()
    def update(self, pred, label):
        """W[u] = m * W[u] + (1 - m) * R[u] for classes u present in label; returns (R, present)."""
        R, present = confusion_rates(pred, label, self.num_classes)
        W = self.weights
        R_w = R.to(device=W.device, dtype=W.dtype)
        present_w = present.to(W.device)
        new = self.momentum * W + (1 - self.momentum) * R_w
        W.copy_(torch.where(present_w.unsqueeze(1), new, W))
        return R, present


# ----------------------------------------------------------------------------- sampling

class AdaptiveSampler:
    """Algorithm 1: buy from the high group (decaying pi_high) until ceil(M_e/2), then
    floor(M_e/2) uniformly from the medium group, then nothing. See module docstring."""

    def __init__(self, budget, pi_high, pi_low, decay=0.9, high_fraction=0.5,
                 medium_fraction=0.5, high_share=0.5, decay_every=1):
        check_int('budget', budget, 1)
        check_int('decay_every', decay_every, 1)
        check_fraction('high_share', high_share)
        check_thresholds(pi_high, pi_low)
        check_fraction('decay', decay)
        check_fraction('high_fraction', high_fraction)
        check_fraction('medium_fraction', medium_fraction)
        self.budget = int(budget)
        self.pi_high_init = float(pi_high)
        self.pi_low = float(pi_low)
        self.decay = float(decay)
        self.high_fraction = float(high_fraction)
        self.medium_fraction = float(medium_fraction)
        self.high_share = float(high_share)
        self.decay_every = int(decay_every)
        self.num_decays = 0
        self.high_calls = 0
        self.bought_high = 0
        self.bought_medium = 0

    # --- schedule
    @property
    def high_budget(self):
        return self.budget - math.floor((1 - self.high_share) * self.budget)

    @property
    def medium_budget(self):
        return self.budget - self.high_budget

    @property
    def bought(self):
        """M_a: pixels bought so far."""
        return self.bought_high + self.bought_medium

    @property
    def pi_high(self):
        return max(self.pi_high_init * self.decay ** self.num_decays, self.pi_low)

    @property
    def phase(self):
        if self.bought_high < self.high_budget:
            return 'high'
        if self.bought_medium < self.medium_budget:
            return 'medium'
        return 'done'

    def groups(self, u):
        """uncertainty_groups(u, current pi_high, pi_low)."""
        return uncertainty_groups(u, self.pi_high, self.pi_low)

    # --- selection
    @torch.no_grad()
    def select(self, u, blocked, generator=None):
        """Bool mask of u's shape ((H, W) or (N, H, W)): the pixels to buy in this iteration."""
        _check_scores(u)
        if u.ndim not in (2, 3):
            raise ValueError(f'u must be (H, W) or (N, H, W), got shape {tuple(u.shape)}')
        if not torch.is_tensor(blocked) or blocked.dtype != torch.bool:
            raise ValueError('blocked must be a bool tensor of the shape of u')
        if blocked.shape != u.shape or blocked.device != u.device:
            raise ValueError(f'blocked must match u in shape and device, got '
                             f'{tuple(blocked.shape)} on {blocked.device} vs '
                             f'{tuple(u.shape)} on {u.device}')
        out = torch.zeros_like(blocked)
        phase = self.phase
        if phase == 'done':
            return out
        if phase == 'high':
            # Algorithm 1 step 7: pi_high <- pi_high * r before buying, every iteration
            # (decay_every=1), or every decay_every calls (the text's "each training epoch")
            self.high_calls += 1
            self.num_decays = -(-self.high_calls // self.decay_every)
            cand = (u >= self.pi_high) & ~blocked
            fraction, left = self.high_fraction, self.high_budget - self.bought_high
        else:
            cand = (u >= self.pi_low) & (u < self.pi_high) & ~blocked
            fraction, left = self.medium_fraction, self.medium_budget - self.bought_medium
        idx = cand.flatten().nonzero().squeeze(1)
        n = idx.numel()
        k = min(math.ceil(fraction * n), left)
        if k > 0:
            if k < n:
                dev = generator.device if generator is not None else u.device
                pick = torch.randperm(n, generator=generator, device=dev)[:k].to(idx.device)
                idx = idx[pick]
            out.view(-1)[idx] = True
        if phase == 'high':
            self.bought_high += k
        else:
            self.bought_medium += k
        return out

    # --- checkpointing
    def state_dict(self):
        sd = {key: getattr(self, key) for key in _CONFIG_KEYS + _STATE_KEYS}
        sd['pi_high'] = self.pi_high  # informative; derived from pi_high_init and num_decays
        return sd

    def load_state_dict(self, state_dict):
        missing = [k for k in _CONFIG_KEYS + _STATE_KEYS if k not in state_dict]
        if missing:
            raise ValueError(f'sampler state_dict is missing keys {missing}')
        for key in _CONFIG_KEYS:
            if state_dict[key] != getattr(self, key):
                raise ValueError(f'sampler state_dict has {key}={state_dict[key]!r}, '
                                 f'this sampler has {getattr(self, key)!r}')
        for key in _STATE_KEYS:
            check_int(f'state_dict[{key!r}]', state_dict[key], 0)
        if state_dict['bought_high'] > self.high_budget or \
                state_dict['bought_medium'] > self.medium_budget:
            raise ValueError(f'sampler state_dict bought more than the budget: '
                             f'high {state_dict["bought_high"]}/{self.high_budget}, '
                             f'medium {state_dict["bought_medium"]}/{self.medium_budget}')
        for key in _STATE_KEYS:
            setattr(self, key, int(state_dict[key]))

    def __repr__(self):
        return (f'AdaptiveSampler(budget={self.budget}, pi_high={self.pi_high:g}, '
                f'pi_low={self.pi_low:g}, phase={self.phase!r}, bought={self.bought})')
