"""Ray for a sweep: connect (a cluster, or a local instance on 127.0.0.1, sweeps/ray_env.py) and
check that every node that can run a trial holds the data and can write the storage."""
import os
import os.path as osp
import socket

from .common import REPO, SweepError
from .paths import data_roots


def connect_ray(plan):
    import ray

    from . import ray_env
    if plan.args.address:
        ray_env.connect(plan.args.address, log_to_driver=False)
    else:
        # the trials import what the driver can: the project, then the driver's PYTHONPATH
        # (a space's own strategies, `Space.imports`)
        path = os.pathsep.join(p for p in (REPO, os.environ.get('PYTHONPATH')) if p)
        ray_env.init_local(log_to_driver=False, runtime_env={'env_vars': {'PYTHONPATH': path}})
    return ray


def check_nodes(plan):
    """Every alive node that can run a trial holds the data roots the trials read, and can
    write the storage folder; one line naming the node and the path otherwise."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    need = set()
    for cfg in plan.configs.values():
        need.update(data_roots(cfg))
    cpus, gpus = plan.args.cpus_per_trial, plan.args.gpus_per_trial
    nodes = [n for n in ray.nodes() if n.get('Alive') and
             n['Resources'].get('CPU', 0) >= cpus and n['Resources'].get('GPU', 0) >= gpus]
    if not nodes:
        raise SweepError(f'no node of the cluster has {cpus:g} CPU and {gpus:g} GPU for a trial')
    probe = ray.remote(num_cpus=0)(_missing_paths)
    refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        n['NodeID'], soft=False)).remote(sorted(need), plan.storage, not plan.store.local,
                                         plan.local_dir) for n in nodes]
    for node, (host, missing) in zip(nodes, ray.get(refs)):
        if missing:
            raise SweepError(f'node {node["NodeID"][:12]} ({host}, {node["NodeManagerAddress"]}) '
                             f'lacks {missing[0]}' + (f' and {len(missing) - 1} more path(s)'
                                                      if len(missing) > 1 else ''))
    return len(nodes)


def _missing_paths(paths, storage, object_store=False, local_dir=None):
    """What a node lacks: data roots, a writable storage folder; with an object store, a
    storage it can reach and a writable node-local root (`local_dir`, else the node's own)."""
    missing = [p for p in paths if not osp.isdir(p) or not os.listdir(p)]
    if not object_store:
        if not (osp.isdir(storage) and os.access(storage, os.W_OK)):
            missing.append(f'{storage} (writable --storage)')
        return socket.gethostname(), missing
    from .storage import Storage, node_local_root
    local_root = node_local_root(local_dir)
    try:
        Storage(storage).check()
    except SweepError as err:
        missing.append(f'the object store ({err})')
    try:
        os.makedirs(local_root, exist_ok=True)
        if not os.access(local_root, os.W_OK):
            raise OSError('not writable')
    except OSError as err:
        missing.append(f'{local_root} (writable --local-dir: {err})')
    return socket.gethostname(), missing
