"""Credentials in URIs (issue 20 item 10): `sweeps.common.mask_secrets`, and what the driver
prints and stores with it (the console's error line, history.jsonl, plan.json, sweep.json,
configs.json, space.json) never holds a password or a token given on the command line."""
import json
import os
import subprocess
import sys

import pytest
from runner_utils import REPO

SECRETS = ('s3cret', 'tk9zq7', 'sg4vv1')
URI = 'https://alice:s3cret@models.example/w.pth?token=tk9zq7&X-Amz-Signature=sg4vv1&v=2'
SPACE = '''from sweeps.space import Space
from sweeps.spaces.rows import RIPU_ROWS, with_knobs
SPACE = Space(name='tiny', description='a test space', seeds=1,
              variants={'v': with_knobs(RIPU_ROWS['rand_region'], max_iters=20)})
'''


@pytest.mark.parametrize('text, masked', [
    ('https://user:pass@host:5000/x', 'https://***@host:5000/x'),
    ('http://tok@host/', 'http://***@host/'),
    ('--tracking-uri=http://h/?access_token=abc&b=1', '--tracking-uri=http://h/?access_token=***&b=1'),
    ('s3://b/k?X-Amz-Credential=c&X-Amz-Signature=s', 's3://b/k?X-Amz-Credential=***&X-Amz-Signature=***'),
    ('http://127.0.0.1:5000', 'http://127.0.0.1:5000'),
    ('lr=0.01', 'lr=0.01'),
    ('git@host:repo.git', 'git@host:repo.git'),
])
def test_mask_secrets(text, masked):
    from sweeps.common import mask_secrets
    assert mask_secrets(text) == masked
    assert mask_secrets({'a': [text, 1], 'b': (text,)}) == {'a': [masked, 1], 'b': (masked,)}


def test_the_console_error_line_masks_the_uri(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(REPO, 'sweeps', 'run.py'), '--space',
                          'ripu_ablation', '--tracking-uri', URI, '--storage',
                          str(tmp_path / 'results')], cwd=str(tmp_path), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.startswith('error: --tracking-uri https://***@')
    assert not any(s in out.stderr + out.stdout for s in SECRETS)
    assert os.listdir(tmp_path) == []


def test_what_the_driver_stores_holds_no_secret(tmp_path, synthshift_root, monkeypatch):
    """The files run() writes when a sweep starts, made by the same calls, from a command line
    with a password and tokens in --set load_from."""
    from sweeps.folder import write_sweep_snapshot
    from sweeps.folder import SweepFolder
    from sweeps.plan import Plan
    from sweeps.run import parse_args
    space = tmp_path / 'tiny_space.py'
    space.write_text(SPACE)
    argv = ['--space', str(space), '--storage', str(tmp_path / 'results'), '--name', 'tiny',
            '--data-root', os.path.dirname(synthshift_root), '--set', f'load_from={URI}']
    monkeypatch.setattr(sys, 'argv', ['sweeps/run.py', *argv])
    plan = Plan(parse_args(argv))
    assert plan.configs['v']['load_from'] == URI  # the trials get the real URI
    folder = SweepFolder(plan)
    folder.acquire()
    write_sweep_snapshot(plan.sweep_dir, dict(name=plan.name, sets=plan.sets), plan.configs)
    folder.record('start')
    sweep = tmp_path / 'results' / 'tiny'
    names = ['history.jsonl', 'plan.json', 'sweep.json', 'configs.json']
    for name in names:
        text = (sweep / name).read_text()
        assert not any(s in text for s in SECRETS), (name, text[:500])
    from sweeps.folder import write_space_record
    write_space_record(plan.sweep_dir, plan.space)
    names.append('space.json')
    assert sorted(os.listdir(sweep)) == sorted(names + ['.driver.lock'])
    for name in names:
        text = (sweep / name).read_text()
        assert not any(s in text for s in SECRETS), (name, text[:500])
    history = json.loads((sweep / 'history.jsonl').read_text())
    assert history['argv'][-1] == 'load_from=https://***@models.example/w.pth?token=***&' \
                                  'X-Amz-Signature=***&v=2'
    assert json.loads((sweep / 'configs.json').read_text())['v']['load_from'].startswith(
        'https://***@models.example/')
