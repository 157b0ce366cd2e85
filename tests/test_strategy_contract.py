"""The strategy contract (mmseg_ext.active.strategies.contract): options are constructor keyword
arguments, needs are declared, and a strategy with a new need is one file outside the project.

The two sweeps write, into a folder outside the project, a strategy that needs the model's
features and one that gives pseudo labels (one module each), plus the one-trial space that asks
for it, and run a real SynthShift sweep of each with no project file changed."""
import json
import os

import pytest
import torch
from runner_utils import user_env, user_sweep

from mmseg_ext.active.strategies import (BUDGET, FEATURES, IMAGE, LOGITS, GreedyStrategy,
                                         ImageStrategy, Strategy, build_strategy)
from mmseg_ext.active.strategies.contract import signature_options
from mmseg_ext.hooks.inference import LabelSizeOutputs
from mmseg_ext.hooks.strategy_inputs import given, model_outputs, uses_model

FEATURE_STRATEGY = '''"""feature_ent.py: entropy weighted by how far a pixel's features are from
the image's mean feature, window-mean over (2k+1)^2 regions, picked as RIPU-RA picks."""
from mmseg_ext.ops.checks import is_real
from mmseg_ext.active.scores import entropy, window_mean
from mmseg_ext.active.strategies import FEATURES, STRATEGIES, GreedyStrategy


@STRATEGIES.register_module(name='Feature-ENT')
class FeatureEnt(GreedyStrategy):
    needs = GreedyStrategy.needs | {FEATURES}

    def __init__(self, feature_weight: float = 1.0, **options):
        super().__init__(**options)
        if not is_real(feature_weight, 0):
            self.bad('feature_weight', 'a number >= 0')

    def score(self, logits, image, generator, feats):
        dist = (feats - feats.mean((1, 2), keepdim=True)).norm(dim=0)
        dist = dist / dist.max().clamp_min(1e-12)
        weighted = entropy(logits) * (1 + self.options['feature_weight'] * dist)
        return window_mean(weighted, self.options['k'])
'''

PSEUDO_STRATEGY = '''"""confident_pseudo.py: buys the most uncertain pixels (entropy, suppression
radius k) and gives the model's own label to the `pseudo_fraction` most confident pixels left
(CBST-like), which no later round buys."""
import torch

from mmseg_ext.ops.checks import is_real
from mmseg_ext.active.scores import entropy
from mmseg_ext.active.strategies import STRATEGIES, GreedyStrategy

IGNORE = 255


@STRATEGIES.register_module(name='Confident-Pseudo')
class ConfidentPseudo(GreedyStrategy):
    unit = 'pixel'

    def __init__(self, pseudo_fraction: float = 0.02, k: int = 2, **options):
        super().__init__(k=k, **options)
        if not (is_real(pseudo_fraction, 0) and pseudo_fraction <= 1):
            self.bad('pseudo_fraction', 'a number in [0, 1]')

    @property
    def suppress_radius(self):
        return self.options['k']

    def score(self, logits, image, generator):
        return entropy(logits)

    def select(self, logits, count, blocked=None, image=None, generator=None, **given):
        pick = super().select(logits, count, blocked, image, generator, **given)
        confidence, label = torch.softmax(logits.float(), 0).max(0)
        n = round(self.options['pseudo_fraction'] * confidence.numel())
        top = confidence.masked_fill(pick.blocked, -1.0).flatten().topk(n).indices
        sure = torch.zeros_like(pick.blocked).flatten()
        sure[top] = True
        sure = sure.view_as(pick.blocked) & ~pick.blocked
        pseudo = torch.where(sure, label, torch.full_like(label, IGNORE))
        return pick._replace(blocked=pick.blocked | sure, pseudo=pseudo)
'''

SPACE = '''"""One trial of {name}."""
from sweeps.space import Space, Variant

SPACE = Space(name='{module}_one', description=__doc__, imports=('{module}',), seeds=1,
              variants={{'one': Variant('ripu', dict(strategy={strategy!r}))}})
'''


# ---------------------------------------------------------------- the contract on its own


class _Scaled(GreedyStrategy):
    """Not registered: options and needs only."""
    needs = GreedyStrategy.needs | {IMAGE}

    def __init__(self, scale: float = 2.0, k: int = 3, **options):
        super().__init__(k=k, **options)

    def score(self, logits, image, generator, **given):
        return logits[0] * self.options['scale']


def test_options_are_the_constructors_keyword_arguments():
    assert signature_options(_Scaled) == dict(entropy_norm_classes=19, k=3, scale=2.0)
    assert dict(_Scaled.defaults) == signature_options(_Scaled)
    s = _Scaled(scale=0.5)
    assert s.options == dict(entropy_norm_classes=19, k=3, scale=0.5)
    assert s.name == '_Scaled' and s.needs_at(1) == {LOGITS, BUDGET, IMAGE}
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['kk'\]"):
        _Scaled(kk=1)
    with pytest.raises(ValueError, match='option k must be an int >= 0'):
        _Scaled(k=-1)
    ra = build_strategy('RIPU-RA', k=2)
    assert ra.name == 'RIPU-RA' and ra.options == dict(entropy_norm_classes=19, k=2)


def test_the_old_ways_and_unknown_needs_are_refused_when_the_class_is_written():
    with pytest.raises(TypeError, match='abstract'):
        ImageStrategy()
    with pytest.raises(TypeError, match='defaults'):
        type('Old', (GreedyStrategy,), dict(defaults={'k': 1}))
    with pytest.raises(TypeError, match='validate'):
        type('Old', (GreedyStrategy,), dict(validate=lambda self: None))
    with pytest.raises(TypeError, match="unknown needs \\['depth'\\]"):
        type('Deep', (ImageStrategy,), dict(needs=frozenset({'depth'})))
    with pytest.raises(TypeError, match='needs a default'):
        type('NoDefault', (Strategy,), dict(__init__=lambda self, alpha: None))


def test_the_hook_hands_exactly_what_is_declared():
    logits, feats = torch.randn(3, 4, 5), torch.randn(7, 4, 5)
    out = LabelSizeOutputs([logits], [logits + 1], [feats])
    ent = build_strategy('ENT')
    assert given(ent, out, 0, lambda: 1 / 0) == {}  # no image loaded, no features handed
    scaled = _Scaled()
    assert set(given(scaled, out, 0, lambda: 'rgb')) == {IMAGE}
    feature = type('F', (_Scaled,), dict(needs=GreedyStrategy.needs | {FEATURES}))()
    assert torch.equal(given(feature, out, 0, None)[FEATURES], feats)
    with pytest.raises(ValueError, match='needs the features'):
        feature.select(logits, 1)
    rand = build_strategy('RAND')
    assert not uses_model(rand) and uses_model(ent)
    empty = model_outputs(rand, None, None, [(4, 5)], torch.device('cpu'))
    assert empty.logits[0].shape == (0, 4, 5) and empty.feats is None


# ---------------------------------------------------------------- one file each, a real sweep


def _user_sweep(tmp_path, synthshift_root, module, text, strategy):
    ext = tmp_path / 'ext'
    ext.mkdir()
    (ext / f'{module}.py').write_text(text)  # the strategy: one file
    space = ext / f'{module}_one.py'  # what the sweep runs: a one-trial space
    space.write_text(SPACE.format(name=strategy, module=module, strategy=strategy))
    rows = user_sweep(space, user_env(ext, synthshift_root), tmp_path / 'results')
    assert rows.trial_id.nunique() == 1 and sorted(rows['round']) == [0, 1, 2, 3, 4, 5]
    final = rows[rows.is_final].iloc[0]
    assert json.loads(final.config_json)['custom_hooks'][0]['strategy']['type'] == strategy
    assert final.labelled_fraction > 0.02
    work = os.path.join(tmp_path, 'results', 'user', 'work', final.trial_id, 'active_labels')
    with open(os.path.join(work, 'rounds', 'round_004.json')) as f:
        assert json.load(f)['strategy'] == strategy
    return final


@pytest.mark.slow
def test_a_strategy_that_needs_features_runs_a_one_trial_sweep(tmp_path, synthshift_root):
    final = _user_sweep(tmp_path, synthshift_root, 'feature_ent', FEATURE_STRATEGY,
                        'Feature-ENT')
    assert not final.pseudo_pixels > 0  # None or 0: it gives no pseudo labels


@pytest.mark.slow
def test_a_strategy_that_gives_pseudo_labels_runs_a_one_trial_sweep(tmp_path, synthshift_root):
    final = _user_sweep(tmp_path, synthshift_root, 'confident_pseudo', PSEUDO_STRATEGY,
                        'Confident-Pseudo')
    assert final.pseudo_pixels > 0
