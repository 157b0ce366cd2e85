"""The warm-up (sweeps.warmup): a warm-up killed halfway resumes from its last checkpoint and
publishes exactly the checkpoint of one never killed; two drivers asking for it at once train it
once; inside a Ray instance it runs as a task with the trial's resources."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from runner_utils import REPO

WARMUP = '''_base_ = [{base!r}]
train_cfg = dict(max_iters=20, val_interval=20)
'''
TRAIN = '''import sys
from sweeps.warmup import train_warmup
train_warmup(sys.argv[1], sys.argv[2], sys.argv[3], log=lambda *a, **k: print(*a, flush=True))
'''


def _config(tmp_path):
    path = tmp_path / 'warm.py'
    path.write_text(WARMUP.format(base=os.path.join(REPO, 'configs/adeada/synthshift/warmup.py')))
    return str(path)


def _start(config, target, data_root):
    return subprocess.Popen([sys.executable, '-c', TRAIN, config, target, data_root], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONWARNINGS='ignore'),
                            start_new_session=True)


def _iteration(work):
    path = os.path.join(work, 'last_checkpoint')
    if not os.path.isfile(path):
        return 0
    name = os.path.basename(open(path).read().strip())
    return int(name[len('iter_'):-len('.pth')]) if name.startswith('iter_') else 0


def _state(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


@pytest.mark.slow
def test_killed_warmup_resumes_and_equals_an_uninterrupted_one(tmp_path, synthshift_root):
    config, data_root = _config(tmp_path), os.path.dirname(synthshift_root)
    whole = str(tmp_path / 'whole' / 'warmup.pth')
    done = _start(config, whole, data_root)
    out, _ = done.communicate(timeout=600)
    assert done.returncode == 0, out[-3000:]

    target = str(tmp_path / 'killed' / 'warmup.pth')
    work = os.path.join(os.path.dirname(target), 'work')
    proc = _start(config, target, data_root)
    deadline = time.time() + 300
    while _iteration(work) < 10 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # the trainer and its data-loader workers
    proc.wait()
    killed_at = _iteration(work)
    assert 0 < killed_at < 20 and not os.path.exists(target)
    again = _start(config, target, data_root)
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out[-3000:]
    assert 'resuming' in out
    a, b = _state(whole), _state(target)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_two_drivers_asking_at_once_train_it_once(tmp_path, synthshift_root):
    config, data_root = _config(tmp_path), os.path.dirname(synthshift_root)
    target = str(tmp_path / 'shared' / 'warmup.pth')
    procs = [_start(config, target, data_root) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sum('training' in out for out in outs) == 1  # the other waited and reused it
    assert os.path.isfile(target)
    runs = [d for d in os.listdir(os.path.join(tmp_path, 'shared', 'work'))
            if os.path.isdir(os.path.join(tmp_path, 'shared', 'work', d))]
    assert len(runs) == 1, runs  # one mmengine run (one timestamped log folder)


@pytest.mark.slow
def test_warmup_runs_as_a_ray_task_with_the_trials_resources(tmp_path, synthshift_root):
    """ensure_warmup inside Ray: a task asking for the trial's GPU is scheduled only where a
    GPU is (here: a fake one), and trains there."""
    script = f'''
import ray
from mmengine.config import Config
from sweeps import ray_env
from sweeps.warmup import ensure_warmup
ray_env.init_local(num_cpus=2, num_gpus=1, log_to_driver=False)
cfg = Config(dict(warmup_config={_config(tmp_path)!r}))
path = ensure_warmup(cfg, {str(tmp_path / 'store')!r}, {os.path.dirname(synthshift_root)!r},
                     cpus=1, gpus=1, log=print)
print('published', path)
'''
    out = subprocess.run([sys.executable, '-c', script], cwd=REPO, capture_output=True,
                         text=True, timeout=600, env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert 'as a Ray task (1 CPU, 1 GPU)' in out.stdout
    published = out.stdout.split('published ')[-1].strip()
    assert os.path.isfile(published) and published.startswith(str(tmp_path / 'store'))
