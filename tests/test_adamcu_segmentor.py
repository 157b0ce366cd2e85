"""ADAMCUSegmentor on the real tiny SynthShift model and data: one train_step with a real
OptimWrapper (SGD), the pseudo-label / contrastive terms, the DCCM, the build-time errors.

The model is configs/_base_/models/tiny_synthshift.py turned into ADAMCUSegmentor with an
auxiliary FCNHead on the backbone's first feature map (in_index 0, 24 channels, 1/2 resolution
like the decode head, 19 classes, loss weight 0.4 as DeepLab's auxiliary classifier, l. 338-340
of the paper) - the uncertainty's KL term needs it. The target labels of the batch are masked
to ~10% of the pixels, as after an active-selection round (255 = not labelled)."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from adamcu_three_steps import make_batch
from mmengine.optim import OptimWrapper
from runner_utils import REPO

from mmseg_ext.ops.uncertainty import two_head_uncertainty as uncertainty
from mmseg.registry import MODELS

AUX = dict(type='FCNHead', in_channels=24, in_index=0, channels=16, num_convs=1, kernel_size=1,
           concat_input=False, dropout_ratio=0.0, num_classes=19,
           norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
           loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4,
                            avg_non_ignore=True))


def _model_cfg(**overrides):
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/tiny_synthshift.py'))
    model = copy.deepcopy(cfg.model.to_dict())
    model.update(type='ADAMCUSegmentor', auxiliary_head=copy.deepcopy(AUX), pi_high=0.9,
                 pi_low=0.5, projection=dict(channels=16),
                 contrastive_loss=dict(type='MultiLevelContrastiveLoss',
                                       max_anchors_per_class=16, max_positives_per_class=32,
                                       max_negatives_per_class=32))
    model.update(overrides)
    return model


def _build(**overrides):
    torch.manual_seed(0)
    return MODELS.build(_model_cfg(**overrides))


@pytest.fixture(scope='module')
def batch(synthshift_root):
    return make_batch(synthshift_root)


def _calibrate(model, data):
    """Thresholds at the 1/3 and 2/3 quantiles of the untrained model's target uncertainty, so
    that all three groups are populated."""
    with torch.no_grad():
        out = model.domain_forward(data['target_inputs'], data['target_data_samples'])
        u = uncertainty(out.logits, out.aux_logits, model.gamma).flatten()
    model.pi_low, model.pi_high = (float(u.quantile(q)) for q in (1 / 3, 2 / 3))


def _step(model, data):
    model.train()
    ow = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    return model.train_step(copy.deepcopy(data), ow)


def test_train_step_losses_grads_and_dccm(batch):
    model = _build()
    _calibrate(model, batch)
    assert torch.equal(model.dccm.weights, torch.zeros(19, 19))
    proj = [p.detach().clone() for p in model.projection.parameters()]
    log_vars = _step(model, batch)
    for key in ('loss', 'decode.loss_ce', 'aux.loss_ce', 'tgt.decode.loss_ce', 'loss_pseudo',
                'loss_mcu'):
        assert key in log_vars, (key, sorted(log_vars))
        assert torch.isfinite(torch.as_tensor(log_vars[key])), key
    assert log_vars['loss_pseudo'] > 0 and log_vars['loss_mcu'] > 0
    assert log_vars['mcu.num_anchors'] > 0
    # SGD without momentum / weight decay: a changed projection weight = a gradient reached it
    assert any(not torch.equal(a, b.detach()) for a, b in zip(proj, model.projection.parameters()))
    W = model.dccm.weights
    assert W.abs().sum() > 0 and torch.isfinite(W).all()
    sd = model.state_dict()
    assert 'dccm.weights' in sd and torch.equal(sd['dccm.weights'], W)
    assert any(k.startswith('projection.') for k in sd)


def test_switches_remove_terms(batch):
    model = _build(pseudo_label_weight=0.0)
    _calibrate(model, batch)
    log_vars = _step(model, batch)
    assert 'loss_pseudo' not in log_vars and 'loss_mcu' in log_vars

    model = _build(contrastive_loss=None)
    _calibrate(model, batch)
    assert model.projection is None
    log_vars = _step(model, batch)
    assert 'loss_mcu' not in log_vars and 'loss_pseudo' in log_vars
    assert model.dccm.weights.abs().sum() > 0  # still updated

    model = _build(use_dccm=False)
    assert model.dccm is None and 'dccm.weights' not in model.state_dict()


@pytest.mark.parametrize('overrides, match', [
    (dict(pi_low=0.9, pi_high=0.5), 'pi_low <= pi_high'),
    (dict(gamma=-0.1), 'gamma'),
    (dict(auxiliary_head=None), 'auxiliary_head is required'),
    (dict(dccm_momentum=1.0), 'momentum'),
])
def test_bad_args_raise_at_build(overrides, match):
    with pytest.raises(ValueError, match=match):
        _build(**overrides)
