"""ADASegmentor's `backward_per_domain` (each domain's losses backpropagated right after its
forward pass, so one domain's activations are alive at a time) trains the same bits as one
backward of the sum: after the same steps, every parameter, gradient-free buffer (BatchNorm
statistics) and optimiser state is equal (torch.equal), and so are the logged values. Checked
on the tiny SynthShift model with RIPU's losses (source: local consistency; target: negative
learning and the bought labels), with and without target labels, with gradient accumulation,
on DeepLab-v2 and DeepLab-v3+ ResNet-101 (the real configs' networks, random init, small
inputs), and per-domain uses less memory for saved activations."""
import copy
import os.path as osp

import pytest
import torch
from adamcu_three_steps import make_batch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from runner_utils import REPO

from mmseg.registry import MODELS

RIPU = Config.fromfile(osp.join(REPO, 'configs/_base_/active/ripu.py'))


def _tiny(**overrides):
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/tiny_synthshift.py'))
    model = copy.deepcopy(cfg.model.to_dict())
    model.update(source_losses=RIPU.ripu_source_losses, target_losses=RIPU.ripu_target_losses,
                 **overrides)
    return model


def _real(path):
    """The model of a real config, random init (nothing downloaded), small inputs."""
    cfg = Config.fromfile(osp.join(REPO, path))
    model = copy.deepcopy(cfg.model.to_dict())
    model.pop('pretrained', None)
    model['backbone'].pop('init_cfg', None)
    model.update(source_losses=RIPU.ripu_source_losses, target_losses=RIPU.ripu_target_losses)
    return model


@pytest.fixture(scope='module')
def batch(synthshift_root):
    return make_batch(synthshift_root)


def _unlabelled(data):
    data = copy.deepcopy(data)
    for s in data['target_data_samples']:
        s.gt_sem_seg.data = torch.full_like(s.gt_sem_seg.data, 255)
    return data


def _train(model_cfg, data, per_domain, steps=2, accumulate=1, resize=None):
    torch.manual_seed(0)
    model = MODELS.build(dict(model_cfg, backward_per_domain=per_domain))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    ow = OptimWrapper(opt, accumulative_counts=accumulate)
    logs = []
    for _ in range(steps):
        logs.append({k: float(v) for k, v in model.train_step(copy.deepcopy(data), ow).items()})
    return model, opt, logs


def _assert_same(a, b):
    (ma, oa, la), (mb, ob, lb) = a, b
    assert la == lb
    sa, sb = ma.state_dict(), mb.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    for pa, pb in zip(ma.parameters(), mb.parameters()):
        ba, bb = oa.state[pa].get('momentum_buffer'), ob.state[pb].get('momentum_buffer')
        assert (ba is None) == (bb is None) and (ba is None or torch.equal(ba, bb))


@pytest.mark.parametrize('labelled', [True, False])
def test_tiny_model_trains_the_same_bits(batch, labelled):
    data = batch if labelled else _unlabelled(batch)
    per, joint = _train(_tiny(), data, True), _train(_tiny(), data, False)
    _assert_same(per, joint)
    assert ('tgt.decode.loss_ce' in per[2][0]) == labelled
    moved = _train(_tiny(), data, True, steps=0)[0].state_dict()
    assert any(not torch.equal(moved[k], v) for k, v in per[0].state_dict().items())


def test_gradient_accumulation_does_one_backward(batch):
    """Accumulated gradients have more than two summands per parameter (their sum depends on
    the order): one backward per step then, the same bits."""
    per = _train(_tiny(), batch, True, steps=4, accumulate=2)
    joint = _train(_tiny(), batch, False, steps=4, accumulate=2)
    _assert_same(per, joint)
    assert per[1].state  # updates happened


def test_a_step_counts_once(batch):
    torch.manual_seed(0)
    model = MODELS.build(_tiny())
    model.train()
    ow = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    for step in range(1, 4):
        model.train_step(copy.deepcopy(batch), ow)
        assert ow._inner_count == step


@pytest.mark.slow
@pytest.mark.parametrize('config', ['configs/_base_/models/deeplabv2_r101.py',
                                    'configs/_base_/models/deeplabv3plus_r101.py'])
def test_real_networks_train_the_same_bits(batch, config):
    torch.set_num_threads(2)
    data = batch
    _assert_same(_train(_real(config), data, True, steps=1),
                 _train(_real(config), data, False, steps=1))


def _peak_saved_bytes(step):
    """The most bytes of tensors saved for backward alive at once while `step()` runs."""
    live, peak = [0], [0]

    class Saved:
        def __init__(self, t):
            self.t, self.n = t, t.numel() * t.element_size()
            live[0] += self.n
            peak[0] = max(peak[0], live[0])

        def __del__(self):
            live[0] -= self.n

    with torch.autograd.graph.saved_tensors_hooks(Saved, lambda s: s.t):
        step()
    return peak[0]


def test_per_domain_keeps_one_domains_activations(batch):
    """The bytes of tensors saved for backward alive at once: per domain, about one domain's
    (the source-only step's); one backward, both domains'."""
    def peak_saved(per_domain):
        torch.manual_seed(0)
        model = MODELS.build(dict(_tiny(), backward_per_domain=per_domain))
        model.train()
        ow = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
        return _peak_saved_bytes(lambda: model.train_step(copy.deepcopy(batch), ow))

    per, joint = peak_saved(True), peak_saved(False)
    assert per < 0.75 * joint, (per, joint)


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_a_ripu_run_with_a_selection_round_ends_with_the_same_weights(tmp_path, synthshift_root):
    """The SynthShift RIPU config through a real Runner (a selection round on the way, so the
    target losses are on after it): the same final weights either way."""
    from mmseg.registry import RUNNERS
    from runner_utils import tiny_config
    finals = []
    for per_domain in (True, False):
        cfg = tiny_config('configs/ripu/synthshift.py', tmp_path / str(per_domain),
                          synthshift_root, iters=12)
        cfg.model.backward_per_domain = per_domain
        cfg.custom_hooks = [dict(h, select_iters=[4, 8]) if h['type'] == 'ActiveSelectionHook'
                            else h for h in cfg.custom_hooks]
        cfg.log_level = 'WARNING'
        runner = RUNNERS.build(cfg)  # ActiveRunner
        runner.train()
        finals.append({k: v.clone() for k, v in runner.model.state_dict().items()})
        assert runner.message_hub.get_scalar('train/tgt.decode.loss_ce') is not None
    for key in finals[0]:
        assert torch.equal(finals[0][key], finals[1][key]), key


def _train_adamcu(data, per_domain, steps=3, dropout=0.0, **overrides):
    """The tiny ADAMCUSegmentor of test_adamcu_segmentor.py (groups calibrated so that all
    three are populated), `steps` SGD steps on `data`."""
    from test_adamcu_segmentor import _calibrate, _model_cfg
    cfg = _model_cfg(backward_per_domain=per_domain, **overrides)
    cfg['decode_head']['dropout_ratio'] = dropout
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    _calibrate(model, data)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    ow = OptimWrapper(opt)
    logs = [{k: float(v) for k, v in model.train_step(copy.deepcopy(data), ow).items()}
            for _ in range(steps)]
    return model, opt, logs


@pytest.mark.parametrize('labelled,dropout,overrides', [
    (True, 0.0, {}),
    (True, 0.1, {}),  # dropout before conv_seg (the v3+ heads): the recomputed pass redraws it
    (False, 0.0, {}),
    (True, 0.0, dict(pseudo_label_sampling='all', contrastive_resolution='decoder')),
    (True, 0.0, dict(pseudo_label_weight=0.0)),
])
def test_adamcu_recomputed_target_pass_trains_the_same_bits(batch, labelled, dropout, overrides):
    """ADA-MCU's contrastive loss couples the domains: per domain, the target pass runs twice
    (without, then with a graph); parameters, BN statistics, momentum, DCCM and logs equal one
    backward of the sum, step after step (the contrastive sampling's random draws included)."""
    data = batch if labelled else _unlabelled(batch)
    per = _train_adamcu(data, True, dropout=dropout, **overrides)
    joint = _train_adamcu(data, False, dropout=dropout, **overrides)
    _assert_same(per, joint)
    assert per[2][-1]['loss_mcu'] != 0 and per[0].couples_domains
    assert torch.equal(per[0].dccm.weights, joint[0].dccm.weights)


def test_adamcu_without_contrastive_loss_is_not_coupled(batch):
    per = _train_adamcu(batch, True, contrastive_loss=None)
    assert not per[0].couples_domains
    _assert_same(per, _train_adamcu(batch, False, contrastive_loss=None))


def test_adamcu_per_domain_keeps_one_domains_activations(batch):
    from test_adamcu_segmentor import _calibrate, _model_cfg

    def peak_saved(per_domain):
        torch.manual_seed(0)
        model = MODELS.build(_model_cfg(backward_per_domain=per_domain))
        _calibrate(model, batch)
        model.train()
        ow = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
        return _peak_saved_bytes(lambda: model.train_step(copy.deepcopy(batch), ow))

    per, joint = peak_saved(True), peak_saved(False)
    assert per < 0.75 * joint, (per, joint)


@pytest.mark.slow
def test_adamcu_real_config_network_trains_the_same_bits(batch):
    """The model of configs/adamcu/gta5_to_cityscapes.py (DeepLab-v2 R101, auxiliary head,
    projection; random init, the tiny batch): per domain (target recomputed) = one backward."""
    from test_adamcu_segmentor import _calibrate
    torch.set_num_threads(2)
    cfg = Config.fromfile(osp.join(REPO, 'configs/adamcu/gta5_to_cityscapes.py'))
    runs = []
    for per_domain in (True, False):
        model_cfg = copy.deepcopy(cfg.model.to_dict())
        model_cfg.pop('pretrained', None)
        model_cfg['backbone'].pop('init_cfg', None)
        torch.manual_seed(0)
        model = MODELS.build(dict(model_cfg, backward_per_domain=per_domain))
        _calibrate(model, batch)
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        ow = OptimWrapper(opt)
        logs = [{k: float(v) for k, v in model.train_step(copy.deepcopy(batch), ow).items()}]
        runs.append((model, opt, logs))
    _assert_same(*runs)
