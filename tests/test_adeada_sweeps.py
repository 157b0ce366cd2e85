"""ADeADA in the sweep layer: its spaces build their trial configs (knobs into the strategy,
the warm-up checkpoint as load_from), and the warm-up is trained once and reused."""
import os

import pytest

from sweeps.spaces import load_space
from sweeps.trial_config import SweepError, build_trial_config
from sweeps.warmup import ensure_warmup, warmup_checkpoint

SPACES = ('adeada_ablation', 'adeada_alpha', 'adeada_schedule', 'strategy_curve')


@pytest.mark.parametrize('name', SPACES)
def test_spaces_build_every_variant_from_the_warmup(name, tmp_path):
    space = load_space(name)
    assert space.configs == 'adeada' and space.seeds >= 3
    for variant in space.variants:
        cfg, _ = build_trial_config(space, 'synthshift', variant, {}, 2, storage=str(tmp_path))
        hook = cfg.custom_hooks[0]
        assert hook['seed'] == 2
        if hook['type'] != 'AdaptiveSamplingHook':  # ADA-MCU buys during training, no rounds
            assert hook['select_iters'] == [0, 120, 240, 360, 480]
        assert cfg.load_from == warmup_checkpoint(cfg, str(tmp_path))
        assert cfg.load_from.startswith(str(tmp_path / '.warmup' / 'synthshift-warmup-'))
        if hook['strategy']['type'] == 'ADeADA':
            want = {k: v for k, v in space.variants[variant].knobs.items()}
            assert {k: hook['strategy'][k] for k in want} == want


def test_ablation_and_schedule_rows():
    ablation = load_space('adeada_ablation').variants
    assert ablation['a_uncertainty'].knobs == dict(alpha=0.0)
    assert ablation['b_density'].knobs['category_balance'] is False
    schedule = load_space('adeada_schedule').variants
    assert schedule['linear_decay'].knobs == dict(alpha=1.0, beta=0.2, decay='linear')
    curve = load_space('strategy_curve').variants
    assert list(curve) == ['rand', 'mar', 'conf', 'ent', 'badge', 'redal', 'aada', 'clue',
                           'adeada', 'ripu_ra', 'adamcu']
    assert curve['adamcu'].config == 'adamcu/adamcu_adeada_warmup'


def test_knobs_only_reach_the_hooks_they_apply_to(tmp_path):
    space = load_space('strategy_curve')
    cfg, applied = build_trial_config(space, 'synthshift', 'ent', dict(alpha=0.5, region=dict(
        type='grid', cell=(8, 8)), budget_overshoot=True), 0)
    hook = cfg.custom_hooks[0]
    assert hook['strategy'] == dict(type='Pool-ENT') and 'alpha' not in applied
    assert hook['region'] == dict(type='grid', cell=(8, 8)) and hook['budget_overshoot'] is True
    cfg, applied = build_trial_config(space, 'synthshift', 'ripu_ra', dict(region='x'), 0)
    assert cfg.custom_hooks[0]['type'] == 'ActiveSelectionHook'
    assert 'region' not in cfg.custom_hooks[0] and 'region' not in applied
    cfg, _ = build_trial_config(space, 'synthshift', 'adeada', dict(max_iters=300), 0)
    assert cfg.custom_hooks[0]['select_iters'] == [0, 60, 120, 180, 240]
    assert cfg.param_scheduler[0]['period'] == 60 and cfg.param_scheduler[0]['end'] == 300


def test_warmup_key_follows_the_config_and_the_data(tmp_path, monkeypatch):
    space = load_space('adeada_ablation')
    cfg, _ = build_trial_config(space, 'synthshift', 'e_adeada', {}, 0)
    first = warmup_checkpoint(cfg, str(tmp_path))
    monkeypatch.setenv('ADASWEEP_DATA', str(tmp_path / 'elsewhere'))
    assert warmup_checkpoint(cfg, str(tmp_path)) != first
    cfg.warmup_config = 'configs/adeada/synthshift/nope.py'
    with pytest.raises(SweepError, match='does not exist'):
        warmup_checkpoint(cfg, str(tmp_path))


def _warmup_config(path, root, iters=2, broken=False):
    """The SynthShift warm-up on the tiny data, for `iters` iterations."""
    base = os.path.abspath('configs/adeada/synthshift/warmup.py')
    path.write_text(f"""_base_ = [{base!r}]
train_cfg = dict(max_iters={iters}, val_interval={iters})
train_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(
    source=dict(data_root={root!r}), target=dict(data_root={root!r})))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root={root!r}))
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(interval={iters}))
""" + ("model = dict(type='NoSuchSegmentor')\n" if broken else ''))
    return str(path)


def test_warmup_is_trained_once_and_a_failure_leaves_nothing(tmp_path, synthshift_root):
    from mmengine.config import Config
    cfg = Config(dict(warmup_config=_warmup_config(tmp_path / 'warm.py', str(synthshift_root))))
    target = ensure_warmup(cfg, str(tmp_path / 'store'), log=lambda *a, **k: None)
    assert os.path.isfile(target) and target == warmup_checkpoint(cfg, str(tmp_path / 'store'))
    stamp = os.stat(target).st_mtime_ns
    assert ensure_warmup(cfg, str(tmp_path / 'store')) == target  # reused, not retrained
    assert os.stat(target).st_mtime_ns == stamp
    bad = Config(dict(warmup_config=_warmup_config(tmp_path / 'bad.py', str(synthshift_root),
                                                   broken=True)))
    with pytest.raises(SweepError, match='failed'):
        ensure_warmup(bad, str(tmp_path / 'store'), log=lambda *a, **k: None)
    assert not os.path.exists(warmup_checkpoint(bad, str(tmp_path / 'store')))
