"""A sweep SIGKILLed as a whole (driver, Ray, every worker) again and again, at random moments and
at fixed points (inside a selection round, inside the label store's commit, while a trial's
Parquet file or the compacted results.parquet is written, during the warm-up, inside a warm-up's
and a trial's checkpoint write, while a trial's Tune checkpoint is written), each time rerun
with the same command, ends with exactly the table of the same sweep never killed: the same
mIoU, per-class IoU, labelled fraction and pixels bought in every (variant, seed, round) row,
each trial once, and TensorBoard files that repeat no step the never-killed sweep's do not.
Fixed kill points are injected with ADASWEEP_TEST_KILL_AT (adasweep_base.testing).
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import psutil
import pyarrow.parquet as pq
import pytest
from ray_cluster import kill_sessions
from runner_utils import REPO

SPACE = '''"""Kill-anywhere test space: two region strategies from a short warm-up."""
from sweeps.space import Space, Variant
from sweeps.spaces.rows import ADEADA_ROWS, with_knobs
SPACE = Space(name='killable', description=__doc__, seeds=1, variants={
    'rand': with_knobs(ADEADA_ROWS['rand'], max_iters=40),
    'ent': with_knobs(ADEADA_ROWS['ent'], max_iters=40),
})
'''
WARMUP = '''_base_ = [{base!r}]
train_cfg = dict(max_iters=30, val_interval=30)
'''
COLUMNS = ['miou', 'labelled_fraction', 'pixels_bought', 'units_bought']
SEED = int(os.environ.get('ADASWEEP_KILL_SEED', '0'))


def _ray_processes(ray_tmp):
    found = []
    for proc in psutil.process_iter(['pid', 'cmdline', 'environ']):
        try:
            text = ' '.join(proc.info['cmdline'] or []) + str(proc.info.get('environ') or '')
        except (psutil.Error, TypeError):
            continue
        if ray_tmp in text:
            found.append(proc)
    return found


class Sweep:
    def __init__(self, tmp_path, data_root, name):
        tmp_path.mkdir(exist_ok=True)
        self.storage = str(tmp_path / 'results')
        space = tmp_path / 'killable.py'
        space.write_text(SPACE)
        warm = tmp_path / 'warm.py'
        warm.write_text(WARMUP.format(base=os.path.join(REPO, 'configs/adeada/synthshift/warmup.py')))
        self.args = ['--space', str(space), '--storage', self.storage, '--name', name,
                     '--data-root', data_root, '--max-concurrent', '1',
                     '--set', f'warmup_config={warm}']
        self.dir = os.path.join(self.storage, name)
        self.runs, self.kills = 0, []

    def start(self, kill_at=None):
        ray_tmp = tempfile.mkdtemp(prefix='rk', dir='/tmp')  # short: Ray's socket paths
        env = dict(os.environ, RAY_TMPDIR=ray_tmp, PYTHONWARNINGS='ignore')
        env.pop('ADASWEEP_TEST_KILL_AT', None)
        if kill_at:
            env['ADASWEEP_TEST_KILL_AT'] = kill_at
        log = open(os.path.join(ray_tmp, 'driver.log'), 'w')
        proc = subprocess.Popen([sys.executable, 'sweeps/run.py', *self.args], cwd=REPO, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.runs += 1
        return proc, ray_tmp

    def stop(self, proc, ray_tmp):
        """SIGKILL everything of this run: the driver's session and Ray's daemons."""
        kill_sessions([proc.pid])
        proc.wait()
        for p in _ray_processes(ray_tmp):
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(_ray_processes(ray_tmp), timeout=30)
        shutil.rmtree(ray_tmp, ignore_errors=True)

    def run_to_end(self, timeout=600):
        proc, ray_tmp = self.start()
        try:
            proc.wait(timeout=timeout)
            with open(os.path.join(ray_tmp, 'driver.log')) as f:
                out = f.read()
        finally:
            self.stop(proc, ray_tmp)
        assert proc.returncode == 0, out[-4000:]
        return out

    def killed(self, kill_at=None, when=None, timeout=300):
        """Run once and die: at the injected point `kill_at`, or when `when()` holds."""
        proc, ray_tmp = self.start(kill_at)
        deadline = time.time() + timeout
        try:
            while proc.poll() is None and time.time() < deadline:
                if when is not None and when():
                    break
                time.sleep(0.2)
            died = proc.poll() is not None
            self.kills.append(kill_at or 'random')
        finally:
            self.stop(proc, ray_tmp)
        if kill_at:
            assert died and proc.returncode != 0, f'the kill point {kill_at} was never reached'

    def rows(self):
        df = pq.read_table(os.path.join(self.dir, 'results.parquet')).to_pandas()
        return df.sort_values(['variant', 'seed', 'round', 'is_final']).reset_index(drop=True)

    def warmup_training(self):
        root = os.path.join(self.storage, '.warmup')
        if not os.path.isdir(root):
            return False
        for d in os.listdir(root):
            work = os.path.join(root, d, 'work')
            if os.path.isfile(os.path.join(work, 'last_checkpoint')) and \
                    not os.path.isfile(os.path.join(root, d, 'warmup.pth')):
                return True
        return False

    def tensorboard_steps(self):
        """{trial name: Counter((tag, step))} of every scalar in the sweep's TensorBoard files
        (read back with TensorBoard's EventAccumulator); trial name without the trial id."""
        from collections import Counter

        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        root = os.path.join(self.dir, 'tensorboard')
        out = {}
        for run in sorted(os.listdir(root)):
            events = EventAccumulator(os.path.join(root, run), size_guidance={'scalars': 0})
            events.Reload()
            out[run.rsplit('_', 2)[0]] = Counter(  # <name>_<experiment>_<counter>
                (tag, e.step) for tag in events.Tags()['scalars'] for e in events.Scalars(tag))
        return out

    def trial_files(self):
        trials = os.path.join(self.dir, 'trials')
        return len(os.listdir(trials)) if os.path.isdir(trials) else 0


@pytest.mark.slow
def test_killed_sweep_gives_the_table_of_one_never_killed(tmp_path, synthshift_root):
    data_root = os.path.dirname(synthshift_root)
    a = Sweep(tmp_path / 'a', data_root, 'killable')
    a.run_to_end()
    want = a.rows()

    b = Sweep(tmp_path / 'b', data_root, 'killable')
    rng = random.Random(SEED)
    print(f'kill-anywhere seed {SEED} (ADASWEEP_KILL_SEED)')
    b.killed(when=b.warmup_training)                          # during the warm-up
    b.killed(kill_at='checkpoint:2')                           # inside a warm-up checkpoint write
    b.killed(kill_at='selection:2')                            # inside a selection round
    b.killed(kill_at='commit:3')                               # inside the store's commit
    b.killed(kill_at='checkpoint:1')                           # inside a trial's checkpoint write
    b.killed(kill_at='report:2')                               # a trial's Tune checkpoint
    delay = rng.uniform(2, 10)
    started = []
    b.killed(when=lambda: b.trial_files() > 0 and (started.append(time.time()) or
                                                   time.time() - started[0] > delay))
    b.killed(kill_at=f'parquet:{rng.randint(1, 4)}')           # a trial's result file
    b.killed(kill_at='compact:1')                              # compaction at the sweep's end
    b.run_to_end()
    got = b.rows()
    print(f'kills survived: {len(b.kills)} ({", ".join(b.kills)}), runs: {b.runs}')

    assert (got.status == 'ok').all(), got[got.status != 'ok'][['variant', 'error']]
    assert got.groupby(['variant', 'seed']).trial_id.nunique().eq(1).all()  # each trial once
    keys = ['variant', 'seed', 'round', 'is_final']
    assert got[keys].equals(want[keys])
    iou = [c for c in want.columns if c.startswith('iou_')]
    for col in COLUMNS + iou:
        same = (got[col] == want[col]) | (got[col].isna() & want[col].isna())
        assert same.all(), f'{col} differs:\n{want[keys + [col]]}\n{got[keys + [col]]}'
    # resumed trials drop what their killed attempts logged after the checkpoint they resume
    # from: no (tag, step) more often than in the never-killed sweep (events a kill kept in a
    # writer's buffer are lost, so fewer may be there)
    want_tb, got_tb = a.tensorboard_steps(), b.tensorboard_steps()
    assert sorted(got_tb) == sorted(want_tb)
    for trial, steps in got_tb.items():
        extra = {key: n for key, n in steps.items() if n > want_tb[trial].get(key, 0)}
        assert not extra, f'{trial}: (tag, step): times logged, more than never killed: {extra}'


TRAIN = '''_base_ = [{base!r}]
# two domains, random flips and dropout: every sample's draws and the training's matter
flip = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
        dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')]
train_dataloader = dict(num_workers={workers}, persistent_workers={workers} > 0, dataset=dict(
    source=dict(data_root={root!r}, generate={sizes!r}, pipeline=flip),
    target=dict(data_root={root!r}, generate={sizes!r}, pipeline=flip)))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root={root!r}, generate={sizes!r}))
test_dataloader = val_dataloader
model = dict(decode_head=dict(dropout_ratio=0.3))
train_cfg = dict(max_iters={iters}, val_interval={iters})
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end={iters},
                        by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=-1))
'''


def _train_cmd(config, work_dir):
    return [sys.executable, 'tools/train.py', config, '--work-dir', work_dir, '--resume']


def _checkpoints(work_dir):
    return len([n for n in os.listdir(work_dir) if n.startswith('iter_')]) \
        if os.path.isdir(work_dir) else 0


@pytest.mark.slow
@pytest.mark.parametrize('workers', [0, 2])
def test_training_killed_anywhere_with_workers_resumes_bit_identically(
        tmp_path, synthshift_root, workers):
    """tools/train.py --resume SIGKILLed at random moments (inside iterations, checkpoint writes,
    the workers' loading) and rerun ends with the weights of a run never killed, with 0 and with
    2 data-loader workers (flips and target draws seeded per sample; 48 source images in batches
    of 4: the 30 iterations span three epochs)."""
    import torch
    from runner_utils import TINY_SYNTHSHIFT
    iters = 30
    config = tmp_path / 'train.py'
    config.write_text(TRAIN.format(
        base=os.path.join(REPO, 'configs/fully_supervised/synthshift.py'), workers=workers,
        root=str(synthshift_root), sizes=dict(TINY_SYNTHSHIFT), iters=iters))
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    done = subprocess.run(_train_cmd(str(config), a), cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    rng = random.Random(SEED + workers)
    kills = []
    for _ in range(3):  # each time at a later checkpoint, plus a random part of a second
        target = _checkpoints(b) + rng.randint(1, 4)
        proc = subprocess.Popen(_train_cmd(str(config), b), cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.time() + 600
        while proc.poll() is None and _checkpoints(b) < target and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 1))
        kill_sessions([proc.pid])
        proc.wait()
        kills.append(_checkpoints(b))
    print(f'kill seed {SEED + workers}: killed with {kills} checkpoints written')
    done = subprocess.run(_train_cmd(str(config), b), cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    want = torch.load(os.path.join(a, f'iter_{iters}.pth'), weights_only=False)['state_dict']
    got = torch.load(os.path.join(b, f'iter_{iters}.pth'), weights_only=False)['state_dict']
    assert [k for k in want if not torch.equal(want[k], got[k])] == []
