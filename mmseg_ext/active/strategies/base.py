"""The one ``Strategy`` base, its registry and ``build_strategy``.

A strategy declares its ``scope``, which says which hook drives it:
  ``image``   per image and round: ``select(logits, count, ...)`` picks units in one image
              (RIPU and its baselines; ActiveSelectionHook)
  ``pool``    ranks the regions of the whole target pool: ``select(pool, budget, ...)``
              (ADeADA and the region baselines of its supplement; RegionSelectionHook)
  ``online``  buys during training from the batch's target images (ADA-MCU's adaptive
              sampling; AdaptiveSamplingHook)
Strategies are registered in ``STRATEGIES`` (an mmengine Registry, child of mmseg's
TASK_UTILS, where mmseg builds its pixel samplers) under the paper's name, unique across
scopes, and built from ``dict(type=NAME, **options)``. ``defaults`` lists every option with
its default; an unknown option is a one-line ValueError naming the known ones.
"""
from typing import Any, Union

from mmengine.registry import Registry
from mmseg.registry import TASK_UTILS

SCOPES = ('image', 'pool', 'online')

# names before the registry (hook configs and build_strategy still take them), per scope
LEGACY_NAMES = {
    'image': {'ripu_ra': 'RIPU-RA', 'ripu_pa': 'RIPU-PA', 'impurity': 'RIPU-Impurity',
              'uncertainty': 'RIPU-Uncertainty', 'rand': 'RAND', 'ent': 'ENT', 'sconf': 'SCONF',
              'mar': 'MAR', 'canny_ent': 'Canny-ENT', 'ripu_rect': 'RIPU-Rect',
              'ripu_superpixel': 'RIPU-Superpixel'},
    'pool': {'rand': 'Pool-RAND', 'ent': 'Pool-ENT', 'conf': 'Pool-CONF', 'mar': 'Pool-MAR',
             'badge': 'BADGE', 'redal': 'ReDAL', 'aada': 'AADA', 'clue': 'CLUE',
             'adeada': 'ADeADA'},
    'online': {'adamcu_as': 'ADA-MCU'},
}


def _build(cfg, registry, default_args=None):
    """Build without mmengine's scope switch: a strategy resolves in this registry (then its
    parents) whatever the Runner's default scope is."""
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    cls = kind if isinstance(kind, type) else registry.get(kind) if kind else None
    if cls is None:
        raise ValueError(f'unknown strategy {kind!r}; known: {", ".join(names())}')
    return cls(**{**(default_args or {}), **cfg})


STRATEGIES = Registry('acquisition strategy', build_func=_build, parent=TASK_UTILS,
                      scope='mmseg_ext', locations=['mmseg_ext.active.strategies'])


def names(scope: str = None) -> list:
    """The registered strategy names (of one scope)."""
    STRATEGIES.import_from_location()
    return sorted(n for n, cls in STRATEGIES.module_dict.items()
                  if scope is None or getattr(cls, 'scope', None) == scope)


def register_strategy(cls):
    """Class decorator: register under ``cls.name`` (the paper's name)."""
    STRATEGIES.register_module(name=cls.name)(cls)
    return cls


class Strategy:
    """Base of every strategy: ``scope``, ``name``, ``unit`` and validated ``options``."""
    scope: str = None
    name: str = None
    unit: str = None
    defaults: dict = {}

    def __init__(self, **options):
        if self.name is None:
            self.name = type(self).__name__
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise ValueError(f'{self.name}: unknown option(s) {unknown}; '
                             f'known: {sorted(self.defaults)}')
        self.options = {**self.defaults, **options}
        self.validate()

    def validate(self) -> None:
        """Check ``self.options`` (call ``self.bad`` for a bad one)."""

    def bad(self, key: str, what: str):
        raise ValueError(f'{self.name}: option {key} must be {what}, got {self.options[key]!r}')

    def __repr__(self):
        return f'{type(self).__name__}({self.name!r}, {self.options})'


def strategy_config(strategy: Union[str, dict], options: dict = None, scope: str = None) -> dict:
    """``dict(type=NAME, **options)`` from a config dict or a (registered or legacy) name."""
    if isinstance(strategy, str):
        cfg = dict(type=strategy, **(options or {}))
    elif isinstance(strategy, dict) and 'type' in strategy:
        if options:
            raise ValueError('give the options in the strategy dict, not in strategy_cfg')
        cfg = dict(strategy)
    else:
        raise ValueError(f'strategy must be dict(type=NAME, ...) or a name, got {strategy!r}')
    kind = cfg['type']
    if isinstance(kind, str) and STRATEGIES.get(kind) is None:
        for legacy_scope in ([scope] if scope else SCOPES):
            if kind in LEGACY_NAMES.get(legacy_scope, {}):
                cfg['type'] = LEGACY_NAMES[legacy_scope][kind]
                break
    return cfg


def build_strategy(strategy: Union[str, dict], scope: str = None, **options: Any) -> Strategy:
    """A strategy from ``dict(type=NAME, **options)`` or ``(NAME, **options)``; old names
    (``'ripu_ra'``, ...) still work. With ``scope``, a strategy of another scope is a
    ValueError that names the ones that fit."""
    cfg = strategy_config(strategy, None, scope)
    cfg.update(options)
    built = STRATEGIES.build(cfg)
    if not isinstance(built, Strategy):
        raise ValueError(f'{cfg["type"]!r} is not a Strategy (got {type(built).__name__})')
    if scope is not None and built.scope != scope:
        raise ValueError(f'strategy {built.name} has scope {built.scope!r}; this hook takes '
                         f'{scope!r} strategies: {", ".join(names(scope))}')
    return built
