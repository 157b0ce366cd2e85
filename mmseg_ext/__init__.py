"""mmsegmentation components for active domain adaptation (datasets, models, acquisition, hooks).

Importing the package first applies `compat` (mmcv-lite ops stand-in, mmengine checkpoint
loading on torch >= 2.6), then registers everything into mmseg's registries.
"""
from . import compat

compat.apply()

from . import datasets, engine, evaluation, hooks, models  # noqa: E402,F401  (registration)

__version__ = '0.1.0'
