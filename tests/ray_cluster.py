"""A real multi-node Ray 2.60 cluster on this machine, on loopback, with token authentication.

    with RayCluster(num_workers=2) as cluster:      # or the ``ray_cluster`` fixture below
        subprocess.run([sys.executable, 'driver.py'], env=cluster.env())
        cluster.kill_node(0)                        # SIGKILL every process of worker node 0

Layout (all under one short temp dir ``/tmp/rcXXXXXXXX``: Ray's unix socket paths must stay
under 107 bytes):

* ``token``: the cluster's token (``RAY_AUTH_TOKEN_PATH``); never ``~/.ray/auth_token``.
* head: ``ray start --head --block`` with its own GCS, dashboard, Ray Client, agent and metrics
  ports, ``--num-cpus`` ``head_cpus`` (0: trials never land there), temp dir ``h/``.
* worker ``i``: ``num_gpus`` fake GPUs (Ray only counts them) and ``worker_cpus`` CPUs, temp
  dir ``w<i>/``. ``ray start --address`` refuses to join a worker node while
  ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (the switch that puts a node on 127.0.0.1, see
  ``sweeps/ray_env.py``) and without it rewrites 127.0.0.1 into the outward address, so worker
  nodes are started by this file's own launcher (``python ray_cluster.py worker SPEC``), which
  does what ``ray start --address ... --block`` does (``RayParams`` + ``ray._private.node.Node``
  with ``head=False``, the same call as ``ray.cluster_utils.Cluster.add_node``) and then blocks,
  watching its processes and its parent.

Every node runs in its own session (``start_new_session``): the processes of node ``n`` are
those whose session id is the pid of its ``ray start``/launcher process (Ray's processes do not
leave it; renamed ones like ``ray::DashboardAgent`` can not be told apart by cmdline or
environ), plus the descendants of that process. ``kill_node`` SIGKILLs exactly those.
``stop`` (also on exit of the ``with`` block) SIGTERMs the nodes, then SIGKILLs what is left, by
session. ``ray stop`` is never used: it kills every Ray process of the user on the machine (it
matches process names; there is no option to scope it to a temp dir). A watchdog process, fed
through a pipe, kills the nodes' sessions if the owner of the cluster dies without ``stop``.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Set

import ray  # noqa: F401  (also puts Ray's vendored psutil on sys.path)
import psutil

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from sweeps.ray_env import is_loopback, loopback_env, token_env  # noqa: E402

RAY_BIN = os.path.join(os.path.dirname(sys.executable), 'ray')
AUTH_VARS = ('RAY_AUTH_MODE', 'RAY_AUTH_TOKEN', 'RAY_AUTH_TOKEN_PATH')
CLIENT_VARS = AUTH_VARS + ('RAY_ADDRESS', 'RAY_API_SERVER_ADDRESS', 'RAY_TMPDIR')


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the usual race applies; ports differ per call)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _free_ports(n: int) -> List[int]:
    ports: List[int] = []
    while len(ports) < n:
        p = free_port()
        if p not in ports:
            ports.append(p)
    return ports


def session_pids(sid: int) -> Set[int]:
    """Live pids whose session id is ``sid``, plus the descendants of ``sid``."""
    pids = set()
    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == sid and p.status() != psutil.STATUS_ZOMBIE:
                pids.add(p.pid)
        except (OSError, psutil.Error):
            pass
    try:
        pids.update(c.pid for c in psutil.Process(sid).children(recursive=True)
                    if c.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        pass
    return pids


def listening(pids: Iterable[int]) -> List[dict]:
    """The listening TCP sockets of ``pids``: dicts of pid, name, ip, port."""
    out = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            name = p.name()
            for c in p.net_connections(kind='inet'):
                if c.status == psutil.CONN_LISTEN:
                    out.append(dict(pid=pid, name=name, ip=c.laddr.ip, port=c.laddr.port))
        except psutil.Error:
            pass
    return out


def beyond_loopback(sockets: Iterable[dict]) -> List[dict]:
    return [s for s in sockets if not is_loopback(s['ip'])]


def kill_sessions(sids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    """Send `sig` to every process of the sessions `sids` (and their descendants)."""
    for sid in sids:
        for pid in session_pids(sid):
            try:
                os.kill(pid, sig)
            except OSError:
                pass


WATCHDOG = r'''
import os, signal, sys, time
sids = []
for line in sys.stdin:
    if line.strip() == "done":
        sys.exit(0)
    sids.append(int(line))
# EOF without "done": the owner died. Ray keeps a node's processes in its session.
def pids(sid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.getsid(int(d)) == sid:
                    out.append(int(d))
            except OSError:
                pass
    return out
for sig in (signal.SIGTERM, signal.SIGKILL):
    for sid in sids:
        for pid in pids(sid):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    time.sleep(3)
'''


@dataclass
class RayNode:
    name: str                       # 'head', 'worker0', 'worker1', ...
    proc: subprocess.Popen          # `ray start --head --block` or the worker launcher
    temp_dir: str
    log_path: str
    node_id: Optional[str] = None   # hex, from the raylet's --node_id
    killed: bool = False

    @property
    def sid(self) -> int:
        return self.proc.pid

    def pids(self) -> Set[int]:
        return session_pids(self.sid)

    def raylet(self) -> Optional[psutil.Process]:
        for pid in self.pids():
            try:
                p = psutil.Process(pid)
                if p.name() == 'raylet':
                    return p
            except psutil.Error:
                pass
        return None

    def log(self) -> str:
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''


@dataclass
class RayCluster:
    num_workers: int = 2
    worker_cpus: int = 2
    worker_gpus: int = 1
    head_cpus: int = 0
    object_store_memory: int = 80 * 2 ** 20
    start_timeout: float = 120.0
    extra_env: Dict[str, str] = field(default_factory=dict)   # e.g. RAY_health_check_* knobs
    node_env: Dict[str, Dict[str, str]] = field(default_factory=dict)  # by node name, one node's

    root: Optional[str] = None
    token: Optional[str] = None
    token_path: Optional[str] = None
    gcs_port: Optional[int] = None
    dashboard_port: Optional[int] = None
    nodes: List[RayNode] = field(default_factory=list)
    _watchdog: Optional[subprocess.Popen] = None

    # -- addresses and environments -----------------------------------------------------------
    @property
    def address(self) -> str:
        """GCS address (``ray.init(address=...)``, ``RAY_ADDRESS``)."""
        return f'127.0.0.1:{self.gcs_port}'

    @property
    def dashboard_url(self) -> str:
        """Dashboard / Jobs API (``ray job submit --address``, ``RAY_API_SERVER_ADDRESS``)."""
        return f'http://127.0.0.1:{self.dashboard_port}'

    @property
    def head(self) -> RayNode:
        return self.nodes[0]

    @property
    def workers(self) -> List[RayNode]:
        return self.nodes[1:]

    @property
    def worker_node_ids(self) -> List[str]:
        return [w.node_id for w in self.workers]

    def auth_env(self) -> Dict[str, str]:
        """What a client needs for this cluster's token: RAY_AUTH_MODE, RAY_AUTH_TOKEN_PATH."""
        return token_env(self.token_path)

    def env(self, token: bool = True, base: Optional[Dict[str, str]] = None,
            **extra) -> Dict[str, str]:
        """Environment for a process that talks to the cluster (driver, ``ray`` CLI): loopback,
        ``RAY_ADDRESS``, ``RAY_API_SERVER_ADDRESS`` and, with ``token``, the token variables.
        Without ``token`` every RAY_AUTH_* variable is removed and HOME points at an empty dir,
        so no token can come from anywhere."""
        env = {k: v for k, v in (base if base is not None else os.environ).items()
               if k not in CLIENT_VARS}
        env.update(loopback_env())
        env.update(RAY_ADDRESS=self.address, RAY_API_SERVER_ADDRESS=self.dashboard_url)
        # this venv first: `python` in a job's entrypoint, the `ray` CLI
        env['PATH'] = os.pathsep.join([os.path.dirname(sys.executable), env.get('PATH', '')])
        env['PYTHONPATH'] = os.pathsep.join([REPO] + [p for p in env.get('PYTHONPATH', '').split(
            os.pathsep) if p])
        if token:
            env.update(self.auth_env())
        else:
            home = os.path.join(self.root, 'nohome')
            os.makedirs(home, exist_ok=True)
            env['HOME'] = home
        env.update(extra)
        return env

    def _node_env(self, name: str) -> Dict[str, str]:
        env = self.env()
        env.pop('RAY_ADDRESS', None)
        env.pop('RAY_API_SERVER_ADDRESS', None)
        env.update(self.extra_env)
        env.update(self.node_env.get(name, {}))
        return env

    # -- start ---------------------------------------------------------------------------------
    def start(self) -> 'RayCluster':
        assert not self.nodes, 'already started'
        self.root = tempfile.mkdtemp(prefix='rc', dir='/tmp')
        self.token = secrets.token_hex(32)
        self.token_path = os.path.join(self.root, 'token')
        fd = os.open(self.token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(self.token)
        self._watchdog = subprocess.Popen([sys.executable, '-c', WATCHDOG], stdin=subprocess.PIPE,
                                          text=True, start_new_session=True)
        try:
            self._start_head()
            for i in range(self.num_workers):
                self._start_worker(i)
            for node in self.nodes:
                self._wait_ready(node)
            self.wait_nodes(alive=len(self.nodes), timeout=self.start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, cmd: List[str], env: Dict[str, str], temp_dir: str) -> RayNode:
        log_path = os.path.join(self.root, f'{name}.log')
        with open(log_path, 'w') as log:
            proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.root)
        node = RayNode(name, proc, temp_dir, log_path)
        self.nodes.append(node)
        self._watchdog.stdin.write(f'{proc.pid}\n')
        self._watchdog.stdin.flush()
        return node

    def _start_head(self) -> None:
        self.gcs_port, self.dashboard_port, client, agent, autoscaler_m, dashboard_m = \
            _free_ports(6)
        env = self._node_env('head')
        # fixed default ports of the metrics exporters (44217, 44227): one per cluster here
        env.update(AUTOSCALER_METRIC_PORT=str(autoscaler_m), DASHBOARD_METRIC_PORT=str(dashboard_m))
        temp_dir = os.path.join(self.root, 'h')
        cmd = [RAY_BIN, 'start', '--head', '--block', f'--port={self.gcs_port}',
               f'--dashboard-host=127.0.0.1', f'--dashboard-port={self.dashboard_port}',
               f'--ray-client-server-port={client}', f'--dashboard-agent-listen-port={agent}',
               f'--num-cpus={self.head_cpus}', '--num-gpus=0',
               f'--object-store-memory={self.object_store_memory}',
               '--min-worker-port=0', '--max-worker-port=0', f'--temp-dir={temp_dir}',
               '--disable-usage-stats']
        self._spawn('head', cmd, env, temp_dir)

    def _start_worker(self, i: int) -> None:
        name = f'worker{i}'
        temp_dir = os.path.join(self.root, f'w{i}')
        spec = dict(address=self.address, num_cpus=self.worker_cpus, num_gpus=self.worker_gpus,
                    object_store_memory=self.object_store_memory, temp_dir=temp_dir,
                    dashboard_agent_listen_port=free_port())
        cmd = [sys.executable, os.path.abspath(__file__), 'worker', json.dumps(spec)]
        self._spawn(name, cmd, self._node_env(name), temp_dir)

    def _wait_ready(self, node: RayNode) -> None:
        marker = 'Ray runtime started' if node.name == 'head' else 'ADASWEEP-NODE-READY'
        deadline = time.time() + self.start_timeout
        while True:
            if marker in node.log():
                raylet = None
                while raylet is None and time.time() < deadline:
                    raylet = node.raylet()
                    time.sleep(0.1)
                if raylet is not None:
                    for arg in raylet.cmdline():
                        if arg.startswith('--node_id='):
                            node.node_id = arg.split('=', 1)[1]
                    if node.node_id:
                        return
            if node.proc.poll() is not None:
                raise RuntimeError(f'{node.name} exited with {node.proc.returncode}:\n'
                                   f'{node.log()[-4000:]}')
            if time.time() > deadline:
                raise TimeoutError(f'{node.name} not up after {self.start_timeout:.0f} s:\n'
                                   f'{node.log()[-4000:]}')
            time.sleep(0.2)

    # -- inspect -------------------------------------------------------------------------------
    def nodes_info(self, alive: Optional[int] = None, dead: Optional[Iterable[str]] = None,
                   timeout: float = 60.0) -> List[dict]:
        """``ray.nodes()`` as a driver sees it (a short driver run with the token); with
        ``alive``/``dead``, polls until that many nodes are alive and those node ids dead."""
        spec = dict(address=self.address, alive=alive, dead=list(dead or []), timeout=timeout)
        out = subprocess.run([sys.executable, os.path.abspath(__file__), 'nodes', json.dumps(spec)],
                             env=self.env(), capture_output=True, text=True,
                             timeout=timeout + 60, cwd=self.root)
        for line in out.stdout.splitlines():
            if line.startswith('ADASWEEP-NODES '):
                return json.loads(line.split(' ', 1)[1])
        raise RuntimeError(f'nodes probe failed ({out.returncode}):\n{out.stdout[-3000:]}\n'
                           f'{out.stderr[-3000:]}')

    def wait_nodes(self, alive: int, dead: Iterable[str] = (), timeout: float = 60.0) -> List[dict]:
        nodes = self.nodes_info(alive=alive, dead=dead, timeout=timeout)
        n_alive = sum(n['Alive'] for n in nodes)
        dead_ok = all(any(n['NodeID'] == d and not n['Alive'] for n in nodes) for d in dead)
        if n_alive != alive or not dead_ok:
            raise TimeoutError(f'after {timeout:.0f} s: {n_alive} node(s) alive, want {alive}; '
                               f'dead wanted {list(dead)}: {nodes}')
        return nodes

    def log_tail(self, pattern: str = 'job-driver-*.log', chars: int = 3000) -> str:
        """The end of the nodes' Ray log files matching ``pattern`` (for failure messages)."""
        import glob
        out = []
        for node in self.nodes:
            for path in sorted(glob.glob(os.path.join(node.temp_dir, 'session_latest', 'logs',
                                                      pattern))):
                with open(path, errors='replace') as f:
                    out.append(f'--- {node.name}: {os.path.basename(path)}\n{f.read()[-chars:]}')
        return '\n'.join(out)

    def pids(self) -> Dict[str, Set[int]]:
        """Live pids of every node's processes, by node name."""
        return {n.name: n.pids() for n in self.nodes}

    def listening(self) -> List[dict]:
        """Listening TCP sockets of all the cluster's processes (dicts with node, pid, name,
        ip, port)."""
        out = []
        for node in self.nodes:
            for s in listening(node.pids()):
                out.append(dict(s, node=node.name))
        return out

    # -- faults and cleanup --------------------------------------------------------------------
    def kill_node(self, i: int, wait_dead: bool = False, timeout: float = 60.0) -> Set[int]:
        """SIGKILL every process of worker node ``i`` (its launcher, raylet, agents, Ray
        workers); with ``wait_dead``, wait until the GCS reports the node dead. Returns the
        pids killed."""
        node = self.workers[i]
        pids = node.pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        node.killed = True
        deadline = time.time() + 10
        while node.pids() and time.time() < deadline:
            kill_sessions([node.sid], signal.SIGKILL)  # anything forked meanwhile
            time.sleep(0.1)
        node.proc.wait(timeout=10)
        if wait_dead:
            self.wait_nodes(alive=sum(not n.killed for n in self.nodes), dead=[node.node_id],
                            timeout=timeout)
        return pids

    def stop(self, grace: float = 20.0) -> None:
        """Stop everything this cluster started (by session/pid): workers, then the head, then
        the watchdog; remove the temp dir."""
        for group in (self.workers, self.nodes[:1]):
            for node in group:
                if node.proc.poll() is None:
                    node.proc.send_signal(signal.SIGTERM)
            deadline = time.time() + grace
            for node in group:
                try:
                    node.proc.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    pass
            deadline = time.time() + 5
            while any(n.pids() for n in group) and time.time() < deadline:
                time.sleep(0.2)
            kill_sessions([n.sid for n in group], signal.SIGKILL)
            for node in group:
                try:
                    node.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        deadline = time.time() + 10
        while any(n.pids() for n in self.nodes) and time.time() < deadline:
            kill_sessions([n.sid for n in self.nodes], signal.SIGKILL)
            time.sleep(0.2)
        if self._watchdog is not None:
            try:
                self._watchdog.stdin.write('done\n')
                self._watchdog.stdin.close()
            except (OSError, ValueError):
                pass
            try:
                self._watchdog.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
                self._watchdog.wait()
            self._watchdog = None
        if self.root and os.environ.get('ADASWEEP_KEEP_RAY_CLUSTER') != '1':
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> 'RayCluster':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def ray_cluster_fixture(**kw):
    """A pytest fixture factory: ``ray_cluster = ray_cluster_fixture(num_workers=2)`` in a test
    module gives a module-scoped started :class:`RayCluster`."""
    import pytest

    @pytest.fixture(scope='module')
    def _fixture():
        with RayCluster(**kw) as cluster:
            yield cluster
    return _fixture


# -- processes started by RayCluster ----------------------------------------------------------
def _worker_main(spec: dict) -> None:
    """A worker node, as ``ray start --address=... --block`` would start it, on loopback."""
    import ray._private.node
    import ray._private.parameter
    from ray._private.authentication.authentication_token_setup import \
        ensure_token_if_auth_enabled

    from sweeps.ray_env import apply_loopback_env
    apply_loopback_env()
    ensure_token_if_auth_enabled(None, create_token_if_missing=False)  # as `ray start` does
    params = ray._private.parameter.RayParams(
        gcs_address=spec['address'], num_cpus=spec['num_cpus'], num_gpus=spec['num_gpus'],
        object_store_memory=spec['object_store_memory'], temp_dir=spec['temp_dir'],
        min_worker_port=0, max_worker_port=0, node_manager_port=0, object_manager_port=0,
        dashboard_agent_listen_port=spec['dashboard_agent_listen_port'],
        include_log_monitor=True)
    parent = os.getppid()
    node = ray._private.node.Node(params, head=False, shutdown_at_exit=True, spawn_reaper=True)
    assert node.node_ip_address == '127.0.0.1', node.node_ip_address
    print(f'ADASWEEP-NODE-READY {node.node_id} {node.node_ip_address}', flush=True)
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:      # the owner is gone: the atexit hook stops the node
            sys.exit(0)
        dead = node.dead_processes()
        if dead:
            print(f'ray processes died: {[t for t, _ in dead]}', flush=True)
            node.kill_all_processes(check_alive=False, allow_graceful=False)
            os._exit(1)


def _nodes_main(spec: dict) -> None:
    import ray

    from sweeps import ray_env
    ray_env.connect(spec['address'], log_to_driver=False)
    deadline = time.time() + spec['timeout']
    while True:
        nodes = ray.nodes()
        alive_ok = spec['alive'] is None or sum(n['Alive'] for n in nodes) == spec['alive']
        dead_ok = all(any(n['NodeID'] == d and not n['Alive'] for n in nodes)
                      for d in spec['dead'])
        if (alive_ok and dead_ok) or time.time() > deadline:
            break
        time.sleep(0.5)
    keep = ('NodeID', 'Alive', 'NodeManagerAddress', 'NodeManagerPort', 'ObjectManagerPort',
            'Resources')
    print('ADASWEEP-NODES ' + json.dumps([{k: n.get(k) for k in keep} for n in nodes]),
          flush=True)
    ray.shutdown()


def _local_main(spec: dict) -> None:
    """Start a local instance as ``sweeps/run.py`` does (Ray Tune imported first, then
    ``ray_env.init_local``; with ``loopback`` false a plain ``ray.init``), run a task, and print
    the listening sockets of this driver and every process it spawned."""
    import ray
    import ray.tune  # noqa: F401  (run.py imports Tune before ray_env)

    from sweeps import ray_env
    temp_dir = spec.get('temp_dir') or tempfile.mkdtemp(prefix='rl', dir='/tmp')
    kw = dict(num_cpus=1, _temp_dir=temp_dir, log_to_driver=False)
    if spec.get('loopback', True):
        ray_env.init_local(**kw)
    else:
        ray.init(include_dashboard=False, **kw)

    @ray.remote
    def where():
        return ray.util.get_node_ip_address()

    task_ip = ray.get(where.remote())
    me = psutil.Process()

    def sockets():
        return listening([me.pid] + [c.pid for c in me.children(recursive=True)])

    # the agents bind their ports a moment after the raylet: wait until each kind listens
    want = {'gcs_server', 'raylet', 'ray::DashboardAgent', 'ray::RuntimeEnvAgent'}
    deadline = time.time() + 60
    while not want <= {s['name'] for s in sockets()} and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(1)
    print('ADASWEEP-LOCAL ' + json.dumps(dict(node_ip=ray.util.get_node_ip_address(),
                                              task_ip=task_ip, sockets=sockets())), flush=True)
    ray.shutdown()


if __name__ == '__main__':
    mode = sys.argv[1]
    arg = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    {'worker': _worker_main, 'nodes': _nodes_main, 'local': _local_main}[mode](arg)
