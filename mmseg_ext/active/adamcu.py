"""ADA-MCU acquisition core (active domain adaptation with multi-level contrastive units):
the adaptive sampling schedule of Algorithm 1. There is no public code; the
paper text is the reference. 'l. N' is a line of papers/004_1ecdab4497048225.txt, 'step N'
a numbered step of Algorithm 1.

The pixel uncertainty and its groups (``two_head_uncertainty``, ``uncertainty_groups``,
Eq. 1-3) are the entropy kernel's, ``mmseg_ext.ops.uncertainty``; the DCCM (``confusion_rates``,
``CategoryCorrelation``, Eq. 7-8) lives in ``mmseg_ext.ops.category_correlation``: models use
them too, and models do not import the acquisition layer.

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

from ..ops.checks import check_fraction, check_int, is_real
from ..ops.uncertainty import check_scores, check_thresholds, uncertainty_groups

PHASES = ('high', 'medium', 'done')

_CONFIG_KEYS = ('budget', 'pi_high_init', 'pi_low', 'decay', 'high_fraction',
                'medium_fraction', 'high_share', 'decay_every')
_STATE_KEYS = ('num_decays', 'high_calls', 'bought_high', 'bought_medium')


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
        check_scores(u)
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
