"""Acquisition strategies: one module per family, one ``Strategy`` base with a declared scope,
registered under the paper's name (see ``base``).

  image  (ActiveSelectionHook)   ripu: RIPU-RA, RIPU-PA, RIPU-Impurity, RIPU-Uncertainty,
                                 RIPU-Rect, RIPU-Superpixel; image_baselines: RAND, ENT,
                                 SCONF, MAR, Canny-ENT
  pool   (RegionSelectionHook)   adeada: ADeADA; pool_baselines: Pool-RAND, Pool-ENT,
                                 Pool-CONF, Pool-MAR, BADGE, ReDAL, AADA, CLUE
  online (AdaptiveSamplingHook)  adamcu: ADA-MCU

A new strategy is one file: a class with ``name``, ``defaults`` and ``select`` (or ``score``),
decorated with ``@STRATEGIES.register_module()`` (or ``register_strategy``), loaded by the
config's ``custom_imports``; docs/writing-a-strategy.md has a complete example.
"""
from ..units import Budget  # noqa: F401  (the per-image budget, re-exported)
from . import adamcu, adeada, image_baselines, point_ent, pool_baselines, ripu  # noqa: F401,E501
from .base import (LEGACY_NAMES, SCOPES, STRATEGIES, Strategy, build_strategy,  # noqa: F401
                   names, register_strategy, strategy_config)
from .image import GreedyStrategy, ImageStrategy, Pick, SegmentStrategy  # noqa: F401
from .pool import PoolStrategy  # noqa: F401
