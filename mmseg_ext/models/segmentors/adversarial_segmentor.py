from contextlib import contextmanager

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

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


@MODELS.register_module()
class AdversarialSegmentor(ADASegmentor):
    """ADASegmentor trained with AdaptSegNet-style output-space adversarial UDA (the ADeADA /
    D2ADA warm-up before the active rounds).

    One `train_step` on a two-domain batch, as in the reference (both softmaxes are taken on
    the logits upsampled to the input size):
    1. G step, optimiser wrapper 'segmentor', with the discriminator's parameters frozen: the
       supervised source losses and the method losses of ADASegmentor, plus
       `loss_adv = adv_weight * BCE(D(softmax(target)), source label 0)`.
    2. D step, wrapper 'discriminator': `loss_d_src = BCE(D(softmax(source)), 0) / 2` and
       `loss_d_tgt = BCE(D(softmax(target)), 1) / 2` on the detached softmaxes of step 1.
    `optim_wrapper` is therefore an OptimWrapperDict with the keys 'segmentor' and
    'discriminator' (AdversarialOptimWrapperConstructor builds it). The target labels are
    never used: unlike ADASegmentor there is no supervised target loss, whatever the target
    dataset loads. Logged: the supervised losses, `loss_adv` (weighted, as summed into the G
    loss), `loss_d_src`, `loss_d_tgt` and `loss` (the G total).

    `adv_weight=0.0005` is D2ADA's lambda_adv; AdaptSegNet's single-level setting uses 0.001.
    `discriminator.num_classes` defaults to the decode head's output channels. Validation and
    prediction are EncoderDecoder's; a checkpoint loads into a plain ADASegmentor /
    EncoderDecoder with `strict=False` (the `discriminator.*` keys are then unexpected).
    """
    SOURCE_LABEL = 0.0
    TARGET_LABEL = 1.0

    def __init__(self, discriminator=dict(type='FCDiscriminator'), adv_weight=0.0005, **kwargs):
        super().__init__(**kwargs)
        discriminator = dict(discriminator)
        discriminator.setdefault('num_classes', self.decode_head.out_channels)
        self.discriminator = MODELS.build(discriminator)
        self.adv_weight = float(adv_weight)

    def domain_bce(self, probs, label):
        out = self.discriminator(probs)
        return F.binary_cross_entropy_with_logits(out, torch.full_like(out, label))

    def train_step(self, data, optim_wrapper):
        if 'target_inputs' not in data:
            raise ValueError('AdversarialSegmentor: the batch has no target_inputs (train on a '
                             'TwoDomainDataset)')
        keys = set(optim_wrapper.keys()) if hasattr(optim_wrapper, 'keys') else set()
        if not {'segmentor', 'discriminator'} <= keys:
            raise ValueError('AdversarialSegmentor: optim_wrapper must be an OptimWrapperDict '
                             "with 'segmentor' and 'discriminator' (constructor="
                             "'AdversarialOptimWrapperConstructor')")
        seg_wrapper, d_wrapper = optim_wrapper['segmentor'], optim_wrapper['discriminator']
        with frozen(self.discriminator):
            with seg_wrapper.optim_context(self):
                source = self.domain_forward(data['inputs'], data['data_samples'])
                target = self.domain_forward(data['target_inputs'], data['target_data_samples'])
                losses = self.supervised_losses(source, prefix='')
                losses.update(self.method_losses(source, target))
                tgt_probs = target.logits_full.softmax(1)
                losses['loss_adv'] = self.adv_weight * self.domain_bce(tgt_probs,
                                                                       self.SOURCE_LABEL)
            parsed, log_vars = self.parse_losses(losses)
            seg_wrapper.update_params(parsed)

        src_probs = source.logits_full.detach().softmax(1)
        with d_wrapper.optim_context(self):
            d_losses = dict(loss_d_src=self.domain_bce(src_probs, self.SOURCE_LABEL) / 2,
                            loss_d_tgt=self.domain_bce(tgt_probs.detach(), self.TARGET_LABEL) / 2)
        d_loss, d_log_vars = self.parse_losses(d_losses)
        d_wrapper.update_params(d_loss)
        log_vars.update((k, v) for k, v in d_log_vars.items() if k != 'loss')
        return log_vars
