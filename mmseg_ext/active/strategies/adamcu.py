"""ADA-MCU (paper 004): adaptive sampling (Algorithm 1), bought online during training.

Options: decay [0.9] (r of Algorithm 1 step 7), high_fraction [0.5] (the share of the high
group's unbought pixels bought per iteration, footnote 3), medium_fraction [0.5],
adaptive_sampling [True] (False: the paper's "AL (w/o AS)" ablation: the whole budget from the
high group at a fixed pi_high, AdaptiveSampler(decay=1, high_share=1)), decay_every [1]
(decay pi_high at every buying iteration, as Algorithm 1; every k of them; or 'epoch': once per
pass over the target set, the text's "in each training epoch").
"""
import torch

from ..adamcu import AdaptiveSampler
from ..checks import check_fraction, is_int
from ..scores import two_head_uncertainty
from .base import Strategy, register_strategy


@register_strategy
class AdaMCU(Strategy):
    name = 'ADA-MCU'
    scope = 'online'
    unit = 'pixel'
    defaults = {'decay': 0.9, 'high_fraction': 0.5, 'medium_fraction': 0.5,
                'adaptive_sampling': True, 'decay_every': 1}

    def validate(self):
        o = self.options
        try:
            for key in ('decay', 'high_fraction', 'medium_fraction'):
                check_fraction(key, o[key])
        except ValueError as err:
            raise ValueError(f'{self.name}: {err}') from None
        if not isinstance(o['adaptive_sampling'], bool):
            self.bad('adaptive_sampling', 'a bool')
        if o['decay_every'] != 'epoch' and not is_int(o['decay_every'], 1):
            self.bad('decay_every', "an int >= 1 or 'epoch'")

    def sampler(self, budget_pixels: int, pi_high: float, pi_low: float,
                buys_per_epoch: int) -> AdaptiveSampler:
        """A fresh AdaptiveSampler of ``budget_pixels`` (M_e) with these options."""
        o = self.options
        decay, share = (o['decay'], 0.5) if o['adaptive_sampling'] else (1.0, 1.0)
        every = buys_per_epoch if o['decay_every'] == 'epoch' else o['decay_every']
        return AdaptiveSampler(budget_pixels, pi_high, pi_low, decay, o['high_fraction'],
                               o['medium_fraction'], share, every)

    @staticmethod
    def score(main_logits: torch.Tensor, aux_logits: torch.Tensor, gamma: float) -> torch.Tensor:
        """(N, H, W) uncertainty of the main and auxiliary heads (Eq. 1-3)."""
        return two_head_uncertainty(main_logits, aux_logits, gamma)
