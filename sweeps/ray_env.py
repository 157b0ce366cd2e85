"""How adasweep starts or joins Ray (2.60) without opening ports beyond loopback.

Local instance on loopback
--------------------------
Every Ray server (GCS, raylet and object manager, core workers, dashboard and its
agent, runtime-env agent, the autoscaler/dashboard metrics exporters, the Ray
Client server) binds the *node IP address* and falls back to *all* interfaces
(``::`` / ``0.0.0.0``) when that address is not a loopback one. Measured on a
host with ``eth0 = 192.0.2.2`` after a plain ``ray.init()``: GCS, raylet and
workers listen on ``::``, the dashboard agent on ``0.0.0.0`` and
``192.0.2.2``, the runtime-env agent on ``192.0.2.2``, the metrics exporters
on ``0.0.0.0``. Only when the node IP *is* ``127.0.0.1`` does every component
bind ``127.0.0.1`` (``is_localhost(node_ip)`` checks in ``dashboard/agent.py``,
``dashboard/head.py``, ``autoscaler/_private/monitor.py``, the C++ gRPC
servers), so the job is to make Ray pick 127.0.0.1 as the node IP.

What does *not* do that in 2.60:

* ``ray.init(_node_ip_address="127.0.0.1")`` and ``ray start
  --node-ip-address=127.0.0.1``: both go through
  ``services.resolve_ip_for_localhost`` (``worker.py``, ``scripts.py``), which
  deliberately rewrites a loopback address into the outward one
  (``node_ip_address_from_perspective`` = a UDP route lookup towards
  8.8.8.8). The node still comes up on 192.0.2.2.
* ``--dashboard-host`` / ``dashboard_host``: already ``127.0.0.1`` by default
  and only concerns the dashboard's HTTP port.
* There is no environment variable for the node IP.

What does: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (``ray_constants.
ENABLE_RAY_CLUSTER``). It is the switch behind Ray's own macOS/Windows
default; with it ``services.get_node_ip_address()`` returns ``127.0.0.1``
(``get_localhost_ip()``) instead of probing the route, and every Ray process
started with that environment (driver, ``ray start --head``, nodes of
``ray.cluster_utils.Cluster``, everything they spawn) uses 127.0.0.1. It is
the only lever Ray reads for this; it is what :func:`loopback_env` sets, plus
``RAY_USAGE_STATS_ENABLED=0`` so that no Ray process tries to reach Ray's usage
server (``ray start`` enables usage stats by default; ``ray.init`` already
disables them on release wheels).

Two consequences of the switch, both by Ray's design: ``ray start
--address=...`` (joining a *worker* node) is refused ("Multi-node Ray clusters
are not supported on Windows and OSX"), and a loopback instance is, by
definition, unreachable from other machines. A real multi-machine cluster runs
with the default (node IP = the private interface) and relies on token
authentication plus the network's firewall; ``tests/ray_cluster.py`` shows how
extra *local* nodes join a loopback head (as ``ray.cluster_utils.Cluster``
does).

Ray reads the variable once, when ``ray._private.ray_constants`` is first
imported. :func:`init_local` and :func:`connect` therefore also update that
cached constant when ``ray`` was imported before them (``sweeps/run.py``
imports Ray Tune first), and then check that the node really came up on
127.0.0.1 (a :class:`RuntimeError` otherwise, after ``ray.shutdown()``).

Token authentication (2.60)
---------------------------
``ray.init()`` without an address turns it on unless ``RAY_AUTH_MODE`` says
otherwise and reads the token from ``RAY_AUTH_TOKEN``, else the file named by
``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token`` (generated there when none
exists). ``ray start --head`` enables it when ``RAY_AUTH_MODE=token`` (a token
must then exist: it never generates one) or, with ``RAY_AUTH_MODE`` unset,
when a token is found. Clients (drivers given an explicit address, nodes,
``ray job submit``) send the token only with ``RAY_AUTH_MODE=token`` in their
environment; :func:`token_env` builds those variables.
"""
from __future__ import annotations

import ipaddress
import os
import sys
from typing import Dict, Optional

LOOPBACK_IP = '127.0.0.1'
CLUSTER_SWITCH = 'RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER'


def loopback_env() -> Dict[str, str]:
    """The environment under which a local Ray instance (``ray.init()`` without an
    address, nodes of ``ray.cluster_utils.Cluster``, ``ray start --head``) binds every
    port to 127.0.0.1 only. Give it to a process before it imports Ray."""
    return {CLUSTER_SWITCH: '0', 'RAY_USAGE_STATS_ENABLED': '0'}


def token_env(token_path: Optional[str] = None, token: Optional[str] = None) -> Dict[str, str]:
    """The variables a Ray process needs to use token authentication: ``RAY_AUTH_MODE=token``
    and the token itself (``RAY_AUTH_TOKEN``) or the file holding it (``RAY_AUTH_TOKEN_PATH``).
    With neither, Ray falls back to ``~/.ray/auth_token``."""
    env = {'RAY_AUTH_MODE': 'token'}
    if token is not None:
        env['RAY_AUTH_TOKEN'] = token
    if token_path is not None:
        env['RAY_AUTH_TOKEN_PATH'] = os.path.abspath(token_path)
    return env


def is_loopback(host: str) -> bool:
    host = host.strip('[]')
    if host.lower() == 'localhost':
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(ip, 'ipv4_mapped', None)  # ::ffff:127.0.0.1 (Ray's dual-stack sockets)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def apply_loopback_env() -> None:
    """Put :func:`loopback_env` into ``os.environ`` (Ray processes started from here inherit
    it) and into Ray's cached copy of the switch, should ``ray`` already be imported."""
    env = loopback_env()
    os.environ.update(env)
    constants = sys.modules.get('ray._private.ray_constants')
    if constants is not None:
        constants.ENABLE_RAY_CLUSTER = env[CLUSTER_SWITCH] != '0'


def _node_ip() -> str:
    import ray
    return ray.util.get_node_ip_address()


def _require_loopback(what: str) -> None:
    import ray
    ip = _node_ip()
    if not is_loopback(ip):
        ray.shutdown()
        raise RuntimeError(f'{what}: Ray came up on {ip}, not on {LOOPBACK_IP}; '
                           f'start it with {CLUSTER_SWITCH}=0 in the environment')


def init_local(num_cpus: Optional[float] = None, num_gpus: Optional[float] = None, **kw):
    """Start a local Ray instance bound to 127.0.0.1 only and connect to it.

    ``kw`` goes to ``ray.init`` (``include_dashboard`` defaults to False here). Returns what
    ``ray.init`` returns. Token authentication stays Ray's default (see the module doc)."""
    import ray
    apply_loopback_env()
    kw.setdefault('include_dashboard', False)
    context = ray.init(num_cpus=num_cpus, num_gpus=num_gpus, **kw)
    _require_loopback('init_local')
    return context


def _target_host(address: Optional[str], temp_dir: Optional[str] = None) -> Optional[str]:
    """Host of the cluster ``address`` points at; for ``auto`` the one ``RAY_ADDRESS`` or the
    address file of the latest ``ray start`` names (None when unknown)."""
    if address in (None, '', 'auto'):
        try:
            from ray._private.services import get_ray_address_from_environment
            address = get_ray_address_from_environment('auto', temp_dir)
        except Exception:  # no cluster found: let ray.init raise its own error
            return None
    if not address or address.startswith('ray://'):
        return None
    from ray._common.network_utils import parse_address
    parsed = parse_address(address)
    return parsed[0] if parsed else None


def connect(address: str = 'auto', **kw):
    """Connect this process as a driver to a running cluster: ``auto`` (``RAY_ADDRESS``, else
    the latest ``ray start`` on this machine) or ``host:port`` of its GCS.

    A cluster on loopback (host 127.0.0.1 / localhost / ::1) can only be joined with
    :func:`loopback_env` in effect (Ray would otherwise rewrite 127.0.0.1 into the outward
    address), so it is applied then; other addresses are left to Ray as they are. The token
    comes from the environment (:func:`token_env`). ``kw`` goes to ``ray.init``."""
    import ray
    host = _target_host(address, kw.get('_temp_dir'))
    loopback = host is not None and is_loopback(host)
    if loopback:
        apply_loopback_env()
    context = ray.init(address=address, **kw)
    if loopback:
        _require_loopback(f'connect({address!r})')
    return context
