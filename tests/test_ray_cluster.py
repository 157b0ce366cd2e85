"""sweeps/ray_env.py and tests/ray_cluster.py: Ray on loopback only, token authentication, a real
multi-node cluster (head + 2 fake-GPU workers) started with `ray start`-style processes."""
import json
import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

from ray_cluster import RAY_BIN, RayCluster, beyond_loopback, listening
from sweeps import ray_env

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def _clean_env(tmp, **extra):
    """os.environ without Ray address/auth variables, HOME in ``tmp`` (Ray never sees
    ~/.ray), the token in a file of ``tmp``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('RAY_AUTH', 'RAY_ADDRESS', 'RAY_API_SERVER'))}
    home = os.path.join(tmp, 'home')
    os.makedirs(home, exist_ok=True)
    token = os.path.join(tmp, 'token')
    with open(token, 'w') as f:
        f.write('ab' * 32)
    env.update(HOME=home, PYTHONPATH=REPO, **ray_env.token_env(token), **extra)
    return env


# -- fast: no Ray instance ---------------------------------------------------------------------
def test_loopback_env_and_token_env():
    assert ray_env.loopback_env() == {'RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER': '0',
                                      'RAY_USAGE_STATS_ENABLED': '0'}
    assert ray_env.token_env('/x/t') == {'RAY_AUTH_MODE': 'token', 'RAY_AUTH_TOKEN_PATH': '/x/t'}
    assert ray_env.token_env(token='abc') == {'RAY_AUTH_MODE': 'token', 'RAY_AUTH_TOKEN': 'abc'}


@pytest.mark.parametrize('host', ['127.0.0.1', '127.0.0.5', '::1', '::ffff:127.0.0.1',
                                  'localhost', '[::1]'])
def test_is_loopback(host):
    assert ray_env.is_loopback(host)


@pytest.mark.parametrize('host', ['0.0.0.0', '::', '192.0.2.2', '::ffff:192.0.2.2', '10.0.0.1',
                                  'head-node', ''])
def test_is_not_loopback(host):
    assert not ray_env.is_loopback(host)


def test_apply_loopback_env_after_ray_was_imported(tmp_path):
    """Ray caches the switch at import; ray_env updates the cached copy too, so Ray's node-IP
    detection says 127.0.0.1 even when ray (here Ray Tune, as in sweeps/run.py) came first."""
    code = textwrap.dedent('''
        import ray, ray.tune
        from ray._private import services
        before = services.get_node_ip_address()
        from sweeps import ray_env
        ray_env.apply_loopback_env()
        import os
        print(before, services.get_node_ip_address(),
              os.environ['RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER'])
    ''')
    env = _clean_env(str(tmp_path))
    env.pop('RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER', None)
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    before, after, switch = out.stdout.split()[-3:]
    assert (after, switch) == ('127.0.0.1', '0')


@pytest.mark.slow  # long for the default run (about 6 s or more)
def test_init_local_listens_on_loopback_only():
    """A local instance from ray_env.init_local (Ray Tune imported first, as sweeps/run.py does):
    every listening TCP socket of the driver and of every process it started (GCS, raylet,
    dashboard agent, runtime-env agent, metrics exporters, Ray workers) is on 127.0.0.1.
    Without loopback_env (`python tests/ray_cluster.py local '{"loopback": false}'`) the same
    listing shows GCS/raylet/workers on `::`, the agents on 0.0.0.0 and the host's address."""
    tmp = tempfile.mkdtemp(prefix='rl', dir='/tmp')  # short: Ray's socket paths
    try:
        spec = json.dumps(dict(temp_dir=os.path.join(tmp, 'r'), loopback=True))
        out = subprocess.run([sys.executable, os.path.join(HERE, 'ray_cluster.py'), 'local', spec],
                             env=_clean_env(tmp), capture_output=True, text=True, timeout=180,
                             cwd=tmp)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith('ADASWEEP-LOCAL ')]
        assert out.returncode == 0 and lines, out.stdout[-3000:] + out.stderr[-3000:]
        got = json.loads(lines[0].split(' ', 1)[1])
        assert got['node_ip'] == got['task_ip'] == '127.0.0.1'
        names = {s['name'] for s in got['sockets']}
        assert {'gcs_server', 'raylet', 'ray::DashboardAgent', 'ray::RuntimeEnvAgent'} <= names
        assert beyond_loopback(got['sockets']) == [], got['sockets']
        assert os.listdir(os.path.join(tmp, 'home')) == []  # the token came from our file
    finally:
        subprocess.run(['rm', '-rf', tmp])


# -- slow: the multi-node cluster --------------------------------------------------------------
@pytest.fixture(scope='module')
def cluster():
    with RayCluster(num_workers=2, worker_cpus=2, worker_gpus=1, head_cpus=0) as c:
        yield c
    left = {n.name: n.pids() for n in c.nodes}
    assert not any(left.values()), f'processes left after stop: {left}'


def _driver(cluster, code, token=True, timeout=180, stdin=None):
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          env=cluster.env(token=token), capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, input=stdin)


def _payload(out, tag='RESULT '):
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith(tag)]
    assert out.returncode == 0 and lines, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(lines[-1][len(tag):])


@pytest.mark.slow
def test_cluster_listens_on_loopback_only(cluster):
    """All ports of all nodes (GCS, dashboard, Ray Client, agents, metrics, raylets, object
    managers) and of the actors' worker processes and the driver are on 127.0.0.1."""
    code = '''
        import json, sys, ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Pin
        from sweeps import ray_env
        ray_env.connect(%r, log_to_driver=False)

        @ray.remote(num_cpus=1)
        class Probe:
            def pid(self):
                import os
                return os.getpid()

        probes = [Probe.options(scheduling_strategy=Pin(n, soft=False)).remote() for n in %r]
        print('READY ' + json.dumps(ray.get([p.pid.remote() for p in probes])), flush=True)
        sys.stdin.read()          # hold the actors until the test has looked
    ''' % (cluster.address, cluster.worker_node_ids)
    proc = subprocess.Popen([sys.executable, '-c', textwrap.dedent(code)],
                            env=cluster.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        line = proc.stdout.readline()
        assert line.startswith('READY '), line + proc.stderr.read()[-3000:]
        actor_pids = json.loads(line.split(' ', 1)[1])
        sockets = cluster.listening()
        driver = listening([proc.pid])
        pids = {s['pid'] for s in sockets}
        assert set(actor_pids) <= pids          # the actors' processes were looked at
        for node in cluster.nodes:
            assert node.raylet().pid in pids, node.name
        assert driver, 'the driver listens on its core-worker port'
        assert {s['port'] for s in sockets} >= {cluster.gcs_port, cluster.dashboard_port}
        assert beyond_loopback(sockets + driver) == [], sockets + driver
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


@pytest.mark.slow
def test_driver_sees_two_gpu_workers_and_packs_half_gpus(cluster):
    """A driver with the token sees the head (no GPU, no CPU) and two workers with GPU 1.0;
    two tasks with num_gpus=0.5 run at the same time on one worker (a barrier both must
    reach), sharing its GPU 0."""
    code = '''
        import json, time, ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Pin
        from sweeps import ray_env
        ray_env.connect(%r, log_to_driver=False)
        nodes = [n for n in ray.nodes() if n['Alive']]

        @ray.remote(num_cpus=0)
        class Barrier:
            def __init__(self):
                self.n = 0
            def arrive(self):
                self.n += 1
            def count(self):
                return self.n

        @ray.remote(num_gpus=0.5, num_cpus=1)
        def half(barrier):
            barrier.arrive.remote()
            deadline = time.time() + 60
            while ray.get(barrier.count.remote()) < 2 and time.time() < deadline:
                time.sleep(0.05)
            ctx = ray.get_runtime_context()
            return dict(node=ctx.get_node_id(), gpus=ray.get_gpu_ids(),
                        met=ray.get(barrier.count.remote()) >= 2)

        barrier = Barrier.remote()
        pin = Pin(%r, soft=False)
        runs = ray.get([half.options(scheduling_strategy=pin).remote(barrier) for _ in range(2)],
                       timeout=120)
        print('RESULT ' + json.dumps(dict(
            nodes=[dict(id=n['NodeID'], res=n['Resources']) for n in nodes], runs=runs,
            total=ray.cluster_resources())))
    ''' % (cluster.address, cluster.worker_node_ids[0])
    got = _payload(_driver(cluster, code))
    by_id = {n['id']: n['res'] for n in got['nodes']}
    assert set(by_id) == {n.node_id for n in cluster.nodes}
    for node_id in cluster.worker_node_ids:
        assert by_id[node_id]['GPU'] == 1.0 and by_id[node_id]['CPU'] == 2.0
    head = by_id[cluster.head.node_id]
    assert 'GPU' not in head and 'CPU' not in head
    assert got['total']['GPU'] == 2.0
    assert [r['met'] for r in got['runs']] == [True, True]          # ran at the same time
    assert {r['node'] for r in got['runs']} == {cluster.worker_node_ids[0]}
    assert [r['gpus'] for r in got['runs']] == [[0], [0]]           # one GPU, shared


JOB = ['python', '-c', 'import ray; ray.init(); print("JOB-RESOURCES", ray.cluster_resources())']


def _submit(cluster, env):
    """`ray job submit --address http://127.0.0.1:PORT -- python -c ...` (the `python` of the
    job is this venv's: cluster.env puts it first on PATH, and the head node has that PATH)."""
    return subprocess.run([RAY_BIN, 'job', 'submit', '--address', cluster.dashboard_url, '--']
                          + JOB, env=env, capture_output=True, text=True, timeout=300,
                          cwd=cluster.root)


@pytest.mark.slow
def test_job_submit_is_refused_without_the_token(cluster):
    out = _submit(cluster, cluster.env(token=False))
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert 'Unauthorized: Missing authentication token' in text, text[-3000:]
    out = _submit(cluster, cluster.env(token=False, RAY_AUTH_MODE='token', RAY_AUTH_TOKEN='0' * 64))
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert 'Forbidden: Invalid authentication token' in text, text[-3000:]


@pytest.mark.slow
def test_job_submit_with_the_token_succeeds(cluster):
    out = _submit(cluster, cluster.env())
    text = out.stdout + out.stderr
    why = f'{text[-4000:]}\n{cluster.log_tail()}\n{cluster.log_tail("dashboard*.log", 2000)}'
    assert out.returncode == 0, why
    assert 'succeeded' in text and 'JOB-RESOURCES' in text, why
    line = next(ln for ln in text.splitlines() if ln.startswith('JOB-RESOURCES'))
    assert "'GPU': 2.0" in line


@pytest.mark.slow
def test_kill_node_sigkills_every_process_of_one_worker(cluster):
    """Last in this module: it takes worker 1 away. Every process of it dies at once, the GCS
    marks it dead, the other worker and the head stay."""
    victim, other = cluster.workers[1], cluster.workers[0]
    raylet = victim.raylet().pid
    assert len(victim.pids()) >= 3
    killed = cluster.kill_node(1, wait_dead=True, timeout=120)
    assert {raylet, victim.proc.pid} <= killed and not victim.pids()
    nodes = {n['NodeID']: n['Alive'] for n in cluster.nodes_info()}
    assert nodes == {cluster.head.node_id: True, other.node_id: True, victim.node_id: False}
    assert other.pids() and cluster.head.pids()
