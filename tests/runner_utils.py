"""Small configs of the real SynthShift configs for tests: tiny data, few iterations."""
import os.path as osp

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_SYNTHSHIFT = dict(num_source=48, num_target_train=24, num_target_val=12)


def _walk(cfg, fn):
    if isinstance(cfg, dict):
        fn(cfg)
        for value in cfg.values():
            _walk(value, fn)
    elif isinstance(cfg, (list, tuple)):
        for item in cfg:
            _walk(item, fn)


def tiny_config(config, work_dir, synthshift_root, iters=8, **overrides):
    """Load `config` (path relative to the repo), point SynthShift at a tiny copy, shorten it."""
    cfg = Config.fromfile(osp.join(REPO, config))

    def tiny(d):
        if d.get('type') == 'SynthShiftDataset':
            d['data_root'] = str(synthshift_root)
            d['generate'] = dict(TINY_SYNTHSHIFT)

    _walk(cfg._cfg_dict, tiny)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=iters,
                                by_epoch=False)]
    cfg.default_hooks.checkpoint.interval = max(iters // 2, 1)
    cfg.default_hooks.logger.interval = 1
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.merge_from_dict(overrides)
    return cfg


def row_config(row, work_dir, synthshift_root, iters=8, **overrides):
    """tiny_config of a space row (a sweeps.space.Variant) on SynthShift: its method's config
    with the row's knobs applied, as a sweep builds it."""
    from sweeps.config_knobs import apply_knobs
    from sweeps.trial_config import config_path
    config = osp.relpath(config_path('synthshift', row.config), REPO)
    cfg = tiny_config(config, work_dir, synthshift_root, iters, **overrides)
    apply_knobs(cfg, row.knobs_for('synthshift'))
    return cfg


def sweep_dry_run(space, benchmark):
    """`sweeps/run.py --space SPACE --benchmark BENCHMARK --dry-run` in a subprocess (asserts it
    exits 0 and lists trials); returns its stdout."""
    import subprocess
    import sys
    venv = osp.join(REPO, '.venv', 'bin', 'python')
    python = venv if osp.isfile(venv) else sys.executable
    done = subprocess.run([python, 'sweeps/run.py', '--space', space, '--benchmark', benchmark,
                           '--dry-run'], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert 'trials' in done.stdout
    return done.stdout


def sweep_killed_after_first_report(args, env, trials_dir, timeout=300):
    """Start `sweeps/run.py ARGS` in a session of its own, wait until a trial has reported (a
    file in `trials_dir`), then SIGKILL the whole session: the driver, Ray and its workers."""
    import os
    import subprocess
    import sys
    import time
    from ray_cluster import kill_sessions
    proc = subprocess.Popen([sys.executable, 'sweeps/run.py', *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + timeout
    while time.time() < deadline and not (os.path.isdir(trials_dir) and os.listdir(trials_dir)):
        time.sleep(1)
    reported = os.path.isdir(trials_dir) and bool(os.listdir(trials_dir))
    kill_sessions([proc.pid])
    proc.wait()
    assert reported, 'no trial reported before the timeout'


def git_status():
    """`git status --porcelain` of the project, untracked files included."""
    import subprocess
    return subprocess.run(['git', 'status', '--porcelain', '--untracked-files=all'], cwd=REPO,
                          capture_output=True, text=True).stdout


def user_sweep(space_path, env, storage, *extra):
    """A one-seed SynthShift sweep of a user's space file (20 iterations) in a subprocess, with
    user code on env's PYTHONPATH: asserts it exits 0, writes nothing into the project and every
    row is ok; returns the rows of results.parquet (sweep name 'user')."""
    import subprocess
    import sys
    import pyarrow.parquet as pq
    before = git_status()
    out = subprocess.run([sys.executable, 'sweeps/run.py', '--space', str(space_path),
                          '--storage', str(storage), '--name', 'user', '--seeds', '1', '--quiet',
                          '--set', 'train_cfg.max_iters=20', *extra],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert git_status() == before  # nothing of the project was written
    rows = pq.read_table(osp.join(str(storage), 'user', 'results.parquet')).to_pandas()
    assert (rows.status == 'ok').all()
    return rows


def user_env(folder, synthshift_root):
    """The environment of a user's sweep: `folder` (their modules) on PYTHONPATH, the tests'
    SynthShift as the data root."""
    import os
    return dict(os.environ, ADASWEEP_DATA=osp.dirname(str(synthshift_root)),
                PYTHONWARNINGS='ignore',
                PYTHONPATH=os.pathsep.join([str(folder), os.environ.get('PYTHONPATH', '')]))
