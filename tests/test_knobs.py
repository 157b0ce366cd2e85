"""The knob table (sweeps/knobs.py) and the config layout: knobs apply where they apply and are
skipped elsewhere, any strategy option is a knob, unknown knobs list the known ones, `--set`
takes knobs, docs/spaces-and-knobs.md's list is the table's rendering, every space builds on every benchmark,
and moved configs give one line naming the new one."""
import os.path as osp
import re
import subprocess
import sys

import pytest
from mmengine.config import Config
from runner_utils import REPO

from sweeps.common import SweepError
from sweeps.config_knobs import active_hook, apply_knobs, strategy_options
from sweeps.config_sets import apply_sets
from sweeps.knobs import KNOB_ROWS, KNOBS, render_markdown
from sweeps.moved import moved_message
from sweeps.space import BENCHMARKS, Axis, Space, Variant
from sweeps.spaces import known_spaces, load_space
from sweeps.spaces.rows import ADEADA_ROWS, RIPU_ROWS
from sweeps.trial_config import build_trial_config, config_path

OLD_NAMES = ('strategy', 'k', 'unit', 'budget_ratio', 'budget_pixels', 'alpha1', 'alpha2', 'tau',
             'lcr_region', 'lr', 'max_iters', 'alpha', 'beta', 'decay', 'category_balance',
             'sigma', 'indexing', 'budget_overshoot', 'region', 'source_images',
             'adaptive_sampling', 'decay_every', 'contrastive', 'mcu_levels', 'mcu_units',
             'mcu_weight', 'use_dccm', 'gamma', 'pi_low', 'strategy_cfg', 'fixed_pi_high',
             'pseudo_labels', 'mcu_resolution', 'mcu_per_domain')


def _cfg(method, benchmark='synthshift'):
    return Config.fromfile(osp.join(REPO, 'configs', method, f'{benchmark}.py'))


def test_docs_knob_list_is_the_table():
    text = open(osp.join(REPO, 'docs', 'spaces-and-knobs.md')).read()
    block = re.search(r'<!-- knobs:[^\n]*-->\n(.*?)<!-- /knobs -->', text, re.S)
    assert block and block.group(1) == render_markdown()


def test_every_knob_name_stays_and_each_row_has_a_doc_and_a_path():
    assert set(OLD_NAMES) <= set(KNOBS)
    for row in KNOB_ROWS:
        assert row.doc and row.path and row.when in (
            'always', 'exists', 'hook', 'hook_takes', 'option')


def test_knobs_apply_and_are_skipped_where_they_do_not_apply():
    cfg = _cfg('ripu')
    applied = apply_knobs(cfg, dict(k=2, alpha1=0.3, tau=0.1, lr=0.5, budget_ratio=0.05,
                                    alpha=0.5, region=dict(type='grid', cell=(8, 8)),
                                    gamma=0.2))
    assert applied == dict(k=2, alpha1=0.3, tau=0.1, lr=0.5, budget_ratio=0.05)
    hook = active_hook(cfg)
    assert hook['strategy'] == dict(type='RIPU-RA', k=2) and hook['budget'] == dict(ratio=0.05)
    assert 'region' not in hook and 'gamma' not in cfg.model
    assert cfg.model.source_losses[0].loss_weight == 0.3
    assert cfg.model.target_losses[0].threshold == 0.1 and cfg.optim_wrapper.optimizer.lr == 0.5
    oracle = _cfg('fully_supervised')
    assert apply_knobs(oracle, dict(alpha1=0.0, k=1, budget_ratio=0.1, lr=0.1)) == dict(lr=0.1)
    assert active_hook(oracle) is None and active_hook(_cfg('source_only')) is None


def test_adeada_knobs_reach_only_adeada_and_hook_keys_only_hooks_that_take_them():
    cfg = _cfg('adeada')
    applied = apply_knobs(cfg, dict(strategy=dict(type='Pool-ENT'), alpha=0.5, decay='linear',
                                    budget_overshoot=True))
    assert applied == dict(strategy=dict(type='Pool-ENT'), budget_overshoot=True)
    assert active_hook(cfg)['strategy'] == dict(type='Pool-ENT')
    cfg = _cfg('adeada')
    assert apply_knobs(cfg, dict(alpha=0.25, decay='linear')) == dict(alpha=0.25, decay='linear')
    assert active_hook(cfg)['strategy'] == dict(type='ADeADA', alpha=0.25, beta=1.0,
                                                decay='linear')


def test_any_strategy_option_is_a_knob_and_an_axis():
    space = Space(name='opt', description='', seeds=1,
                  variants={'ra': Variant('ripu'), 'rect': RIPU_ROWS['ripu_rect']},
                  axes={'strategy.k': Axis(values=[1, 3])})
    cfg, applied = build_trial_config(space, 'synthshift', 'ra', {'strategy.k': 3}, 0)
    assert active_hook(cfg)['strategy'] == dict(type='RIPU-RA', k=3) and 'strategy.k' in applied
    cfg, applied = build_trial_config(space, 'synthshift', 'rect', {'strategy.k': 3}, 0)
    assert 'k' not in active_hook(cfg)['strategy'] and 'strategy.k' not in applied
    cfg = _cfg('adamcu')
    assert apply_knobs(cfg, {'strategy.decay': 0.8, 'adaptive_sampling': 0}) == {
        'strategy.decay': 0.8, 'adaptive_sampling': 0}
    assert active_hook(cfg)['strategy']['decay'] == 0.8
    assert active_hook(cfg)['strategy']['adaptive_sampling'] is False
    assert set(strategy_options('ADA-MCU')) >= {'decay', 'high_fraction', 'decay_every'}


def test_unknown_knobs_and_strategies_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown knobs \['kk'\]; known: .*'tau'.*strategy\."):
        Space(name='bad', description='', variants={'v': Variant('ripu', dict(kk=1))})
    with pytest.raises(ValueError, match='unknown knobs'):
        Space(name='bad', description='', variants={'v': Variant('ripu')},
              axes={'strategy.': Axis(values=[1])})
    with pytest.raises(SweepError, match="unknown knobs \\['nope'\\]"):
        apply_knobs(_cfg('ripu'), dict(nope=1))
    with pytest.raises(SweepError, match="unknown strategy 'ripu_pa' \\(now 'RIPU-PA'\\); known: "):
        apply_knobs(_cfg('ripu'), dict(strategy='ripu_pa'))


def test_set_takes_knobs_and_refuses_one_that_does_not_apply():
    cfg = _cfg('ripu')
    apply_sets(cfg, {'strategy.k': 3, 'budget_ratio': 0.04, 'train_cfg.max_iters': 1200,
                     'model.decode_head.dropout_ratio': 0.2})
    hook = active_hook(cfg)
    assert hook['strategy'] == dict(type='RIPU-RA', k=3) and hook['budget'] == dict(ratio=0.04)
    assert hook['select_iters'] == [300, 360, 420, 480, 540]
    assert cfg.model.decode_head.dropout_ratio == 0.2
    with pytest.raises(SweepError, match='--set alpha: the knob does not apply'):
        apply_sets(_cfg('ripu'), {'alpha': 0.5})


def test_hook_swap_keeps_what_the_new_hook_takes():
    cfg, applied = build_trial_config(load_space('strategy_curve'), 'gta5_to_cityscapes',
                                      'ripu_ra', {}, 0, data_root='/d')
    hook = active_hook(cfg)
    region = active_hook(_cfg('adeada', 'gta5_to_cityscapes'))
    assert hook['type'] == 'ActiveSelectionHook' and 'region' not in hook
    assert 'source_pipeline' not in hook and hook['strategy'] == dict(type='RIPU-RA', k=1)
    for key in ('select_iters', 'pool_pipeline', 'batch_size', 'budget'):
        assert hook[key] == region[key]


@pytest.mark.parametrize('benchmark', BENCHMARKS)
def test_every_space_builds_every_variant(benchmark):
    assert 'rows' not in known_spaces()
    for name in known_spaces():
        space = load_space(name)
        for variant in space.variants:
            cfg, _ = build_trial_config(space, benchmark, variant, {}, 0, data_root='/d')
            assert cfg.randomness.seed == 0


def test_rows_are_variants_of_anchor_configs():
    for rows, method in ((RIPU_ROWS, 'ripu'), (ADEADA_ROWS, 'adeada')):
        for name, row in rows.items():
            assert row.config in (method, 'fully_supervised'), name
    pa = RIPU_ROWS['ripu_pa']
    assert pa.knobs_for('synthshift')['strategy'] == dict(type='RIPU-PA', k=2)
    assert pa.knobs_for('gta5_to_cityscapes')['budget'] == dict(pixels=40,
                                                                resolution=(640, 1280))


def test_docs_example_space_builds(tmp_path):
    text = open(osp.join(REPO, 'docs', 'spaces-and-knobs.md')).read()
    section = text[text.index('## Writing a space'):]
    example = section[section.index('```python\n') + 10:section.index('```\n', 10)]
    path = tmp_path / 'my_space.py'
    path.write_text(example)
    space = load_space(str(path))
    for benchmark in BENCHMARKS:
        for variant in space.variants:
            build_trial_config(space, benchmark, variant, {'tau': 0.02, 'strategy.k': 2}, 0,
                               data_root='/d')


@pytest.mark.slow  # long for the default run (about 10 s or more)
def test_moved_configs_name_the_new_one():
    assert moved_message('configs/ripu/synthshift/ripu_ra.py') == \
        'error: configs/ripu/synthshift/ripu_ra.py moved: use configs/ripu/synthshift.py'
    message = moved_message(osp.join(REPO, 'configs/ripu/gta5_to_cityscapes/rand_pixel.py'))
    assert "RIPU_ROWS['rand_pixel']" in message and "ripu_selection variant 'rand_40px'" in message
    assert 'configs/ripu/gta5_to_cityscapes.py' in message
    assert 'strategy_curve' in moved_message('configs/adeada/synthshift/badge.py')
    assert moved_message('configs/adeada/synthshift/warmup.py') is None
    with pytest.raises(SweepError, match='moved: use configs/source_only/synthshift.py'):
        config_path('synthshift', 'ripu/source_only')
    for tool, extra in (('train.py', []), ('test.py', ['x.pth'])):
        out = subprocess.run([sys.executable, f'tools/{tool}', 'configs/synthshift/source_only.py',
                              *extra], cwd=REPO, capture_output=True, text=True)
        lines = [line for line in out.stderr.splitlines() if 'Warning' not in line]
        assert out.returncode == 2 and lines == [
            'error: configs/synthshift/source_only.py moved: use configs/source_only/synthshift.py']
