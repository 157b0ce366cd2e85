"""The strategy registry and ``build_strategy`` (the contract itself: ``contract``).

Strategies are registered in ``STRATEGIES`` (an mmengine Registry, child of mmseg's TASK_UTILS,
where mmseg builds its pixel samplers) with ``@STRATEGIES.register_module(name=...)``, in this
package and outside it alike; the registry name (the paper's name, unique across scopes) is the
strategy's ``name``. Every module of this package is imported with it, so a new module here
needs no import list; a module outside it is loaded by the config's ``custom_imports`` (a
space's ``imports``). Built from ``dict(type=NAME, **options)``.
"""
from typing import Any, Union

from mmengine.registry import Registry
from mmseg.registry import TASK_UTILS

from .contract import Strategy

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


class StrategyRegistry(Registry):
    """A Registry whose strategies learn their (first) registry name as ``name``."""

    def _register_module(self, module, module_name=None, force=False):
        super()._register_module(module, module_name, force)
        if isinstance(module, type) and issubclass(module, Strategy):
            given = [module_name] if isinstance(module_name, str) else module_name
            module.name = given[0] if given else module.__name__


STRATEGIES = StrategyRegistry('acquisition strategy', build_func=_build, parent=TASK_UTILS,
                              scope='mmseg_ext', locations=['mmseg_ext.active.strategies'])


def names(scope: str = None) -> list:
    """The registered strategy names (of one scope)."""
    STRATEGIES.import_from_location()
    return sorted(n for n, cls in STRATEGIES.module_dict.items()
                  if scope is None or getattr(cls, 'scope', None) == scope)


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
