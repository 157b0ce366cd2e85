"""docs/writing-a-strategy.md: the example strategy file, written into a folder outside the
project and imported through the space's `imports` (the trial config's custom_imports), runs a
real SynthShift sweep; so does the page's space that sweeps its new option as an axis. No
project file is touched."""
import json
import os
import re
import subprocess
import sys

import pytest
from runner_utils import REPO, user_sweep
from runner_utils import user_env as user_env_of

ONE_TRIAL_SPACE = '''"""One trial of the docs' strategy."""
from sweeps.space import Space, Variant

SPACE = Space(name='weighted_one', description=__doc__, imports=('my_strategies',), seeds=1,
              variants={'weighted': Variant('ripu', dict(strategy='WeightedImpurity',
                                                         **{'strategy.impurity_weight': 2.0}))})
'''


def _readme_blocks():
    """The python blocks of docs/writing-a-strategy.md: (strategy, space)."""
    section = open(os.path.join(REPO, 'docs', 'writing-a-strategy.md')).read()
    blocks = re.findall(r'```python\n(.*?)```', section, re.S)
    assert len(blocks) == 2, 'the section shows the strategy file and the space file'
    return blocks


@pytest.fixture
def user_env(tmp_path, synthshift_root):
    ext = tmp_path / 'ext'
    ext.mkdir()
    strategy, space = _readme_blocks()
    assert len(strategy.splitlines()) < 60
    (ext / 'my_strategies.py').write_text(strategy)
    (ext / 'weighted_impurity.py').write_text(space)
    (ext / 'weighted_one.py').write_text(ONE_TRIAL_SPACE)
    return ext, user_env_of(ext, synthshift_root)


def _sweep(ext, env, space, storage, *extra):
    return user_sweep(ext / space, env, storage, *extra)


def _strategy(row):
    return json.loads(row.config_json)['custom_hooks'][0]['strategy']


@pytest.mark.slow  # long for the default run (about 10 s or more)
def test_readme_strategy_runs_a_one_trial_sweep(tmp_path, user_env):
    ext, env = user_env
    rows = _sweep(ext, env, 'weighted_one.py', tmp_path / 'results')
    assert rows.trial_id.nunique() == 1 and sorted(rows['round']) == [0, 1, 2, 3, 4, 5]
    final = rows[rows.is_final].iloc[0]
    assert _strategy(final) == dict(type='WeightedImpurity', k=1, impurity_weight=2.0)
    assert 'my_strategies' in json.loads(final.config_json)['custom_imports']['imports']
    assert final.labelled_fraction > 0.02
    work = os.path.join(tmp_path, 'results', 'user', 'work', final.trial_id, 'active_labels')
    with open(os.path.join(work, 'rounds', 'round_004.json')) as f:
        assert json.load(f)['strategy'] == 'WeightedImpurity'


@pytest.mark.slow
def test_readme_space_sweeps_the_new_option_as_an_axis(tmp_path, user_env):
    ext, env = user_env
    rows = _sweep(ext, env, 'weighted_impurity.py', tmp_path / 'results')
    final = rows[rows.is_final]
    assert len(final) == 3
    weights = sorted(_strategy(r)['impurity_weight'] for _, r in final.iterrows())
    assert weights == [0.5, 1.0, 2.0]
    assert sorted(final.param_strategy_impurity_weight) == [0.5, 1.0, 2.0]
    assert final.miou.nunique() > 1  # the option changes what is bought


def test_a_space_whose_module_is_missing_is_one_error_line(tmp_path, user_env):
    ext, env = user_env
    env = dict(env, PYTHONPATH=os.environ.get('PYTHONPATH', ''))  # the module is not importable
    out = subprocess.run([sys.executable, 'sweeps/run.py', '--space', str(ext / 'weighted_one.py'),
                          '--storage', str(tmp_path / 'results'), '--dry-run'],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error:') and "'my_strategies'" in lines[0]
    assert not (tmp_path / 'results').exists()
