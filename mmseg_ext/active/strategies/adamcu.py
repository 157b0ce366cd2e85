"""ADA-MCU (paper 004): adaptive sampling (Algorithm 1), bought online during training.

Options: decay [0.9] (r of Algorithm 1 step 7), high_fraction [0.5] (the share of the high
group's unbought pixels bought per iteration, footnote 3), medium_fraction [0.5],
adaptive_sampling [True] (False: the paper's "AL (w/o AS)" ablation, Sec. IV-F-1 l. 904-907:
labels only from the high group, AdaptiveSampler(high_share=1): the whole budget from G_h),
decay_every ['epoch'] and fixed_pi_high [False].

decay_every: when pi_high decays. 'epoch' (default): once per pass over the target set. This is
    the reading of the paper that spends the budget, and the paper's own words: the text of
    Sec. IV-C (l. 717-720: "in each training epoch, if the number of annotated pixels M_a is
    still lower than the expected quantity, we decrease pi_high") and Algorithm 1 itself, whose
    loop variable is the "epoch variable i" (step 3) over "number of training epochs" (l. 670).
    Read per iteration (decay_every=1, the code before issue 21), r = 0.9 takes pi_high from
    1.0 to pi_low = 0.1 in 22 buying iterations, before half of a large budget is bought; the
    medium group [pi_low, pi_high) is then empty and the medium half is never bought (6.8% and
    16.8% runs stopped at 3.4% and 8.4%). A decay rate derived from the budget was not chosen:
    it would need the uncertainty distribution of a model not trained yet. decay_every=k:
    every k buying iterations.
fixed_pi_high: only with adaptive_sampling=False. False (default): the "w/o AS" arm decays
    pi_high on the same schedule as the AS arm, so both spend the same budget (the paper
    compares them at one budget, Table V). True (the code before issue 21): pi_high stays at its
    initial value (1.0), and a budget larger than the pixels with u >= 1.0 is never spent.
"""
import torch

from ..adamcu import AdaptiveSampler
from ...ops.checks import check_fraction, is_int
from ..scores import two_head_uncertainty
from .base import STRATEGIES
from .contract import AUX_LOGITS, BUDGET, LOGITS, Strategy


@STRATEGIES.register_module(name='ADA-MCU')
class AdaMCU(Strategy):
    scope = 'online'
    unit = 'pixel'
    needs = frozenset({LOGITS, AUX_LOGITS, BUDGET})

    def __init__(self, decay: float = 0.9, high_fraction: float = 0.5,
                 medium_fraction: float = 0.5, adaptive_sampling: bool = True,
                 decay_every='epoch', fixed_pi_high: bool = False):
        super().__init__()
        o = self.options
        try:
            for key in ('decay', 'high_fraction', 'medium_fraction'):
                check_fraction(key, o[key])
        except ValueError as err:
            raise ValueError(f'{self.name}: {err}') from None
        for key in ('adaptive_sampling', 'fixed_pi_high'):
            if not isinstance(o[key], bool):
                self.bad(key, 'a bool')
        if o['decay_every'] != 'epoch' and not is_int(o['decay_every'], 1):
            self.bad('decay_every', "an int >= 1 or 'epoch'")

    def sampler(self, budget_pixels: int, pi_high: float, pi_low: float,
                buys_per_epoch: int) -> AdaptiveSampler:
        """A fresh AdaptiveSampler of ``budget_pixels`` (M_e) with these options."""
        o = self.options
        if o['adaptive_sampling']:
            decay, share = o['decay'], 0.5
        else:  # AL (w/o AS): the whole budget from the high group
            decay, share = (1.0 if o['fixed_pi_high'] else o['decay']), 1.0
        every = buys_per_epoch if o['decay_every'] == 'epoch' else o['decay_every']
        return AdaptiveSampler(budget_pixels, pi_high, pi_low, decay, o['high_fraction'],
                               o['medium_fraction'], share, every)

    @staticmethod
    def score(main_logits: torch.Tensor, aux_logits: torch.Tensor, gamma: float) -> torch.Tensor:
        """(N, H, W) uncertainty of the main and auxiliary heads (Eq. 1-3)."""
        return two_head_uncertainty(main_logits, aux_logits, gamma)
