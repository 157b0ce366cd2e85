import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS


class _ModuleView(nn.Module):
    """The children and direct parameters of `module` except the child `exclude`, under their
    own names (so paramwise_cfg custom_keys such as 'decode_head' match as on the full model)."""

    def __init__(self, module, exclude):
        super().__init__()
        for name, child in module.named_children():
            if name != exclude:
                self.add_module(name, child)
        for name, param in module.named_parameters(recurse=False):
            self.register_parameter(name, param)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class AdversarialOptimWrapperConstructor:
    """OptimWrapperDict(segmentor=..., discriminator=...) for AdversarialSegmentor.

    mmengine 0.10.7 ships no constructor for several optimisers (its docs leave it to the user),
    so this one splits the model: 'discriminator' optimises `model.discriminator`, 'segmentor'
    every other parameter. Each entry is an ordinary optim-wrapper config, built by mmengine's
    DefaultOptimWrapperConstructor (or the entry's own `constructor`) on its part of the model,
    so each may carry its own `paramwise_cfg`:

        optim_wrapper = dict(
            constructor='AdversarialOptimWrapperConstructor',
            segmentor=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=2.5e-4, ...),
                           paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.)})),
            discriminator=dict(type='OptimWrapper',
                               optimizer=dict(type='Adam', lr=2.5e-4, betas=(0.9, 0.99))))

    Parameter schedulers per wrapper: `param_scheduler = dict(segmentor=[...],
    discriminator=[...])` (a plain list applies to both).
    """
    KEYS = ('segmentor', 'discriminator')

    def __init__(self, optim_wrapper_cfg, paramwise_cfg=None):
        if paramwise_cfg is not None:
            raise ValueError('AdversarialOptimWrapperConstructor: put paramwise_cfg inside '
                             'optim_wrapper.segmentor / optim_wrapper.discriminator')
        if set(optim_wrapper_cfg) != set(self.KEYS):
            raise ValueError(f'AdversarialOptimWrapperConstructor: optim_wrapper needs exactly '
                             f'the keys {self.KEYS}, got {sorted(optim_wrapper_cfg)}')
        self.constructors = {}
        for key in self.KEYS:
            cfg = dict(optim_wrapper_cfg[key])
            constructor = cfg.pop('constructor', 'DefaultOptimWrapperConstructor')
            paramwise = cfg.pop('paramwise_cfg', None)
            self.constructors[key] = OPTIM_WRAPPER_CONSTRUCTORS.build(
                dict(type=constructor, optim_wrapper_cfg=cfg, paramwise_cfg=paramwise))

    def __call__(self, model):
        if is_model_wrapper(model):
            model = model.module
        if not isinstance(getattr(model, 'discriminator', None), nn.Module):
            raise ValueError(f'AdversarialOptimWrapperConstructor: {type(model).__name__} has '
                             'no discriminator (use AdversarialSegmentor)')
        return OptimWrapperDict(
            segmentor=self.constructors['segmentor'](_ModuleView(model, 'discriminator')),
            discriminator=self.constructors['discriminator'](model.discriminator))
