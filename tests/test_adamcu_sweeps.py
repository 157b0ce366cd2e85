"""ADA-MCU in the sweep layer: its spaces build every trial config (the knobs reach the
segmentor and the hook, the source pre-training as load_from), the ADA-MCU row of strategy_curve
lands in the column of its cost, and bad ADA-MCU values stop a sweep before it starts."""
import os
import subprocess
import sys

import pytest
from runner_utils import REPO

from sweeps.spaces import load_space
from sweeps.tables import rounds_table
from sweeps.trial_config import build_trial_config
from sweeps.warmup import warmup_checkpoint

LEVELS = ('intra_image', 'cross_image', 'cross_domain')


@pytest.mark.parametrize('name', ('adamcu_ablation', 'adamcu_budget', 'adamcu_gamma'))
def test_spaces_build_every_trial(name, tmp_path):
    space = load_space(name)
    assert space.configs == 'adamcu' and space.seeds >= 3
    for trial in space.grid_trials(1):
        cfg, applied = build_trial_config(space, 'synthshift', trial['variant'],
                                          trial['params'], 1, storage=str(tmp_path))
        hook = cfg.custom_hooks[0]
        assert hook['type'] == 'AdaptiveSamplingHook' and hook['seed'] == 1
        assert cfg.model.type == 'ADAMCUSegmentor'
        assert cfg.load_from == warmup_checkpoint(cfg, str(tmp_path))
        assert 'source_pretrain' in cfg.load_from
        for key, value in trial['params'].items():
            assert applied[key] == value


def _model_and_hook(variant):
    cfg, _ = build_trial_config(load_space('adamcu_ablation'), 'synthshift', variant, {}, 0)
    return cfg.model, cfg.custom_hooks[0]


def test_ablation_rows_switch_the_parts_they_name():
    model, hook = _model_and_hook('al_without_as')
    assert hook['strategy']['adaptive_sampling'] is False and model.contrastive_loss is None
    assert model.use_dccm is False
    model, hook = _model_and_hook('al_with_as')
    assert hook['strategy']['adaptive_sampling'] is True and model.contrastive_loss is None
    model, _ = _model_and_hook('mcu_image')
    assert model.contrastive_loss.levels == LEVELS[:2] and model.use_dccm is False
    model, _ = _model_and_hook('p2p')
    assert model.contrastive_loss.units == ('pixel',) and model.contrastive_loss.levels == LEVELS
    model, _ = _model_and_hook('c2c')
    assert model.contrastive_loss.units == ('centre',)
    model, _ = _model_and_hook('full_model')
    assert model.use_dccm is True and model.contrastive_loss.units == ('pixel', 'centre')


def test_budget_and_gamma_knobs():
    cfg, _ = build_trial_config(load_space('adamcu_budget'), 'synthshift', 'adamcu',
                                dict(budget_ratio=0.168), 0)
    assert cfg.custom_hooks[0]['budget'] == dict(ratio=0.168)
    cfg, _ = build_trial_config(load_space('adamcu_gamma'), 'synthshift', 'adamcu',
                                dict(gamma=0.25, max_iters=300), 0)
    assert cfg.model.gamma == 0.25 and cfg.train_cfg.max_iters == 300
    assert 'gamma' not in cfg.custom_hooks[0]  # the hook reads it from the model


def test_the_adamcu_row_sits_in_the_column_of_its_cost():
    import pandas as pd
    rows = []
    for seed in range(2):
        for r in (1, 2):  # a round-based method: 1% then 2%
            rows.append(dict(variant='ent', seed=seed, round=r, status='done',
                             labelled_fraction=0.01 * r, miou=20.0 + r))
        for r in (1, 2):  # ADA-MCU: everything bought early, 2% at every evaluation
            rows.append(dict(variant='adamcu', seed=seed, round=r, status='done',
                             labelled_fraction=0.02, miou=30.0 + r))
    rows.append(dict(variant='rand', seed=0, round=1, status='done', labelled_fraction=0.01,
                     miou=19.0))
    df = rounds_table(pd.DataFrame(rows))
    # the column labels follow the median cost, not ADA-MCU's
    assert [c for c in df.columns if c.endswith('_mean')] == ['1.0%_mean', '2.0%_mean']
    assert df.loc['adamcu', '2.0%_mean'] == 32.0


@pytest.mark.parametrize('sets, message', [
    (['model.gamma=-1.0'], 'gamma'),
    (['model.pi_low=0.99', 'model.pi_high=0.5'], 'pi_low <= pi_high'),
    (['model.dccm_momentum=1.0'], 'momentum'),
    (['custom_hooks.0.budget.ratio=1.5'], 'ratio'),
])
@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_bad_adamcu_values_stop_the_sweep_before_it_starts(tmp_path, sets, message):
    out = subprocess.run([sys.executable, 'sweeps/run.py', '--space', 'adamcu_gamma',
                          '--storage', str(tmp_path / 'r'), '--set', *sets], cwd=REPO,
                         env=dict(os.environ, PYTHONWARNINGS='ignore'), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and message in lines[0]
    assert not (tmp_path / 'r').exists()
