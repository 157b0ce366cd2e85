"""POINT-ENT's G1: ADVENT and MinEnt as options of AdversarialSegmentor (discriminator input,
levels, weights, MinEnt), the configs/point_ent configs (real ones built without weights), and a
real Runner on the SynthShift ones."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper, OptimWrapperDict, build_optim_wrapper
from mmengine.runner import Runner
from mmseg.registry import MODELS
from runner_utils import REPO, tiny_config
from test_adversarial_warmup import RecordingWrapper, _batch

from mmseg_ext.ops.uncertainty import self_information

ADVENT = 'configs/point_ent/synthshift/advent.py'
MINENT = 'configs/point_ent/synthshift/minent.py'
REAL = [f'configs/point_ent/{b}/{v}.py' for b in ('gta5_to_cityscapes', 'synthia_to_cityscapes')
        for v in ('advent', 'minent')]


def _build(config=ADVENT, **kw):
    cfg = Config.fromfile(f'{REPO}/{config}')
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.update(kw)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return cfg, model


def _constant(d, value):
    """Make a discriminator output `value` everywhere (zero last conv, bias = value)."""
    d.classifier.weight.data.zero_()
    d.classifier.bias.data.fill_(value)


def test_advent_discriminators_levels_and_shapes():
    # ADVENT's width (the SynthShift config's discriminator_ndf flag is 8)
    _, model = _build(discriminator=dict(type='FCDiscriminator', ndf=64))
    assert model.levels == ('main', 'aux') and model.discriminator_input == 'self_information'
    assert set(model.discriminator.keys()) == {'main', 'aux'}
    assert model.level_weights == dict(main=0.001, aux=0.0002)
    assert model.auxiliary_head.loss_decode.loss_weight == 0.1
    assert model.decode_head.loss_decode.loss_weight == 1.0
    for level in ('main', 'aux'):
        d = model.discriminator_of(level)
        convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
        assert [(c.in_channels, c.out_channels) for c in convs] == \
            [(19, 64), (64, 128), (128, 256), (256, 512), (512, 1)]
        assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
        assert d.leaky_relu.negative_slope == 0.2
        assert d(torch.rand(2, 19, 64, 128)).shape == (2, 1, 2, 4)
    assert model.discriminator_of('main') is not model.discriminator_of('aux')


def test_discriminators_see_self_information_of_upsampled_logits():
    _, model = _build()
    batch = _batch(h=64, w=128)
    seen = {}
    for level in ('main', 'aux'):
        d = model.discriminator_of(level)
        d.register_forward_hook(lambda m, args, out, level=level:
                                seen.setdefault(level, []).append(args[0].detach()))
    cfg = Config.fromfile(f'{REPO}/{ADVENT}')
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    # the expected inputs, from the same forward the step does (BN in train mode: recompute
    # with the initial weights on a copy)
    ref = copy.deepcopy(model)
    src = ref.domain_forward(batch['inputs'], batch['data_samples'])
    tgt = ref.domain_forward(batch['target_inputs'], batch['target_data_samples'])
    model.train_step(batch, ow)
    for level in ('main', 'aux'):
        # G step: target; D step: source then target
        assert len(seen[level]) == 3
        tgt_in = self_information(ref.level_logits(tgt, level).softmax(1))
        src_in = self_information(ref.level_logits(src, level).softmax(1))
        assert tgt_in.shape == (2, 19, 64, 128)
        torch.testing.assert_close(seen[level][0], tgt_in)
        torch.testing.assert_close(seen[level][1], src_in)
        torch.testing.assert_close(seen[level][2], tgt_in)
    aux_full = ref.level_logits(tgt, 'aux')
    assert aux_full.shape[-2:] == (64, 128) and tgt.aux_logits.shape[-2:] == (32, 64)


def test_adversarial_and_discriminator_loss_signs_and_weights():
    cfg, model = _build()
    b_main, b_aux = 0.7, -0.3
    _constant(model.discriminator_of('main'), b_main)
    _constant(model.discriminator_of('aux'), b_aux)
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    log = {k: float(v) for k, v in model.train_step(_batch(h=64, w=128), ow).items()}
    sp = lambda x: math.log1p(math.exp(x))  # BCE-with-logits of logit x against label 0
    # G fools D: BCE(D(target), source label 0), weighted
    assert log['loss_adv'] == pytest.approx(0.001 * sp(b_main), rel=1e-5)
    assert log['aux.loss_adv'] == pytest.approx(0.0002 * sp(b_aux), rel=1e-5)
    # D: source 0, target 1, each half
    assert log['loss_d_src'] == pytest.approx(sp(b_main) / 2, rel=1e-5)
    assert log['loss_d_tgt'] == pytest.approx(sp(-b_main) / 2, rel=1e-5)
    assert log['aux.loss_d_src'] == pytest.approx(sp(b_aux) / 2, rel=1e-5)
    assert log['aux.loss_d_tgt'] == pytest.approx(sp(-b_aux) / 2, rel=1e-5)
    seg = log['decode.loss_ce'] + log['aux.loss_ce']
    assert log['loss'] == pytest.approx(seg + log['loss_adv'] + log['aux.loss_adv'], rel=1e-5)
    assert not any(k.startswith('tgt.') for k in log)


def test_g_step_freezes_both_discriminators_d_step_trains_both():
    cfg, model = _build()
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    d_ids = {id(p) for p in model.discriminator.parameters()}
    assert {id(p) for g in ow['discriminator'].param_groups for p in g['params']} == d_ids
    assert isinstance(ow['discriminator'].optimizer, torch.optim.Adam)
    assert ow['discriminator'].param_groups[0]['lr'] == 1e-4
    assert ow['discriminator'].param_groups[0]['betas'] == (0.9, 0.99)
    rec = dict(segmentor=RecordingWrapper(ow['segmentor'].optimizer, watch=model.discriminator),
               discriminator=RecordingWrapper(ow['discriminator'].optimizer,
                                              watch=model.discriminator))
    before = copy.deepcopy(model.state_dict())
    model.train()
    model.train_step(_batch(h=64, w=128), OptimWrapperDict(**rec))
    assert all(g is None for g in rec['segmentor'].seen[0])
    assert all(g is not None and g.abs().sum() > 0 for g in rec['discriminator'].seen[0])
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    for prefix in ('discriminator.main.', 'discriminator.aux.', 'backbone.', 'decode_head.',
                   'auxiliary_head.'):
        assert any(k.startswith(prefix) for k in changed), prefix


def test_minent_mode():
    cfg, model = _build(MINENT)
    assert model.alignment == 'minent' and not hasattr(model, 'discriminator')
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    assert isinstance(ow, OptimWrapper) and not isinstance(ow, OptimWrapperDict)
    batch = _batch(h=64, w=128)
    model.train()
    ref = copy.deepcopy(model)
    tgt = ref.domain_forward(batch['target_inputs'], batch['target_data_samples'])

    def ent(logits):
        p = logits.softmax(1)
        return float((-p * torch.log2(p + 1e-30)).sum(1).mean() / math.log2(19))

    log = {k: float(v) for k, v in model.train_step(batch, ow).items()}
    assert log['loss_ent'] == pytest.approx(0.001 * ent(tgt.logits_full), rel=1e-4)
    aux = F.interpolate(tgt.aux_logits, size=(64, 128), mode='bilinear', align_corners=False)
    assert log['aux.loss_ent'] == pytest.approx(0.0002 * ent(aux), rel=1e-4)
    assert not any('loss_adv' in k or 'loss_d_' in k for k in log)
    with pytest.raises(ValueError, match='plain OptimWrapper'):
        model.train_step(batch, OptimWrapperDict(segmentor=ow))


def test_single_level_self_information_option():
    _, model = _build(aux_adv_weight=None)
    assert model.levels == ('main',)
    assert type(model.discriminator).__name__ == 'FCDiscriminator'  # keys discriminator.*


@pytest.mark.parametrize('kw, match', [
    (dict(alignment='advent'), "alignment='advent'"),
    (dict(discriminator_input='entropy'), "discriminator_input='entropy'"),
    (dict(adv_weight=-1.0), 'adv_weight=-1.0'),
    (dict(aux_adv_weight='0.1'), "aux_adv_weight='0.1'"),
    (dict(auxiliary_head=None), 'no auxiliary_head'),
])
def test_bad_options(kw, match):
    with pytest.raises(ValueError, match=match) as err:
        _build(**kw)
    assert '\n' not in str(err.value)


# ------------------------------------------------------------------------- real configs

@pytest.mark.parametrize('config', REAL)
def test_real_configs_build(config):
    cfg = Config.fromfile(f'{REPO}/{config}')
    classes = 16 if 'synthia' in config else 19
    source = (1280, 760) if 'synthia' in config else (1280, 720)
    ds = cfg.train_dataloader.dataset
    assert cfg.train_dataloader.batch_size == 1
    assert [t.scale for t in ds.source.pipeline if t.type == 'Resize'] == [source]
    assert [t.scale for t in ds.target.pipeline if t.type == 'Resize'] == [(1024, 512)]
    assert not any('Flip' in t.type or 'Crop' in t.type
                   for t in ds.source.pipeline + ds.target.pipeline)
    assert [t.scale for t in cfg.val_dataloader.dataset.pipeline if t.type == 'Resize'] == \
        [(1024, 512)]
    assert cfg.train_cfg.max_iters == 120000 and cfg.train_cfg.val_interval == 2000
    scheds = cfg.param_scheduler if isinstance(cfg.param_scheduler, list) else \
        cfg.param_scheduler['segmentor'] + cfg.param_scheduler['discriminator']
    assert all(s.type == 'PolyLR' and s.end == 250000 and s.power == 0.9 for s in scheds)
    cfg.model.backbone.init_cfg = None  # ImageNet weights are not downloadable here
    model = MODELS.build(cfg.model)
    assert model.backbone.out_indices == (2, 3) and not model.backbone.norm_eval
    assert model.decode_head.in_channels == 2048 and model.decode_head.in_index == 1
    assert model.auxiliary_head.in_channels == 1024 and model.auxiliary_head.in_index == 0
    assert model.decode_head.num_classes == model.auxiliary_head.num_classes == classes
    assert model.align_corners and model.auxiliary_head.align_corners
    assert model.auxiliary_head.loss_decode.loss_weight == 0.1
    assert model.decode_head.loss_decode.avg_non_ignore
    assert model.level_weights == dict(main=0.001, aux=0.0002)
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    if 'minent' in config:
        assert model.alignment == 'minent' and not isinstance(ow, OptimWrapperDict)
        seg = ow
    else:
        assert model.discriminator_input == 'self_information'
        for level in ('main', 'aux'):
            assert model.discriminator_of(level).conv1.in_channels == classes
        assert isinstance(ow['discriminator'].optimizer, torch.optim.Adam)
        assert ow['discriminator'].param_groups[0]['lr'] == 1e-4
        seg = ow['segmentor']
    heads = {id(p) for h in (model.decode_head, model.auxiliary_head) for p in h.parameters()}
    for group in seg.param_groups:
        in_head = {id(p) in heads for p in group['params']}
        assert len(in_head) == 1
        assert group['lr'] == pytest.approx(2.5e-3 if in_head.pop() else 2.5e-4)
    assert seg.optimizer.defaults['weight_decay'] == 5e-4
    assert seg.optimizer.defaults['momentum'] == 0.9


# ------------------------------------------------------------------------- a real Runner

class Recorder(Hook):
    def __init__(self):
        self.start, self.outputs = None, []

    def before_train(self, runner):
        self.start = copy.deepcopy(runner.model.state_dict())

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.outputs.append(dict(outputs))


@pytest.mark.parametrize('config', [ADVENT, MINENT])
def test_runner_trains_synthshift_g1(config, tmp_path, synthshift_root):
    iters = 3
    cfg = tiny_config(config, tmp_path, synthshift_root, iters=iters)
    cfg.train_dataloader.batch_size = 2
    runner = Runner.from_cfg(cfg)
    rec = Recorder()
    runner.register_hook(rec)
    runner.train()
    assert len(rec.outputs) == iters
    keys = ({'loss_adv', 'aux.loss_adv', 'loss_d_src', 'loss_d_tgt', 'aux.loss_d_src',
             'aux.loss_d_tgt'} if config == ADVENT else {'loss_ent', 'aux.loss_ent'})
    for out in rec.outputs:
        assert keys | {'decode.loss_ce', 'aux.loss_ce'} <= set(out)
        assert all(math.isfinite(float(v)) for v in out.values())
    end = runner.model.state_dict()
    changed = {k for k in end if not torch.equal(rec.start[k], end[k])}
    prefixes = ['backbone.', 'decode_head.', 'auxiliary_head.']
    if config == ADVENT:
        prefixes += ['discriminator.main.', 'discriminator.aux.']
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in changed), prefix
    assert (tmp_path / f'iter_{iters}.pth').is_file()


def test_fc_discriminator_channels_last_is_the_same_function():
    from mmseg_ext.models import FCDiscriminator
    torch.manual_seed(0)
    plain = FCDiscriminator(num_classes=19)
    nhwc = FCDiscriminator(num_classes=19, channels_last=True)
    nhwc.load_state_dict(plain.state_dict())
    x = torch.rand(2, 19, 64, 128)
    torch.testing.assert_close(nhwc(x), plain(x), rtol=1e-4, atol=1e-5)
    assert nhwc.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert not plain.channels_last
