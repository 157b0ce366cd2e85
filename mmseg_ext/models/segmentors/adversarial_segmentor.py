from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.utils import resize
from mmseg.registry import MODELS

from mmseg_ext.ops.uncertainty import self_information

from ..losses.entropy_loss import EntropyLoss
from .ada_segmentor import ADASegmentor


@contextmanager
def frozen(module):
    """Parameters of `module` do not require grad inside the block (restored afterwards)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def _check_weight(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        expected = 'None or a number >= 0' if allow_none else 'a number >= 0'
        raise ValueError(f'AdversarialSegmentor: {name}={value!r}, expected {expected}')
    return float(value)


@MODELS.register_module()
class AdversarialSegmentor(ADASegmentor):
    """ADASegmentor trained with output-space adversarial UDA: AdaptSegNet (the ADeADA / D2ADA
    warm-up before the active rounds, the default) or ADVENT (POINT-ENT's G1 and G2), or with
    ADVENT's MinEnt.

    Options (the defaults are AdaptSegNet's single level, the behaviour of every config that
    does not set them):
    - `discriminator_input`: what a discriminator sees, computed on the logits upsampled to the
      input size. 'softmax' (AdaptSegNet) the class probabilities; 'self_information' (ADVENT)
      the weighted self-information maps `-p * log2(p + 1e-30) / log2(C)` of all C channels
      (`mmseg_ext.ops.uncertainty.self_information`).
    - levels: `adv_weight` weighs the main (decode head) level; `aux_adv_weight` None (default)
      means one level, a number adds the auxiliary head's level (the first auxiliary head, its
      logits upsampled to the input size with its own align_corners) with a discriminator of
      its own and that weight. ADVENT: 0.001 main, 0.0002 aux. The supervised (seg) weights are
      the heads' own `loss_decode.loss_weight` (ADVENT: 1.0 main, 0.1 aux).
    - `alignment`: 'adversarial' (default) or 'minent': ADVENT's MinEnt, no discriminator, the
      target term is `adv_weight * EntropyLoss(main) + aux_adv_weight * EntropyLoss(aux)`.

    One adversarial `train_step` on a two-domain batch, as the references (both domains'
    discriminator inputs come from the logits upsampled to the input size):
    1. G step, optimiser wrapper 'segmentor', with every discriminator frozen: the supervised
       source losses and the method losses of ADASegmentor, plus, per level,
       `loss_adv = weight * BCE(D(x(target)), source label 0)`.
    2. D step, wrapper 'discriminator': per level `loss_d_src = BCE(D(x(source)), 0) / 2` and
       `loss_d_tgt = BCE(D(x(target)), 1) / 2` on the detached inputs of step 1.
    BCE is with logits, averaged over the discriminator's output map. `optim_wrapper` is an
    OptimWrapperDict with the keys 'segmentor' and 'discriminator'
    (AdversarialOptimWrapperConstructor builds it); with two levels the 'discriminator' wrapper
    holds both discriminators. Its optimiser (Adam in ADVENT) is per parameter, so one Adam over
    both equals ADVENT's two Adams with the same settings and schedule. MinEnt takes a plain
    OptimWrapper. The target labels are used only with `target_supervision=True` (POINT-ENT's
    G2: the supervised losses of ADASegmentor on the labelled target pixels, `tgt.*`, averaged
    over those pixels by the heads' avg_non_ignore CE); by default there is no supervised
    target loss, whatever the target dataset loads. Logged: the supervised losses, the main
    level's `loss_adv` (weighted, as summed into the G loss), `loss_d_src`, `loss_d_tgt`, the aux
    level's `aux.loss_adv`, `aux.loss_d_src`, `aux.loss_d_tgt`, MinEnt's `loss_ent` and
    `aux.loss_ent` (weighted), and `loss` (the G total).

    `adv_weight=0.0005` is D2ADA's lambda_adv; AdaptSegNet's single-level setting uses 0.001.
    `discriminator` (one config, built once per level) has `num_classes` default to its level's
    head output channels. With one level the discriminator is `self.discriminator` (state dict
    keys `discriminator.*`); with two, `self.discriminator` is a ModuleDict with 'main' and
    'aux'. Validation and prediction are EncoderDecoder's; a checkpoint loads into a plain
    ADASegmentor / EncoderDecoder with `strict=False` (the `discriminator.*` keys are then
    unexpected).
    """
    SOURCE_LABEL = 0.0
    TARGET_LABEL = 1.0
    ALIGNMENTS = ('adversarial', 'minent')
    DISCRIMINATOR_INPUTS = ('softmax', 'self_information')

    def __init__(self, discriminator=dict(type='FCDiscriminator'), adv_weight=0.0005,
                 aux_adv_weight=None, discriminator_input='softmax', alignment='adversarial',
                 target_supervision=False, **kwargs):
        if alignment not in self.ALIGNMENTS:
            raise ValueError(f'AdversarialSegmentor: alignment={alignment!r}, expected one of '
                             f'{self.ALIGNMENTS}')
        if discriminator_input not in self.DISCRIMINATOR_INPUTS:
            raise ValueError(f'AdversarialSegmentor: discriminator_input='
                             f'{discriminator_input!r}, expected one of '
                             f'{self.DISCRIMINATOR_INPUTS}')
        adv_weight = _check_weight('adv_weight', adv_weight)
        aux_adv_weight = _check_weight('aux_adv_weight', aux_adv_weight, allow_none=True)
        super().__init__(**kwargs)
        self.alignment = alignment
        self.discriminator_input = discriminator_input
        self.target_supervision = bool(target_supervision)
        self.levels = ('main',) if aux_adv_weight is None else ('main', 'aux')
        if 'aux' in self.levels and not self.with_auxiliary_head:
            raise ValueError('AdversarialSegmentor: aux_adv_weight is set but the model has no '
                             'auxiliary_head (the aux level needs its logits)')
        self.adv_weight = adv_weight
        self.aux_adv_weight = aux_adv_weight
        self.level_weights = dict(main=adv_weight, aux=aux_adv_weight)
        if alignment == 'minent':
            self.entropy_loss = EntropyLoss()
            return
        built = {}
        for level in self.levels:
            cfg = dict(discriminator)
            cfg.setdefault('num_classes', self._level_head(level).out_channels)
            built[level] = MODELS.build(cfg)
        self.discriminator = built['main'] if len(built) == 1 else nn.ModuleDict(built)

    @property
    def uses_target_labels(self) -> bool:
        """Whether training reads target labels (only with target_supervision)."""
        return self.target_supervision

    # ------------------------------------------------------------------------ levels

    def _level_head(self, level):
        if level == 'main':
            return self.decode_head
        head = self.auxiliary_head
        return head[0] if isinstance(head, nn.ModuleList) else head

    def discriminator_of(self, level='main'):
        return self.discriminator if len(self.levels) == 1 else self.discriminator[level]

    def level_logits(self, out, level):
        """(N, C, H, W) logits of `level` ('main' or 'aux') upsampled to the input size."""
        if level == 'main':
            return out.logits_full
        return resize(out.aux_logits, size=out.inputs.shape[2:], mode='bilinear',
                      align_corners=self._level_head('aux').align_corners)

    def discriminator_inputs(self, logits_full):
        """What a discriminator sees of upsampled logits: the softmax or its weighted
        self-information maps (`discriminator_input`)."""
        probs = logits_full.softmax(1)
        return probs if self.discriminator_input == 'softmax' else self_information(probs)

    @staticmethod
    def _name(key, level):
        return key if level == 'main' else f'{level}.{key}'

    def domain_bce(self, inputs, label, level='main'):
        out = self.discriminator_of(level)(inputs)
        return F.binary_cross_entropy_with_logits(out, torch.full_like(out, label))

    # ------------------------------------------------------------------------ training

    def train_step(self, data, optim_wrapper):
        if 'target_inputs' not in data:
            raise ValueError('AdversarialSegmentor: the batch has no target_inputs (train on a '
                             'TwoDomainDataset)')
        keys = set(optim_wrapper.keys()) if hasattr(optim_wrapper, 'keys') else set()
        if self.alignment == 'minent':
            if keys:
                raise ValueError("AdversarialSegmentor: alignment='minent' trains no "
                                 'discriminator, optim_wrapper must be a plain OptimWrapper')
            return self._minent_step(data, optim_wrapper)
        if not {'segmentor', 'discriminator'} <= keys:
            raise ValueError('AdversarialSegmentor: optim_wrapper must be an OptimWrapperDict '
                             "with 'segmentor' and 'discriminator' (constructor="
                             "'AdversarialOptimWrapperConstructor')")
        seg_wrapper, d_wrapper = optim_wrapper['segmentor'], optim_wrapper['discriminator']
        with frozen(self.discriminator):
            with seg_wrapper.optim_context(self):
                source, target, losses = self._forward_both(data)
                tgt_inputs = {}
                for level in self.levels:
                    tgt_inputs[level] = self.discriminator_inputs(self.level_logits(target,
                                                                                    level))
                    losses[self._name('loss_adv', level)] = self.level_weights[level] * \
                        self.domain_bce(tgt_inputs[level], self.SOURCE_LABEL, level)
            parsed, log_vars = self.parse_losses(losses)
            seg_wrapper.update_params(parsed)

        d_losses = {}
        with d_wrapper.optim_context(self):
            for level in self.levels:
                src_inputs = self.discriminator_inputs(self.level_logits(source, level).detach())
                d_losses[self._name('loss_d_src', level)] = \
                    self.domain_bce(src_inputs, self.SOURCE_LABEL, level) / 2
                d_losses[self._name('loss_d_tgt', level)] = \
                    self.domain_bce(tgt_inputs[level].detach(), self.TARGET_LABEL, level) / 2
        d_loss, d_log_vars = self.parse_losses(d_losses)
        d_wrapper.update_params(d_loss)
        log_vars.update((k, v) for k, v in d_log_vars.items() if k != 'loss')
        return log_vars

    def _forward_both(self, data):
        source = self.domain_forward(data['inputs'], data['data_samples'])
        target = self.domain_forward(data['target_inputs'], data['target_data_samples'])
        losses = self.supervised_losses(source, prefix='')
        if self.target_supervision and bool((target.label != self.decode_head.ignore_index).any()):
            losses.update(self.supervised_losses(target, prefix='tgt.'))
        losses.update(self.method_losses(source, target))
        return source, target, losses

    def _minent_step(self, data, optim_wrapper):
        with optim_wrapper.optim_context(self):
            _, target, losses = self._forward_both(data)
            for level in self.levels:
                losses[self._name('loss_ent', level)] = self.level_weights[level] * \
                    self.entropy_loss(self.level_logits(target, level))
        parsed, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        return log_vars
