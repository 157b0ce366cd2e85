"""Acquisition strategies: one module per family, the contract in ``contract`` (what a strategy
declares and what the hooks hand it), the registry in ``base``.

  image  (ActiveSelectionHook)   ripu: RIPU-RA, RIPU-PA, RIPU-Impurity, RIPU-Uncertainty,
                                 RIPU-Rect, RIPU-Superpixel; image_baselines: RAND, ENT,
                                 SCONF, MAR, Canny-ENT; point_ent: POINT-ENT
  pool   (RegionSelectionHook)   adeada: ADeADA; pool_baselines: Pool-RAND, Pool-ENT,
                                 Pool-CONF, Pool-MAR, BADGE, ReDAL, AADA, CLUE
  online (AdaptiveSamplingHook)  adamcu: ADA-MCU

A new strategy is one file: a class with ``needs``, its options as ``__init__`` keyword
arguments and ``select`` (or ``score``), decorated with ``@STRATEGIES.register_module(name=...)``.
Every module of this package is imported with it; a module elsewhere is loaded by the config's
``custom_imports``. docs/writing-a-strategy.md has complete examples.
"""
import importlib
import pkgutil

from ..units import Budget  # noqa: F401  (the per-image budget, re-exported)
from .base import (LEGACY_NAMES, SCOPES, STRATEGIES, build_strategy, names,  # noqa: F401
                   strategy_config)
from .contract import (AUX_LOGITS, BUDGET, EDGES, FEATURES, GRAD, IMAGE, LOGITS,  # noqa: F401
                       SOURCE, Strategy)
from .image import GreedyStrategy, ImageStrategy, Pick, SegmentStrategy  # noqa: F401
from .pool import PoolStrategy  # noqa: F401

for _module in pkgutil.iter_modules(__path__):  # each module registers its strategies
    importlib.import_module(f'{__name__}.{_module.name}')
del _module
