from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS

from ..head_forward import forward_heads


@dataclass
class DomainOutputs:
    """What a method's losses may use of one domain's forward pass in a training step."""
    inputs: torch.Tensor             # (N, 3, H, W) preprocessed images
    data_samples: list
    feats: Tuple[torch.Tensor, ...]  # backbone (and neck) features
    logits: torch.Tensor             # (N, C, h, w) decode-head logits at head resolution
    aux_logits: Optional[torch.Tensor]  # first auxiliary head's logits, None without one
    label: torch.Tensor              # (N, H, W) long, 255 = not labelled
    logits_full: torch.Tensor        # logits bilinearly upsampled to the input size


def _as_list(cfgs):
    if cfgs is None:
        return []
    return list(cfgs) if isinstance(cfgs, (list, tuple)) else [cfgs]


@torch.no_grad()
def top1_accuracy(logits, label, ignore_index):
    """mmseg's `accuracy` (top-1, in %) for (N, C, H, W) logits; max over C is ~3x faster on
    CPU than its topk."""
    valid = label != ignore_index
    correct = (logits.max(1)[1] == label) & valid
    return correct.sum() * (100.0 / valid.sum().clamp(min=1))


@MODELS.register_module()
class ADASegmentor(EncoderDecoder):
    """EncoderDecoder trained on a source and a target batch per step (two-domain active DA).

    `train_step` takes what TwoDomainDataset yields (inputs, data_samples, target_inputs,
    target_data_samples): supervised loss on the source, supervised loss on the labelled target
    pixels only when the batch has any (RIPU skips the term before the first selection), plus the
    method's losses. `source_losses` are called as `loss(logits, label)` and `target_losses` as
    `loss(logits)`, both with logits upsampled to the input size as in RIPU; a loss whose
    `loss_weight` is 0 is skipped. Subclasses override `method_losses` for more. A single-domain
    batch (no target keys) is taken as `single_domain`: 'source' trains like EncoderDecoder (with
    the source losses), 'target' is RIPU's source-free stage (labelled target pixels plus the
    target losses). `predict`/validation are inherited, so a checkpoint is a plain mmseg model.

    `backward_per_domain` (default True): with two domains, each domain's losses are
    backpropagated right after its forward pass, so one domain's activations are alive at a time
    (the step's peak memory is about source-only's at the same per-domain batch, not twice it).
    The gradients are the same bits as one backward of the sum: the domains' graphs share only
    the parameters, each parameter gets one gradient from each domain, and two floating-point
    summands add the same in either order (tests/test_backward_per_domain.py checks it). False:
    one backward of the sum, as mmseg does. One backward also with gradient accumulation
    (`accumulative_counts` > 1: three or more summands per parameter, whose floating-point sum
    depends on the order). A method whose losses tie both domains' graphs (`couples_domains`:
    ADA-MCU's cross-domain contrastive loss) overrides `_train_step_per_domain`
    (ADAMCUSegmentor recomputes the target pass).
    """
    couples_domains = False

    def __init__(self, source_losses=None, target_losses=None, single_domain='source',
                 backward_per_domain=True, **kwargs):
        if single_domain not in ('source', 'target'):
            raise ValueError(f"ADASegmentor: single_domain={single_domain!r}, expected 'source' "
                             "or 'target'")
        super().__init__(**kwargs)
        self.single_domain = single_domain
        self.backward_per_domain = bool(backward_per_domain)
        self.source_losses = torch.nn.ModuleList(MODELS.build(c) for c in _as_list(source_losses))
        self.target_losses = torch.nn.ModuleList(MODELS.build(c) for c in _as_list(target_losses))

    def train_step(self, data, optim_wrapper):
        if 'target_inputs' in data and self.backward_per_domain and \
                getattr(optim_wrapper, '_accumulative_counts', 1) == 1:
            return self._train_step_per_domain(data, optim_wrapper)
        with optim_wrapper.optim_context(self):
            source = target = None
            losses = {}
            if 'target_inputs' in data or self.single_domain == 'source':
                source = self.domain_forward(data['inputs'], data['data_samples'])
                losses.update(self.supervised_losses(source, prefix=''))
            if 'target_inputs' in data:
                target = self.domain_forward(data['target_inputs'], data['target_data_samples'])
            elif self.single_domain == 'target':
                target = self.domain_forward(data['inputs'], data['data_samples'])
            if target is not None and bool((target.label != self.decode_head.ignore_index).any()):
                losses.update(self.supervised_losses(target, prefix='tgt.'))
            losses.update(self.method_losses(source, target))
            if not any('loss' in key for key in losses):  # nothing labelled yet, no extra loss
                losses['loss_none'] = (source or target).logits.sum() * 0
        parsed, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        return log_vars

    def _train_step_per_domain(self, data, optim_wrapper):
        """train_step with each domain's backward after its forward (`backward_per_domain`):
        the same forward passes, losses, logged values and gradients, in a different order."""
        ignore = self.decode_head.ignore_index
        with optim_wrapper.optim_context(self):
            source = self.domain_forward(data['inputs'], data['data_samples'])
            src_sup = self.supervised_losses(source, prefix='')
            src_method = self.method_losses(source, None)
        logged = [src_sup, {}, src_method, {}]  # the order train_step's dict has
        self._backward_part(optim_wrapper, {**src_sup, **src_method}, last=False)
        del source  # its activations went with its backward
        with optim_wrapper.optim_context(self):
            target = self.domain_forward(data['target_inputs'], data['target_data_samples'])
            if bool((target.label != ignore).any()):
                logged[1] = self.supervised_losses(target, prefix='tgt.')
            logged[3] = self.method_losses(None, target)
        self._backward_part(optim_wrapper, {**logged[1], **logged[3]}, last=True)
        detached = {k: v.detach() if isinstance(v, torch.Tensor) else v
                    for part in logged for k, v in part.items()}
        return self.parse_losses(detached)[1]

    def _backward_part(self, optim_wrapper, losses, last):
        """Backward of one domain's `losses` (if it has a loss term) through `optim_wrapper`, as
        its `update_params` does (loss scaling, AMP's loss scaler); after the `last` part, the
        update. mmengine counts backward calls as steps (`_inner_count`, which its schedulers
        and accumulation read): a step of two parts counts once."""
        if any('loss' in key for key in losses):
            optim_wrapper.backward(optim_wrapper.scale_loss(self.parse_losses(losses)[0]))
            optim_wrapper._inner_count -= 1
        if last:
            optim_wrapper._inner_count += 1
            if optim_wrapper.should_update():
                optim_wrapper.step()
                optim_wrapper.zero_grad()

    def domain_forward(self, inputs, data_samples):
        batch = self.data_preprocessor(dict(inputs=inputs, data_samples=data_samples), True)
        inputs, data_samples = batch['inputs'], batch['data_samples']
        feats, logits, aux_logits = forward_heads(self, inputs, self.with_auxiliary_head)
        label = torch.stack([s.gt_sem_seg.data for s in data_samples]).squeeze(1).long()
        logits_full = resize(logits, size=inputs.shape[2:], mode='bilinear',
                             align_corners=self.align_corners)
        return DomainOutputs(inputs, data_samples, feats, logits, aux_logits, label, logits_full)

    def supervised_losses(self, out, prefix):
        losses = {}
        for key, value in self.decode_losses(out).items():
            losses[f'{prefix}decode.{key}'] = value
        if self.with_auxiliary_head:
            losses.update({f'{prefix}{k}': v for k, v in
                           self._auxiliary_head_forward_train(out.feats, out.data_samples).items()})
        return losses

    def decode_losses(self, out):
        """The decode head's `loss_by_feat`, on the logits already upsampled to the label size
        (the same bilinear resize it would do again) when it has no pixel sampler."""
        head = self.decode_head
        if head.sampler is not None or out.logits_full.shape[-2:] != out.label.shape[-2:]:
            return head.loss_by_feat(out.logits, out.data_samples)
        losses = {}
        modules = head.loss_decode if isinstance(head.loss_decode, torch.nn.ModuleList) \
            else [head.loss_decode]
        for module in modules:
            value = module(out.logits_full, out.label, weight=None,
                           ignore_index=head.ignore_index)
            losses[module.loss_name] = losses[module.loss_name] + value \
                if module.loss_name in losses else value
        losses['acc_seg'] = top1_accuracy(out.logits_full, out.label, head.ignore_index)
        return losses

    def method_losses(self, source, target):
        losses = {}
        for loss in self.source_losses if source is not None else ():
            if getattr(loss, 'loss_weight', 1.0) != 0:
                losses[f'src.{loss.loss_name}'] = loss(source.logits_full, source.label)
        if target is not None:
            for loss in self.target_losses:
                if getattr(loss, 'loss_weight', 1.0) != 0:
                    losses[f'tgt.{loss.loss_name}'] = loss(target.logits_full)
        return losses
