"""Bad input to `sweeps/run.py` (issue 20, items 11-15), run as a user runs it: a subprocess in
a fresh directory. Each case is one `error:` line on stderr, exit status 2, and nothing written:
neither the storage folder nor the data root (SynthShift is not generated) is created, also with
`--dry-run`, which validates everything a real run validates before it would start."""
import json
import os
import subprocess
import sys

import pytest
from runner_utils import REPO

RUN_PY = os.path.join(REPO, 'sweeps', 'run.py')
SPACE = '''from sweeps.space import Axis, Space, Variant
from sweeps.spaces.rows import RIPU_ROWS, with_knobs
SPACE = Space(name='tiny', description='a test space', seeds=1, variants={{
    'v': with_knobs(RIPU_ROWS[{config!r}], max_iters=20{knobs}),
}}, axes={{{axes}}})
'''


def _space(tmp_path, config='ripu_ra', knobs='', axes=''):
    path = tmp_path / 'tiny_space.py'
    path.write_text(SPACE.format(config=config, knobs=knobs, axes=axes))
    return str(path)


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob('*'))


def refused(tmp_path, args, *messages, dry_run=False, data_root=None):
    """Run `args` (+ a fresh storage and data root) from `tmp_path`: one `error:` line naming
    `messages`, exit 2, nothing on stdout, and no file or folder made anywhere under tmp_path."""
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    env.pop('ADASWEEP_DATA', None)
    before = _tree(tmp_path)
    out = subprocess.run(
        [sys.executable, RUN_PY, *args, '--storage', str(tmp_path / 'results'), '--data-root',
         data_root or str(tmp_path / 'data'), *(['--dry-run'] if dry_run else [])],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith('error: '), out.stderr[-2000:]
    for message in messages:
        assert message in lines[0], lines[0]
    assert 'Traceback' not in out.stderr and out.stdout == ''
    assert _tree(tmp_path) == before  # no results/, no data/ (SynthShift not generated)
    return lines[0]


both = pytest.mark.parametrize('dry_run', [False, True], ids=['run', 'dry-run'])


# ---- 11. resources ----------------------------------------------------------------------------

@both
@pytest.mark.parametrize('option, value', [('--gpus-per-trial', 'inf'),
                                           ('--gpus-per-trial', 'nan'),
                                           ('--cpus-per-trial', 'nan'),
                                           ('--cpus-per-trial', 'inf')])
def test_non_finite_resources(tmp_path, option, value, dry_run):
    refused(tmp_path, ['--space', 'ripu_ablation', option, value], f'{option} {value}',
            dry_run=dry_run)


# ---- 12. --set values of the right type that are impossible ----------------------------------

@both
@pytest.mark.parametrize('value, messages', [
    ('lr=1e999', ['--set lr=inf', 'not a finite number']),
    ('lr=-1.0', ['--set lr=-1.0', 'expected a number > 0']),
    ('optim_wrapper.optimizer.lr=0.0', ['optim_wrapper.optimizer.lr=0.0', 'a number > 0']),
    ('train_dataloader.batch_size=0', ['train_dataloader.batch_size=0', 'an integer >= 1']),
    ('train_dataloader.batch_size=-4', ['train_dataloader.batch_size=-4', 'an integer >= 1']),
    ('optim_wrapper.optimizer.momentum=-1e999', ['momentum=-inf', 'not a finite number']),
    ('model.decode_head.loss_decode.loss_weight=1e999', ['loss_weight=inf', 'not a finite']),
    ('budget_ratio=1.5', ['--set budget_ratio=1.5', 'a number in (0, 1]']),
], ids=['lr-inf', 'lr-neg', 'lr-path-zero', 'batch-0', 'batch-neg', 'momentum-neg-inf',
        'any-key-inf', 'budget-ratio'])
def test_impossible_set_values(tmp_path, value, messages, dry_run):
    refused(tmp_path, ['--space', _space(tmp_path), '--set', value], *messages, dry_run=dry_run)


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_a_space_knob_or_axis_out_of_range(tmp_path):
    refused(tmp_path, ['--space', _space(tmp_path, knobs=', lr=-0.1')],
            "variant 'v'", 'knob lr=-0.1', 'expected a number > 0')
    refused(tmp_path, ['--space', _space(tmp_path, axes="'tau': Axis(low=0.0, high=2.0)")],
            "axis 'tau' value 2.0", 'a number in [0, 1]')


# ---- 13. --name ---------------------------------------------------------------------------------

@both
@pytest.mark.parametrize('name, messages', [
    ('n' * 300, ['300 bytes long', 'at most 200 bytes']),
    ('ü' * 150, ['300 bytes long']),
    ('warmup', ["--name 'warmup': reserved"]),
], ids=['long', 'long-utf8', 'warmup'])
def test_bad_names(tmp_path, name, messages, dry_run):
    refused(tmp_path, ['--space', 'ripu_ablation', '--name', name], *messages, dry_run=dry_run)


def test_the_warmup_cache_is_no_sweep_name():
    """Sweeps and the warm-up cache are apart by construction: the cache is a dot name, which
    check_name refuses for any sweep."""
    from sweeps.common import SweepError
    from sweeps.checks import check_name
    from sweeps.warmup import CACHE_DIR
    with pytest.raises(SweepError):
        check_name(CACHE_DIR)


# ---- 14. axes and knobs that apply to no variant, axes that are not Axis(...) -----------------

@both
def test_an_axis_naming_no_strategy_option(tmp_path, dry_run):
    space = _space(tmp_path, axes="'strategy.kk': Axis(values=[1, 2])")
    line = refused(tmp_path, ['--space', space], "axis 'strategy.kk' applies to no variant",
                   dry_run=dry_run)
    assert line.endswith('the options of its strategies: entropy_norm_classes, k')


@both
@pytest.mark.parametrize('config, knobs, axes, messages', [
    ('target_oracle', ', alpha1=0.5', '', ["knob 'alpha1' applies to no variant"]),
    ('ripu_ra', '', "'alpha': Axis(values=[0.5, 1.0])", ["axis 'alpha' applies to no variant",
                                                         'strategy `ADeADA`']),
], ids=['alpha1-on-oracle', 'adeada-alpha-on-ripu'])
def test_a_knob_that_applies_to_no_variant(tmp_path, config, knobs, axes, messages, dry_run):
    refused(tmp_path, ['--space', _space(tmp_path, config, knobs, axes)], *messages,
            dry_run=dry_run)


@both
def test_an_axis_that_is_a_plain_list(tmp_path, dry_run):
    space = _space(tmp_path, axes="'tau': [0.05, 0.1]")
    refused(tmp_path, ['--space', space], "axis 'tau' is a list", 'expected Axis(values=[...])',
            dry_run=dry_run)


def test_a_space_file_that_raises(tmp_path):
    path = tmp_path / 'broken_space.py'
    path.write_text('from sweeps.space import Space\nSPACE = Space(name=undefined_name)\n')
    refused(tmp_path, ['--space', str(path)], 'broken_space.py', '(line 2)', 'NameError')


# ---- 15. search and scheduler before any data -------------------------------------------------

@both
@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_pbt_with_random_search_generates_no_data(tmp_path, dry_run):
    space = _space(tmp_path, axes="'tau': Axis(values=[0.05, 0.1])")
    refused(tmp_path, ['--space', space, '--scheduler', 'pbt', '--search', 'random'],
            '--scheduler pbt needs --search grid', dry_run=dry_run)


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_dry_run_refuses_a_folder_of_another_plan(tmp_path, synthshift_root):
    """--dry-run checks an existing sweep folder's plan as a real run does (read only)."""
    folder = tmp_path / 'results' / 'tiny_synthshift'
    folder.mkdir(parents=True)
    (folder / 'plan.json').write_text(json.dumps(dict(fingerprint=dict(seeds=7))))
    refused(tmp_path, ['--space', _space(tmp_path), '--set', 'lr=0.01'],
            'sweep tiny_synthshift was started with another plan', 'seeds: 7 -> 1',
            dry_run=True, data_root=os.path.dirname(synthshift_root))
