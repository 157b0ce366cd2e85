"""`--tracking wandb`: a real sweep in W&B's offline mode, its run files read back with wandb's own
record protobufs and compared with the Parquet rows; the driver's checks of the online mode
(missing credentials, a server that refuses, does not answer, or rejects the key) and of a
missing extra, each one `error:` line before anything is written."""
import glob
import http.server
import importlib.util
import os
import socket
import struct
import subprocess
import sys
import threading
import zlib

import pyarrow.parquet as pq
import pytest
from ray_cluster import free_port
from runner_utils import REPO

needs_wandb = pytest.mark.skipif(importlib.util.find_spec('wandb') is None,
                                 reason="needs the optional extra: pip install -e '.[wandb]'")
KEY = 'k' * 40
TINY_SPACE = '''"""A tiny space for the W&B test."""
from sweeps.space import Space
from sweeps.spaces.rows import RIPU_ROWS, with_knobs
SPACE = Space(name='tiny', description=__doc__, seeds=1, variants={
    'rand': with_knobs(RIPU_ROWS['rand_region'], max_iters=20),
    'f_ripu': with_knobs(RIPU_ROWS['ripu_ra'], max_iters=20),
})
'''


def _env(tmp_path, **extra):
    """No W&B credentials from this machine: a HOME of its own, no netrc, no WANDB_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('WANDB_') and k != 'NETRC'}
    home = tmp_path / 'home'
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), PYTHONWARNINGS='ignore', RAY_DEDUP_LOGS='0', **extra)
    return env


def _run(args, env, timeout=600, python=()):
    return subprocess.run([sys.executable, *python, 'sweeps/run.py', *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _refused(out, storage, message):
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and message in lines[0], lines
    assert not os.path.exists(storage)


# ---- the driver's checks ----------------------------------------------------------------------

@needs_wandb
def test_online_without_credentials_is_one_error_line(tmp_path):
    storage = str(tmp_path / 'r')
    out = _run(['--space', 'ripu_ablation', '--tracking', 'wandb', '--storage', storage],
               _env(tmp_path, WANDB_BASE_URL=f'http://127.0.0.1:{free_port()}'))
    _refused(out, storage, 'no W&B credentials for http://127.0.0.1:')


@needs_wandb
def test_online_closed_port_is_one_error_line(tmp_path):
    storage, port = str(tmp_path / 'r'), free_port()
    out = _run(['--space', 'ripu_ablation', '--tracking', 'wandb', '--storage', storage],
               _env(tmp_path, WANDB_API_KEY=KEY, WANDB_BASE_URL=f'http://127.0.0.1:{port}'))
    _refused(out, storage, f'cannot reach the W&B server at http://127.0.0.1:{port} '
             '(connection refused)')


@needs_wandb
def test_online_silent_server_is_one_error_line_after_the_timeout(tmp_path):
    """A port that accepts connections (the kernel's backlog) but never answers."""
    storage = str(tmp_path / 'r')
    with socket.socket() as silent:
        silent.bind(('127.0.0.1', 0))
        silent.listen(8)
        url = f'http://127.0.0.1:{silent.getsockname()[1]}'
        out = _run(['--space', 'ripu_ablation', '--tracking', 'wandb', '--storage', storage],
                   _env(tmp_path, WANDB_API_KEY=KEY, WANDB_BASE_URL=url), timeout=120)
    _refused(out, storage, f'cannot reach the W&B server at {url} (no answer within 5 s)')


class _Answer(http.server.BaseHTTPRequestHandler):
    status = 200
    seen = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        type(self).seen.append((self.path, self.headers.get('Authorization'), body))
        self.send_response(self.status)
        self.send_header('Content-Type', 'application/json')
        self.end_headers()
        self.wfile.write(b'{"data": {"viewer": {"id": "u1"}}}')

    def log_message(self, *args):
        pass


@needs_wandb
@pytest.mark.parametrize('status, source', [(200, 'WANDB_API_KEY'), (401, 'WANDB_API_KEY'),
                                            (200, 'netrc')])
def test_online_server_that_answers(tmp_path, status, source):
    """A loopback HTTP server standing in for W&B: 200 passes the check (the dry run prints the
    plan), 401 is one error line; the request is the viewer query with the key, taken from
    WANDB_API_KEY or from the netrc entry of the server."""
    import base64
    handler = type('Answer', (_Answer,), dict(status=status, seen=[]))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f'http://127.0.0.1:{server.server_address[1]}'
    storage = str(tmp_path / 'r')
    env = _env(tmp_path, WANDB_BASE_URL=url)
    if source == 'netrc':
        netrc = tmp_path / 'home' / '.netrc'
        netrc.write_text(f'machine 127.0.0.1:{server.server_address[1]}\n  login user\n'
                         f'  password {KEY}\n')
        netrc.chmod(0o600)
    else:
        env['WANDB_API_KEY'] = KEY
    try:
        out = _run(['--space', 'ripu_ablation', '--tracking', 'wandb', '--storage', storage,
                    '--dry-run'], env)
    finally:
        server.shutdown()
        server.server_close()
    path, auth, body = handler.seen[0]
    assert path == '/graphql' and b'viewer' in body
    assert auth == 'Basic ' + base64.b64encode(f'api:{KEY}'.encode()).decode()
    if status == 200:
        assert out.returncode == 0 and '24 trials' in out.stdout, out.stderr[-2000:]
    else:
        _refused(out, storage, f'the W&B server at {url} refused the credentials from '
                 f'{source} (HTTP 401)')


def test_without_the_extra_names_it(tmp_path):
    """wandb not importable (as without the extra): one error line naming the extra."""
    storage = str(tmp_path / 'r')
    blocked = ['-c', "import runpy, sys; sys.modules['wandb'] = None; "
               "sys.argv = sys.argv[1:]; "
               "runpy.run_path('sweeps/run.py', run_name='__main__')"]
    out = _run(['--space', 'ripu_ablation', '--tracking', 'wandb', '--storage', storage],
               _env(tmp_path, WANDB_MODE='offline'), python=blocked)
    _refused(out, storage, "--tracking wandb: wandb is not installed (pip install -e '.[wandb]')")


@needs_wandb
@pytest.mark.parametrize('args, message', [
    (['--wandb-project', 'p'], '--wandb-project p: needs --tracking wandb'),
    (['--tracking', 'wandb', '--wandb-entity', 'a team'], "W&B entity 'a team': expected"),
])
def test_bad_wandb_flags(tmp_path, args, message):
    storage = str(tmp_path / 'r')
    out = _run(['--space', 'ripu_ablation', '--storage', storage, *args],
               _env(tmp_path, WANDB_MODE='offline'))
    _refused(out, storage, message)


# ---- a real sweep, offline --------------------------------------------------------------------

def wandb_records(path):
    """The records of a W&B run file (`run-<id>.wandb`): W&B's header (':W&B', magic, version),
    then LevelDB log blocks of 32 KiB whose chunks (CRC-32 of type + data, length, type: full,
    first, middle, last) hold wandb_internal_pb2.Record messages."""
    from wandb.proto import wandb_internal_pb2
    data = open(path, 'rb').read()
    assert data[:4] == b':W&B', data[:7]
    pos, parts = 7, b''
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a header: zero padding
            pos += 32768 - pos % 32768
            continue
        crc, length, kind = struct.unpack('<IHB', data[pos:pos + 7])
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 0:
            continue
        assert zlib.crc32(bytes([kind]) + chunk) == crc, f'{path}: bad checksum at {pos}'
        parts += chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(parts)
            parts = b''
            yield record


def read_offline_run(path):
    """(the run record, {round: {metric: value}}) of an offline run file."""
    import json
    run, history = None, {}
    for record in wandb_records(path):
        kind = record.WhichOneof('record_type')
        if kind == 'run':
            run = record.run
        elif kind == 'history':
            row = {'.'.join(item.nested_key) or item.key: json.loads(item.value_json)
                   for item in record.history.item}
            history[int(row['round'])] = row
    return run, history


@pytest.mark.slow
@needs_wandb
def test_tracking_wandb_offline_logs_every_trial_as_a_run(tmp_path, synthshift_root):
    """`--tracking wandb` with WANDB_MODE=offline: one run per trial, named after it, grouped by
    sweep, with its parameters, and per round the metrics of the Parquet rows."""
    space = tmp_path / 'tiny_space.py'
    space.write_text(TINY_SPACE)
    storage = str(tmp_path / 'results')
    env = _env(tmp_path, WANDB_MODE='offline', WANDB_PROJECT='adaproj',
               ADASWEEP_DATA=os.path.dirname(synthshift_root))
    out = _run(['--space', str(space), '--storage', storage, '--name', 'wb', '--tracking',
                'wandb', '--wandb-entity', 'lab'], env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    rows = pq.read_table(os.path.join(storage, 'wb', 'results.parquet')).to_pandas()
    files = sorted(glob.glob(os.path.join(storage, 'wb', 'wandb', 'offline-run-*', '*.wandb')))
    assert len(files) == 2, files
    runs = [read_offline_run(f) for f in files]
    assert sorted(run.display_name for run, _ in runs) == ['f_ripu-s0', 'rand-s0']
    for run, history in runs:
        trial = rows[rows.trial_name == run.display_name].sort_values('round')
        assert run.run_id == trial.trial_id.iloc[0] and run.run_group == 'wb'
        assert run.project == 'adaproj' and run.entity == 'lab'
        config = {u.key: u.value_json for u in run.config.update}
        assert config['variant'] == f'"{trial.variant.iloc[0]}"' and config['seed'] == '0'
        assert config['max_iters'] == '20'
        assert config['trial_name'] == f'"{run.display_name}"'
        assert sorted(history) == list(trial['round'])
        for _, row in trial.iterrows():
            logged = history[int(row['round'])]
            assert logged['mIoU'] == pytest.approx(row.miou, abs=1e-6)
            assert logged['labelled_fraction'] == pytest.approx(row.labelled_fraction)
            assert logged['IoU.road'] == pytest.approx(row['iou_road'], abs=1e-6)
            assert 'timestamp' not in logged and 'time_total_s' not in logged
