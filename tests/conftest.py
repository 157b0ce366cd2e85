import os
import sys

import pytest

import mmseg_ext  # noqa: F401  (compat first)
from mmseg.utils import register_all_modules

sys.path.insert(0, os.path.dirname(__file__))  # fixtures_official and other test helpers
register_all_modules(init_default_scope=True)


@pytest.fixture(scope='session')
def synthshift_root(tmp_path_factory):
    """A tiny SynthShift, generated once per test session."""
    from runner_utils import TINY_SYNTHSHIFT

    from mmseg_ext.datasets import ensure_synthshift
    root = tmp_path_factory.mktemp('data') / 'synthshift'
    return ensure_synthshift(root, progress=False, **TINY_SYNTHSHIFT)
