"""Warm-ups and runs killed inside a checkpoint write resume (issue 20, item 1), and a warm-up
publishes the checkpoint its config asks for, `warmup_publish = 'best' | 'last'`, recording which
(issue 21, item 5: POINT-ENT's G1 is the best on validation mIoU, as IntraDA picks it).

mmengine's CheckpointHook removes the previous checkpoint before it writes the next, in place, and
only then updates `last_checkpoint`: a kill in between left `last_checkpoint` naming a removed file
and a truncated newest checkpoint, and every rerun failed with FileNotFoundError.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from runner_utils import REPO

from sweeps.warmup import train_warmup

RECORD = 'warmup.json'  # sweeps.warmup.RECORD

# every checkpoint kept (max_keep_ckpts=-1), so the test can build a killed run's work dir
WARMUP = '''_base_ = [{base!r}]
train_cfg = dict(max_iters=20, val_interval={val})  # a checkpoint every 2 iterations
default_hooks = dict(checkpoint=dict(max_keep_ckpts={keep}))
{extra}
'''
BASE = os.path.join(REPO, 'configs/adeada/synthshift/warmup.py')
TRAIN = '''import sys
from sweeps.warmup import train_warmup
train_warmup(sys.argv[1], sys.argv[2], sys.argv[3], log=lambda *a, **k: print(*a, flush=True))
'''


def _config(tmp_path, name='warm.py', val=20, extra='', keep=-1):
    path = tmp_path / name
    path.write_text(WARMUP.format(base=BASE, val=val, extra=extra, keep=keep))
    return str(path)


def _state(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def _same(a, b):
    a, b = _state(a), _state(b)
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _quiet(*args, **kwargs):
    pass


def test_resume_checkpoint_takes_the_newest_that_loads_whatever_last_checkpoint_says(tmp_path):
    from mmseg_ext.engine import resolve_resume, resume_checkpoint
    from mmengine.config import Config
    work = tmp_path / 'work'
    work.mkdir()
    for i in (2, 10):
        torch.save(dict(meta=dict(iter=i), state_dict={}), work / f'iter_{i}.pth')
    data = (work / 'iter_10.pth').read_bytes()
    (work / 'iter_12.pth').write_bytes(data[:len(data) - 100])  # a write cut short
    (work / 'iter_9.pth').write_bytes(b'')
    (work / 'last_checkpoint').write_text(str(work / 'iter_4.pth'))  # removed
    assert resume_checkpoint(str(work)) == str(work / 'iter_10.pth')  # 10 after 9 (not text)
    cfg = Config(dict(work_dir=str(work), resume=True, load_from='init.pth'))
    assert resolve_resume(cfg) == cfg.load_from == str(work / 'iter_10.pth') and cfg.resume
    for name in ('iter_10.pth', 'iter_2.pth'):
        os.unlink(work / name)
    cfg = Config(dict(work_dir=str(work), resume=True, load_from='init.pth'))
    assert resolve_resume(cfg) is None and not cfg.resume and cfg.load_from == 'init.pth'


def test_point_ent_g1_is_published_as_intrada_picks_it():
    """POINT-ENT's G1 (its warm-up, ADVENT) is the best-validation-mIoU checkpoint on every
    benchmark (IntraDA's BEST_ID); a warm-up config without warmup_publish keeps the last."""
    from mmengine.config import Config

    from sweeps.warmup import warmup_train_config
    for bench in ('synthshift', 'gta5_to_cityscapes', 'synthia_to_cityscapes'):
        rel = f'configs/point_ent/{bench}/advent.py'
        assert Config.fromfile(os.path.join(REPO, rel)).get('warmup_publish') == 'best', rel
        hook = warmup_train_config(rel, '/tmp/unused', '/tmp/data').default_hooks.checkpoint
        assert hook.save_best == 'mIoU' and hook.rule == 'greater'
    hook = warmup_train_config('configs/adeada/synthshift/warmup.py', '/tmp/unused',
                               '/tmp/data').default_hooks.checkpoint
    assert hook.get('save_best') is None


@pytest.mark.slow
def test_a_warmup_killed_inside_a_checkpoint_write_resumes(tmp_path, synthshift_root):
    """The state mmengine's hook leaves after a kill inside a write: iter_4.pth removed while
    last_checkpoint still names it, iter_8.pth cut short. The rerun resumes from iter_6.pth (the
    newest that loads) and publishes exactly the uninterrupted warm-up."""
    config, data_root = _config(tmp_path), os.path.dirname(synthshift_root)
    whole = str(tmp_path / 'whole' / 'warmup.pth')
    train_warmup(config, whole, data_root, log=_quiet)
    work = tmp_path / 'whole' / 'work'
    assert sorted(p.name for p in work.glob('iter_*.pth')) == \
        [f'iter_{i}.pth' for i in sorted(range(2, 21, 2), key=str)]

    killed = tmp_path / 'killed'
    (killed / 'work').mkdir(parents=True)
    shutil.copy(work / 'iter_6.pth', killed / 'work' / 'iter_6.pth')
    data = (work / 'iter_8.pth').read_bytes()
    (killed / 'work' / 'iter_8.pth').write_bytes(data[:len(data) // 2])
    (killed / 'work' / 'last_checkpoint').write_text(str(killed / 'work' / 'iter_4.pth'))
    lines = []
    target = str(killed / 'warmup.pth')
    train_warmup(config, target, data_root, log=lambda *a, **k: lines.append(' '.join(a)))
    assert 'resuming from ' + str(killed / 'work' / 'iter_6.pth') in lines[0]
    assert _same(whole, target)


@pytest.mark.slow
def test_a_kill_inside_the_checkpoint_write_leaves_one_that_loads(tmp_path, synthshift_root):
    """SIGKILL (ADASWEEP_TEST_KILL_AT=checkpoint:3) after the third checkpoint is written, before
    last_checkpoint points at it and before the older one is removed (max_keep_ckpts=1): the
    work dir still loads, the rerun resumes from the newest file and equals an unkilled run."""
    config = _config(tmp_path, keep=1)
    data_root = os.path.dirname(synthshift_root)
    whole = str(tmp_path / 'whole' / 'warmup.pth')
    train_warmup(config, whole, data_root, log=_quiet)
    target = str(tmp_path / 'killed' / 'warmup.pth')
    env = dict(os.environ, PYTHONWARNINGS='ignore', ADASWEEP_TEST_KILL_AT='checkpoint:3')
    proc = subprocess.run([sys.executable, '-c', TRAIN, config, target, data_root], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600,
                          start_new_session=True)
    assert proc.returncode == -9, proc.stdout[-2000:] + proc.stderr[-2000:]
    work = tmp_path / 'killed' / 'work'
    assert sorted(p.name for p in work.glob('iter_*.pth')) == ['iter_4.pth', 'iter_6.pth']
    assert (work / 'last_checkpoint').read_text().endswith('iter_4.pth')
    lines = []
    train_warmup(config, target, data_root, log=lambda *a, **k: lines.append(' '.join(a)))
    assert 'resuming from ' + str(work / 'iter_6.pth') in lines[0]
    assert _same(whole, target)
    assert sorted(p.name for p in work.glob('iter_*.pth')) == ['iter_20.pth']


@pytest.mark.slow
def test_warmup_publish_best_publishes_the_best_validation_checkpoint(tmp_path, synthshift_root):
    """warmup_publish='best': validation every 4 iterations (at checkpoints); the published
    checkpoint is the one of the best validation mIoU, warmup.json says which iteration and mIoU."""
    data_root = os.path.dirname(synthshift_root)
    config = _config(tmp_path, val=4, extra="warmup_publish = 'best'")
    target = tmp_path / 'best' / 'warmup.pth'
    # its own process: mmengine's visualizer is one per process, writing to the first run's dir
    proc = subprocess.run([sys.executable, '-c', TRAIN, config, str(target), data_root],
                          cwd=REPO, env=dict(os.environ, PYTHONWARNINGS='ignore'),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    record = json.loads((target.parent / RECORD).read_text())
    scalars = [json.loads(line) for path in (target.parent / 'work').glob('*/vis_data/*.json')
               for line in path.read_text().splitlines()]  # mmengine's LoggerHook's logs
    mious = {row['step']: row['mIoU'] for row in scalars if 'mIoU' in row}
    assert sorted(mious) == [4, 8, 12, 16, 20]
    best = max(mious, key=lambda step: (mious[step], -step))  # the first of equal bests
    assert record['publish'] == 'best' and record['iteration'] == best
    assert abs(record['mIoU'] - mious[best]) < 1e-6
    work = target.parent / 'work'
    assert _same(str(target), str(work / f'iter_{best}.pth'))
    # only the best is kept next to the iteration checkpoints
    assert [p.name for p in work.glob('best_*.pth')] == [f'best_mIoU_iter_{best}.pth']

    last = tmp_path / 'last' / 'warmup.pth'
    train_warmup(_config(tmp_path, 'last.py', val=4, extra="warmup_publish = 'last'"),
                 str(last), data_root, log=_quiet)
    assert json.loads((last.parent / RECORD).read_text())['iteration'] == 20
    assert _same(str(last), str(last.parent / 'work' / 'iter_20.pth'))
