"""ADeADA's UDA warm-up: FCDiscriminator, AdversarialSegmentor (G step with D frozen, then D
step), the optimiser-dict constructor with per-wrapper schedulers, a real Runner on SynthShift,
and the real GTA5/SYNTHIA warm-up configs."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper, OptimWrapperDict, build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS
from mmengine.runner import Runner, load_checkpoint
from mmseg.registry import MODELS
from runner_utils import REPO, tiny_config

WARMUP = 'configs/adeada/synthshift/warmup.py'
REAL_WARMUPS = [f'configs/adeada/{b}/warmup_{m}.py'
                for b in ('gta5_to_cityscapes', 'synthia_to_cityscapes')
                for m in ('deeplabv2', 'deeplabv3plus')]


def test_fc_discriminator_shapes_and_layers():
    from mmseg_ext.models import FCDiscriminator
    d = FCDiscriminator(num_classes=19)
    out = d(torch.rand(2, 19, 64, 128).softmax(1))
    assert out.shape == (2, 1, 2, 4)  # five stride-2 convs: /32
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == \
        [(19, 64), (64, 128), (128, 256), (256, 512), (512, 1)]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) and c.padding == (1, 1)
               for c in convs)
    assert d.leaky_relu.negative_slope == 0.2
    # no activation after the classifier: a constant -5 logit comes out as -5, not -1
    d.classifier.weight.data.zero_()
    d.classifier.bias.data.fill_(-5.0)
    assert torch.all(d(torch.rand(1, 19, 64, 128)) == -5.0)


# ------------------------------------------------------------------------- train_step, unit level

def _model_cfg(**kw):
    cfg = Config.fromfile(f'{REPO}/{WARMUP}')
    model = copy.deepcopy(cfg.model)
    model.update(kw)
    return cfg, model


def _batch(n=2, h=32, w=64, seed=0):
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    g = torch.Generator().manual_seed(seed)

    def samples():
        out = []
        for _ in range(n):
            s = SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 19, (1, h, w),
                                                                       generator=g)))
            s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
            out.append(s)
        return out

    imgs = lambda: [torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)
                    for _ in range(n)]
    return dict(inputs=imgs(), data_samples=samples(), target_inputs=imgs(),
                target_data_samples=samples())


class RecordingWrapper(OptimWrapper):
    """Records, right after each update, the discriminator's grads (None = no grad)."""

    def __init__(self, *args, watch, **kwargs):
        super().__init__(*args, **kwargs)
        self.watch, self.seen = watch, []

    def update_params(self, loss, **kwargs):
        self.backward(loss)
        self.seen.append([None if p.grad is None else p.grad.clone()
                          for p in self.watch.parameters()])
        self.step()
        self.zero_grad()


def _build(**kw):
    cfg, model_cfg = _model_cfg(**kw)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return cfg, model


def test_train_step_freezes_discriminator_in_g_step_and_steps_both():
    cfg, model = _build()
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    assert isinstance(ow, OptimWrapperDict) and set(ow.keys()) == {'segmentor', 'discriminator'}
    d_params = {id(p) for p in model.discriminator.parameters()}
    seg_ids = [id(p) for g in ow['segmentor'].param_groups for p in g['params']]
    dis_ids = [id(p) for g in ow['discriminator'].param_groups for p in g['params']]
    assert set(dis_ids) == d_params and not d_params & set(seg_ids)
    assert len(seg_ids) + len(dis_ids) == len(list(model.parameters()))
    # wrappers that record D's grads at the moment each one updates
    rec = dict(segmentor=RecordingWrapper(ow['segmentor'].optimizer, watch=model.discriminator),
               discriminator=RecordingWrapper(ow['discriminator'].optimizer,
                                              watch=model.discriminator))
    before = copy.deepcopy(model.state_dict())
    model.train()
    log_vars = model.train_step(_batch(), OptimWrapperDict(**rec))
    # G step: D took no gradient from loss_adv (frozen), and is trainable again afterwards
    assert all(g is None for g in rec['segmentor'].seen[0])
    assert all(p.requires_grad for p in model.discriminator.parameters())
    # D step: D got gradients, the segmentor got none (detached softmaxes)
    assert all(g is not None and g.abs().sum() > 0 for g in rec['discriminator'].seen[0])
    assert all(p.grad is None for p in model.decode_head.parameters())
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith('discriminator.') for k in changed)
    assert any(k.startswith('decode_head.') for k in changed)
    assert any(k.startswith('backbone.') for k in changed)
    for key in ('loss', 'decode.loss_ce', 'decode.acc_seg', 'loss_adv', 'loss_d_src',
                'loss_d_tgt'):
        assert key in log_vars, key
    assert not any(k.startswith('tgt.') for k in log_vars)  # never a supervised target loss


def test_adv_loss_reaches_the_segmentor_only_through_the_target():
    """The adversarial BCE alone: its gradient reaches the segmentor, not the frozen D."""
    from mmseg_ext.models.segmentors.adversarial_segmentor import frozen
    _, model = _build()
    batch = _batch()
    target = model.domain_forward(batch['target_inputs'], batch['target_data_samples'])
    with frozen(model.discriminator):
        loss = model.domain_bce(target.logits_full.softmax(1), model.SOURCE_LABEL)
    loss.backward()
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert model.decode_head.conv_seg.weight.grad.abs().sum() > 0


def test_train_step_refuses_single_domain_batch_and_plain_wrapper():
    cfg, model = _build()
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = _batch()
    single = dict(inputs=batch['inputs'], data_samples=batch['data_samples'])
    with pytest.raises(ValueError, match='no target_inputs'):
        model.train_step(single, ow)
    with pytest.raises(ValueError, match='OptimWrapperDict'):
        model.train_step(batch, ow['segmentor'])


def test_constructor_applies_paramwise_cfg_to_the_segmentor_group():
    _, model = _build()
    cfg = dict(constructor='AdversarialOptimWrapperConstructor',
               segmentor=dict(type='OptimWrapper',
                              optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4),
                              paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.)})),
               discriminator=dict(type='OptimWrapper',
                                  optimizer=dict(type='Adam', lr=2.5e-4, betas=(0.9, 0.99))))
    ow = build_optim_wrapper(model, cfg)
    head = {id(p) for p in model.decode_head.parameters()}
    lrs = {id(p): g['lr'] for g in ow['segmentor'].param_groups for p in g['params']}
    assert all(lrs[i] == pytest.approx(1.0) for i in head)
    assert all(lr == pytest.approx(0.1) for i, lr in lrs.items() if i not in head)
    assert isinstance(ow['discriminator'].optimizer, torch.optim.Adam)
    assert ow['discriminator'].param_groups[0]['betas'] == (0.9, 0.99)
    with pytest.raises(ValueError, match='exactly the keys'):
        build_optim_wrapper(model, dict(constructor='AdversarialOptimWrapperConstructor',
                                        segmentor=cfg['segmentor']))
    plain = MODELS.build(Config.fromfile(f'{REPO}/configs/source_only/synthshift.py').model)
    with pytest.raises(ValueError, match='no discriminator'):
        build_optim_wrapper(plain, cfg)


# ------------------------------------------------------------------------- a real Runner

class Recorder(Hook):
    def __init__(self):
        self.start, self.outputs, self.lrs = None, [], []

    def before_train(self, runner):
        self.start = copy.deepcopy(runner.model.state_dict())

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.outputs.append(dict(outputs))
        self.lrs.append(runner.optim_wrapper.get_lr())


@pytest.fixture(scope='module')
def warmed_up(tmp_path_factory, synthshift_root):
    work_dir = tmp_path_factory.mktemp('warmup')
    iters = 4
    cfg = tiny_config(WARMUP, work_dir, synthshift_root, iters=iters)
    # per-wrapper schedulers, distinguishable: poly decay for G, linear ramp-up for D
    cfg.param_scheduler = dict(
        segmentor=[dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=iters,
                        by_epoch=False)],
        discriminator=[dict(type='LinearLR', start_factor=0.25, end_factor=1.0, begin=0,
                            end=iters, by_epoch=False)])
    cfg.default_hooks.checkpoint.interval = iters
    cfg.train_dataloader.batch_size = 2
    runner = Runner.from_cfg(cfg)
    recorder = Recorder()
    runner.register_hook(recorder)
    runner.train()
    return cfg, work_dir, runner, recorder


def test_runner_trains_both_networks(warmed_up):
    _, _, runner, rec = warmed_up
    assert isinstance(runner.optim_wrapper, OptimWrapperDict)
    assert set(runner.param_schedulers) == {'segmentor', 'discriminator'}
    end = runner.model.state_dict()
    changed = {k for k in end if k in rec.start and not torch.equal(rec.start[k], end[k])}
    assert any(k.startswith('discriminator.') for k in changed)
    assert any(k.startswith('backbone.') for k in changed)
    assert any(k.startswith('decode_head.') for k in changed)
    for out in rec.outputs:
        assert {'loss_adv', 'loss_d_src', 'loss_d_tgt', 'decode.loss_ce'} <= set(out)
    seg = [lr['segmentor.lr'][0] for lr in rec.lrs]
    dis = [lr['discriminator.lr'][0] for lr in rec.lrs]
    assert seg == sorted(seg, reverse=True) and seg[0] > seg[-1]  # poly decay
    assert dis == sorted(dis) and dis[0] < dis[-1]  # linear ramp-up
    assert dis[0] == pytest.approx(2.5e-4 * 0.25)


def test_warmup_checkpoint_loads_into_the_plain_tiny_segmentor(warmed_up):
    _, work_dir, runner, _ = warmed_up
    ckpt = torch.load(work_dir / 'iter_4.pth', map_location='cpu', weights_only=False)
    assert set(ckpt['optimizer']) == {'segmentor', 'discriminator'}
    plain = MODELS.build(Config.fromfile(f'{REPO}/configs/source_only/synthshift.py').model)
    assert type(plain).__name__ == 'ADASegmentor'
    load_checkpoint(plain, str(work_dir / 'iter_4.pth'), map_location='cpu', strict=False)
    trained = runner.model.state_dict()
    plain_sd = plain.state_dict()
    assert not any(k.startswith('discriminator.') for k in plain_sd)
    assert set(plain_sd) == {k for k in trained if not k.startswith('discriminator.')}
    for key, value in plain_sd.items():
        assert torch.equal(value, trained[key]), key


# ------------------------------------------------------------------------- real configs

@pytest.mark.parametrize('config', REAL_WARMUPS)
def test_real_warmup_configs_build(config):
    cfg = Config.fromfile(f'{REPO}/{config}')
    assert cfg.model.type == 'AdversarialSegmentor' and cfg.model.adv_weight == 0.0005
    assert cfg.train_cfg.max_iters == 100000 and cfg.train_cfg.val_interval == 1000
    assert cfg.train_dataloader.batch_size == 1
    ckpt = cfg.default_hooks.checkpoint
    assert ckpt.save_best == 'mIoU' and ckpt.rule == 'greater'
    cfg.model.backbone.init_cfg = None  # ImageNet weights are not downloadable here
    model = MODELS.build(cfg.model)
    classes = 16 if 'synthia' in config else 19
    assert model.decode_head.num_classes == classes
    assert model.discriminator.conv1.in_channels == classes
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    head = {id(p) for p in model.decode_head.parameters()}
    for group in ow['segmentor'].param_groups:
        in_head = {id(p) in head for p in group['params']}
        assert len(in_head) == 1
        assert group['lr'] == pytest.approx(2.5e-3 if in_head.pop() else 2.5e-4)
        assert group['momentum'] == 0.9
    assert ow['segmentor'].optimizer.defaults['weight_decay'] == 5e-4
    assert isinstance(ow['discriminator'].optimizer, torch.optim.Adam)
    assert ow['discriminator'].param_groups[0]['betas'] == (0.9, 0.99)
    if config == REAL_WARMUPS[0]:
        _check_warmup_then_poly(cfg, ow)


def _check_warmup_then_poly(cfg, ow):
    """LinearLR (5000 its) and PolyLR (100k) compose like D2ADA's dampened poly schedule."""
    assert set(cfg.param_scheduler) == {'segmentor', 'discriminator'}
    opt = ow['discriminator']
    scheds = [PARAM_SCHEDULERS.build(dict(s, optimizer=opt))
              for s in cfg.param_scheduler['discriminator']]
    lrs = []
    for _ in range(6000):
        lrs.append(opt.param_groups[0]['lr'])
        for s in scheds:
            s.step()
    base = 2.5e-4
    assert lrs[0] == pytest.approx(base / 5000 * (1 - 0 / 1e5) ** 0.9, rel=1e-3)
    assert lrs[2499] == pytest.approx(base * 2500 / 5000 * (1 - 2499 / 1e5) ** 0.9, rel=1e-2)
    assert lrs[5500] == pytest.approx(base * (1 - 5500 / 1e5) ** 0.9, rel=1e-4)
