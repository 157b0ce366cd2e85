"""ADA-MCU segmentor: the training losses of "active domain adaptation with multi-level
contrastive units" on top of ADASegmentor's two-domain step ('l. N' = line N of
papers/004_1ecdab4497048225.txt). The pixel purchase itself (AdaptiveSampler, Algorithm 1) is
an active hook's job; here the labelled target pixels are whatever the batch's target labels
hold (255 = not labelled).

Per training step, on top of the parent's supervised CE (source: all pixels, Eq. 6's
L_seg^{Gs}; target: the labelled pixels, Eq. 4's L_seg^{Gh,Gm}) and its source/target losses:

1. Uncertainty (Eq. 1-3, l. 291-326) of both domains at the input (= label) resolution:
   ``uncertainty(logits_full, aux_full, gamma)`` with the first auxiliary head's logits
   bilinearly upsampled like the main ones, grouped by ``uncertainty_groups(u, pi_high,
   pi_low)`` (2 high, 1 medium, 0 low; l. 330-335). No gradient.
2. DCCM (Eq. 7-8): ``CategoryCorrelation.update(argmax(source logits_full), source label)``
   once per step, BEFORE the losses (Algorithm 1 step 14, l. 705-706: "Update W ... Calculate
   segmentation loss and multi-level contrastive losses"); its weights (a buffer, saved in
   the state_dict as ``dccm.weights``) are passed to the contrastive loss. use_dccm=False
   builds no DCCM and passes None (plain InfoNCE).
3. ``loss_pseudo`` (Eq. 5, l. 455-467): CE of the main logits (full resolution) against their
   own detached argmax on pseudo-labelled target pixels, averaged over those pixels (0 with a
   graph when there are none), times pseudo_label_weight. Which pixels (``pseudo_label_sampling``):
     'balanced' (default, the paper's adaptive sampling): Sec. III-B-2 (l. 361-375: "for each
       training batch ... we randomly select the same number of pixels in those three groups
       ... use the current predictions as pseudo labels to annotate those pixels selected by AS
       in G_l") and Algorithm 1 step 12 (l. 697-699: "Sample M_e/2 pixels from G_l"). The
       labelled target pixels of the batch are what G_h and G_m contributed (M_e/2 each over
       the run, l. 685-696), so per batch k = ceil(n_labelled / 2) pixels (the share of one
       group) are drawn uniformly without replacement from the unlabelled low-group pixels of
       the whole batch (all of them when fewer), by a generator of the segmentor's own seeded
       from torch.initial_seed() at build (the global RNG is untouched; a resumed run restarts
       it). No labelled pixel in the batch: no pseudo label.
     'all' (the code before issue 21; also the paper's "AL (w/o AS)" degradation model, l.
       904-907: "all of the pixels from the low uncertainty group (i.e. pixels with pseudo
       labels)"): every unlabelled low-group pixel, every iteration.
   The same pseudo-labelled pixels (and only those) enter the contrastive loss's target labels.
   ``pseudo.num_pixels`` logs how many there were. The paper writes the pseudo label as
   softmax(p) (l. 463); the hard argmax is used, as the brief and the AS annotation text
   ("use the current predictions as pseudo labels", l. 367-369) say. pseudo_label_weight=0
   drops the term (no log var).
4. ``loss_mcu`` (Eq. 9-11, l. 524-585): MultiLevelContrastiveLoss on the projected embeddings
   at the decode head's logits resolution. Embeddings = projection(decode-head features
   that enter ``decode_head.conv_seg``), captured by a forward pre-hook on conv_seg (so after
   the head's dropout: 0 in the SynthShift and DeepLab-v2 configs, mmseg's 0.1 in the v3+ ones,
   kept identical to the ADeADA / MADA comparison model; any BaseDecodeHead with a 1x1 conv_seg
   works and the features have the logits' size). Projection = Conv1x1(in, hidden) - ReLU -
   Conv1x1(hidden, channels) (pixel-contrast heads, Wang et al. ICCV'21 = [25]/[18]; the loss
   L2-normalises). Resolution (``contrastive_resolution``):
     'label' (default): labels, predictions (argmax of the label-size logits), groups and
       masks stay at the label resolution and the loss takes each sampled anchor's and pool
       pixel's embedding by bilinear sampling of the projected map at that pixel's centre
       (F.grid_sample, the model's align_corners), as pixel-contrast methods do for sparse
       labels: every bought pixel can reach the loss. Only the category centres are formed at
       the embedding resolution (nearest-downsampled masks; centres use predictions, not bought
       labels). Sec. III-C-2 (l. 396-400) takes anchors, positives and negatives among the
       labelled pixels; the paper does not say at which resolution.
     'decoder' (the code before issue 21): everything nearest-downsampled to the logits' size;
       with 5% sparse bought pixels about 1/stride^2 of them survive (26% at SynthShift's
       stride 2, 1.6% at DeepLab-v2's stride 8: benchmarks/bench_adamcu_bought_pixels.py).
   ``mcu.tgt_bought`` logs how many bought (ground-truth) target pixels the loss was given.
   Masks given to the loss:
     tgt_high_uncertainty = target group 2 (G_h^t, anchors need also label != pred, l. 391-395);
     src_centre_mask / tgt_centre_mask = group 0 (G_l) of each domain: "we use those pixels
       from the low uncertainty group ... to generate the category center ... for each domain"
       (l. 349-360) - the source groups come from the source's own uncertainty (l. 330-333
       "divide both source and target image pixels into three groups"). The loss itself drops
       centre pixels whose known label disagrees with the prediction, so on the source these
       are the correctly predicted low-uncertainty pixels.
     tgt_label = the target labels plus, on the unlabelled low-group pixels, the pseudo
       labels (argmax) of the pseudo-labelled pixels of 3. - AS "annotates" G_l with
       predictions (l. 367-369, Algorithm 1 step 12) and the pool draws from all three groups
       (l. 1511-1514). Pseudo-labelled pixels never
       become anchors (their label equals the prediction).
   contrastive_loss=None (or loss_weight 0) drops the term and builds no projection head.
   The loss's last_stats['num_anchors'] is logged as ``mcu.num_anchors``.

A single-domain batch (source-only or the parent's source-free 'target' stage) gets only the
terms its domain supports: the DCCM update with a source, the pseudo-label CE with a target;
the contrastive loss needs both.
"""
import dataclasses

import torch
import torch.nn.functional as F
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import nn

from mmseg_ext.ops.category_correlation import CategoryCorrelation
from mmseg_ext.ops.checks import check_real
from mmseg_ext.ops.rng import rng_state, set_rng_state
from mmseg_ext.ops.uncertainty import check_thresholds, uncertainty_groups
from mmseg_ext.ops.uncertainty import two_head_uncertainty as uncertainty

from ..losses.contrastive_roles import nearest_resize as _nearest
from .ada_segmentor import ADASegmentor, DomainOutputs
from .replay import AddGrad, running_statistics_kept

LOW, MEDIUM, HIGH = 0, 1, 2
PSEUDO_LABEL_SAMPLING = ('balanced', 'all')
CONTRASTIVE_RESOLUTION = ('label', 'decoder')


@dataclasses.dataclass
class MCUDomainOutputs(DomainOutputs):
    """DomainOutputs plus the decode head's pre-classifier features (N, K, h, w)."""
    decode_feats: torch.Tensor = None


@MODELS.register_module()
class ADAMCUSegmentor(ADASegmentor):
    """ADASegmentor with ADA-MCU's pseudo-label CE, DCCM and multi-level contrastive loss;
    see the module docstring. Needs an auxiliary head (for the uncertainty's KL term). Its
    contrastive loss ties the source and target graphs: with `backward_per_domain` (the
    default) the target pass is run twice, once without a graph (`_train_step_per_domain`)."""

    def __init__(self, pi_high=None, pi_low=None, gamma=0.5, dccm_momentum=0.9,
                 pseudo_label_weight=1.0, contrastive_loss=dict(type='MultiLevelContrastiveLoss'),
                 projection=dict(channels=128), use_dccm=True,
                 pseudo_label_sampling='balanced', contrastive_resolution='label', **kwargs):
        self.check_args(pi_high=pi_high, pi_low=pi_low, gamma=gamma,
                        dccm_momentum=dccm_momentum, pseudo_label_weight=pseudo_label_weight,
                        contrastive_loss=contrastive_loss, projection=projection,
                        use_dccm=use_dccm, pseudo_label_sampling=pseudo_label_sampling,
                        contrastive_resolution=contrastive_resolution, **kwargs)
        super().__init__(**kwargs)
        self.pi_high, self.pi_low = float(pi_high), float(pi_low)
        self.gamma = float(gamma)
        self.pseudo_label_weight = float(pseudo_label_weight)
        self.pseudo_label_sampling = pseudo_label_sampling
        self.contrastive_resolution = contrastive_resolution
        # the balanced pseudo-label draw has a generator of its own (the global RNG, which the
        # contrastive loss's sampling uses, is left as it was)
        self._pseudo_generator = torch.Generator().manual_seed(torch.initial_seed())
        num_classes = self.decode_head.num_classes
        self.dccm = CategoryCorrelation(num_classes, dccm_momentum) if use_dccm else None
        self.contrastive_loss = None
        self.projection = None
        if contrastive_loss is not None:
            self.contrastive_loss = MODELS.build(contrastive_loss)
            projection = dict(projection)
            in_ch = self.decode_head.conv_seg.in_channels
            hidden = projection.get('hidden_channels', in_ch)
            self.projection = nn.Sequential(
                nn.Conv2d(in_ch, hidden, 1), nn.ReLU(inplace=True),
                nn.Conv2d(hidden, projection['channels'], 1))
        self._capture = False
        self._captured = None
        self._inject = None
        self.decode_head.conv_seg.register_forward_pre_hook(self._capture_decode_feats)

    @staticmethod
    def check_args(pi_high=None, pi_low=None, gamma=0.5, dccm_momentum=0.9,
                   pseudo_label_weight=1.0, contrastive_loss=None, projection=None,
                   use_dccm=True, auxiliary_head=None, pseudo_label_sampling='balanced',
                   contrastive_resolution='label', **_):
        """Validate the ADA-MCU arguments without building the model (sweeps check every
        trial's config with it before anything starts); one-line ValueErrors."""
        try:
            if pi_high is None or pi_low is None:
                raise ValueError(f'pi_high and pi_low are required, got pi_high={pi_high!r}, '
                                 f'pi_low={pi_low!r}')
            check_thresholds(pi_high, pi_low)
            check_real('gamma', gamma)
            check_real('pseudo_label_weight', pseudo_label_weight)
            if pseudo_label_sampling not in PSEUDO_LABEL_SAMPLING:
                raise ValueError(f'pseudo_label_sampling must be one of {PSEUDO_LABEL_SAMPLING}'
                                 f', got {pseudo_label_sampling!r}')
            if contrastive_resolution not in CONTRASTIVE_RESOLUTION:
                raise ValueError(f'contrastive_resolution must be one of '
                                 f'{CONTRASTIVE_RESOLUTION}, got {contrastive_resolution!r}')
            if use_dccm:
                CategoryCorrelation(1, dccm_momentum)  # its momentum check
            if auxiliary_head is None:
                raise ValueError("auxiliary_head is required (the uncertainty's KL term "
                                 'compares the main and the auxiliary head)')
            if contrastive_loss is not None:
                MODELS.build(contrastive_loss)  # its own checks; cheap
                if 'channels' not in dict(projection or {}):
                    raise ValueError(f'projection needs channels, got {projection!r}')
        except ValueError as e:
            raise ValueError(f'ADAMCUSegmentor: {e}') from None

    # ------------------------------------------------------------------ features
    def _capture_decode_feats(self, module, args):
        if self._capture and self._inject is not None:  # recomputed target pass: L_con's grad
            self._captured = AddGrad.apply(args[0], self._inject)
            return (self._captured,)
        if self._capture:
            self._captured = args[0]

    @property
    def _mcu_enabled(self):
        return self.contrastive_loss is not None and \
            getattr(self.contrastive_loss, 'loss_weight', 1.0) != 0

    @property
    def couples_domains(self):
        return self._mcu_enabled

    def _train_step_per_domain(self, data, optim_wrapper):
        """`backward_per_domain` when the contrastive loss ties the domains: (1) the source
        pass with its graph; the target pass without one (its decode features a leaf; random
        state and norm statistics put back); every loss, and the backward of the source's and
        the contrastive one, which gives the contrastive gradient at the target features; (2)
        the target pass again with its graph (the same random state, so the same values), its
        losses backpropagated with that gradient added at its decode features (AddGrad). One
        domain's activations are alive at a time, for one more target forward pass; the same
        bits as one backward of the sum (tests/test_backward_per_domain.py)."""
        if not self.couples_domains:
            return super()._train_step_per_domain(data, optim_wrapper)
        target_batch = (data['target_inputs'], data['target_data_samples'])
        with optim_wrapper.optim_context(self):
            source = self.domain_forward(data['inputs'], data['data_samples'])
            before_target = rng_state()
            with torch.no_grad(), running_statistics_kept(self):
                target = self.domain_forward(*target_batch)
            target.decode_feats.requires_grad_()
            src_sup = self.supervised_losses(source, prefix='')
            method, pseudo_labels = self._method_losses(source, target)
            after_losses = rng_state()
        self._backward_part(optim_wrapper, {**src_sup, **{
            k: v for k, v in method.items() if isinstance(v, torch.Tensor) and v.requires_grad}},
            last=False)
        contrastive_grad = target.decode_feats.grad
        del source, target
        set_rng_state(before_target)
        with optim_wrapper.optim_context(self):
            self._inject = contrastive_grad
            try:
                target = self.domain_forward(*target_batch)
            finally:
                self._inject = None
            set_rng_state(after_losses)
            tgt_sup = {}
            if bool((target.label != self.decode_head.ignore_index).any()):
                tgt_sup = self.supervised_losses(target, prefix='tgt.')
            tgt_losses = ADASegmentor.method_losses(self, None, target)
            if pseudo_labels is not None:
                tgt_losses['loss_pseudo'] = self._pseudo_loss(target, pseudo_labels)
            if not any('loss' in key for key in {**tgt_sup, **tgt_losses}):
                tgt_losses['loss_none'] = target.logits.sum() * 0  # the gradient still flows
        self._backward_part(optim_wrapper, {**tgt_sup, **tgt_losses}, last=True)
        logged = {k: v.detach() if isinstance(v, torch.Tensor) else v
                  for k, v in {**src_sup, **tgt_sup, **method}.items()}
        return self.parse_losses(logged)[1]

    def domain_forward(self, inputs, data_samples):
        self._capture, self._captured = self._mcu_enabled, None
        try:
            out = super().domain_forward(inputs, data_samples)
        finally:
            feats, self._capture, self._captured = self._captured, False, None
        return MCUDomainOutputs(**{f.name: getattr(out, f.name)
                                   for f in dataclasses.fields(DomainOutputs)},
                                decode_feats=feats)

    # ------------------------------------------------------------------ losses
    @torch.no_grad()
    def _groups(self, out):
        """(N, H, W) uncertainty groups at the label resolution."""
        aux = out.aux_logits
        aux_full = resize(aux, size=out.logits_full.shape[2:], mode='bilinear',
                          align_corners=self.align_corners)
        u = uncertainty(out.logits_full.detach(), aux_full.detach(), self.gamma)
        return uncertainty_groups(u, self.pi_high, self.pi_low)

    def method_losses(self, source, target):
        return self._method_losses(source, target)[0]

    def _method_losses(self, source, target):
        """method_losses, and the pseudo-label targets of loss_pseudo (None without it)."""
        losses = super().method_losses(source, target)
        ignore = self.decode_head.ignore_index
        if source is not None and self.dccm is not None:
            with torch.no_grad():
                self.dccm.update(source.logits_full.detach().argmax(1), source.label)
        src_groups = tgt_groups = pseudo = None
        if target is not None and (self.pseudo_label_weight != 0 or
                                   (self._mcu_enabled and source is not None)):
            tgt_groups = self._groups(target)
            with torch.no_grad():
                pred = target.logits_full.detach().argmax(1)
                pseudo_mask = (tgt_groups == LOW) & (target.label == ignore)
                if self.pseudo_label_sampling == 'balanced':
                    pseudo_mask = self._balanced_pseudo_mask(pseudo_mask, target.label != ignore)
                pseudo = torch.where(pseudo_mask, pred, target.label)  # labels + pseudo labels
            losses['pseudo.num_pixels'] = pseudo_mask.sum().float()
        pl = None
        if target is not None and self.pseudo_label_weight != 0:
            pl = torch.where(pseudo_mask, pred, torch.full_like(pred, ignore))
            losses['loss_pseudo'] = self._pseudo_loss(target, pl)
        if source is not None and target is not None and self._mcu_enabled:
            src_groups = self._groups(source)
            losses.update(self._mcu_loss(source, target, src_groups, tgt_groups, pseudo))
        return losses, pl

    def _pseudo_loss(self, target, pl):
        """Eq. 5: CE against the pseudo labels `pl` (ignore elsewhere), mean over them."""
        ignore = self.decode_head.ignore_index
        ce = F.cross_entropy(target.logits_full, pl, ignore_index=ignore, reduction='sum')
        return self.pseudo_label_weight * ce / (pl != ignore).sum().clamp(min=1)

    @torch.no_grad()
    def _balanced_pseudo_mask(self, candidates, labelled):
        """Sec. III-B-2 / Algorithm 1 step 12: ceil(n_labelled / 2) of the candidate (unlabelled
        low-group) pixels of the batch, uniformly at random without replacement."""
        n_lab = int(labelled.sum())
        idx = candidates.flatten().nonzero().squeeze(1)
        k = min((n_lab + 1) // 2, idx.numel())
        out = torch.zeros_like(candidates)
        if k:
            pick = torch.randperm(idx.numel(), generator=self._pseudo_generator)[:k]
            out.view(-1)[idx[pick.to(idx.device)]] = True
        return out

    def _mcu_loss(self, source, target, src_groups, tgt_groups, tgt_label_full):
        def embed(out):
            if out.decode_feats is None:
                raise RuntimeError('ADAMCUSegmentor: decode-head features were not captured')
            return self.projection(out.decode_feats)

        src_embed, tgt_embed = embed(source), embed(target)
        ignore = self.decode_head.ignore_index
        with torch.no_grad():
            if self.contrastive_resolution == 'decoder':  # nearest-downsampled (pre-issue 21)
                s_size, t_size = tuple(source.logits.shape[2:]), tuple(target.logits.shape[2:])
                src_label = _nearest(source.label, s_size)
                tgt_label = _nearest(tgt_label_full, t_size)
                tgt_bought = _nearest(target.label != ignore, t_size)
                src_pred = source.logits.detach().argmax(1)
                tgt_pred = target.logits.detach().argmax(1)
                src_g, tgt_g = _nearest(src_groups, s_size), _nearest(tgt_groups, t_size)
                extra = {}
            else:  # label resolution, embeddings sampled bilinearly at the chosen pixels
                src_label, tgt_label = source.label, tgt_label_full
                tgt_bought = target.label != ignore
                src_pred = source.logits_full.detach().argmax(1)
                tgt_pred = target.logits_full.detach().argmax(1)
                src_g, tgt_g = src_groups, tgt_groups
                extra = dict(align_corners=self.align_corners)
        loss = self.contrastive_loss(
            src_embed, src_label, src_pred, tgt_embed, tgt_label, tgt_pred,
            tgt_high_uncertainty=tgt_g == HIGH, src_centre_mask=src_g == LOW,
            tgt_centre_mask=tgt_g == LOW,
            dccm_weights=self.dccm.weights if self.dccm is not None else None, **extra)
        stats = getattr(self.contrastive_loss, 'last_stats', {}) or {}
        out = {self.contrastive_loss.loss_name: loss,
               'mcu.tgt_bought': tgt_bought.sum().float()}
        if 'num_anchors' in stats:
            out['mcu.num_anchors'] = torch.tensor(float(stats['num_anchors']),
                                                  device=loss.device)
        return out
