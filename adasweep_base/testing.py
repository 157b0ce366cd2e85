"""Test-only fault injection: `ADASWEEP_TEST_KILL_AT=<point>:<n>` makes the n-th pass of this
process through `kill_point(<point>)` SIGKILL every process of its session (the sweep driver's:
Ray's daemons and workers stay in the session of the process that started them) and itself, as
a power cut would. Used by the kill-anywhere sweep test (tests/test_kill_anywhere.py); never
set it otherwise.

Points: `selection` (a selection round, after scoring, before the store commits), `commit` (the
active-label store, between a round's delta file and its label files), `parquet` (a trial's
result file, before the rename), `compact` (results.parquet, before the rename), `checkpoint`
(AtomicCheckpointHook: a warm-up's or trial's checkpoint written, `last_checkpoint` not yet
updated, the older checkpoint not yet removed), `report` (a trial's Tune checkpoint written to its
temporary folder, not yet reported), `checkpoint_upload` (a Tune checkpoint's n-th file opened
for writing on an object store: sweeps/killable_fs.py).
"""
import os
import signal

ENV = 'ADASWEEP_TEST_KILL_AT'
_passes = {}


def _session_pids(sid):
    pids = []
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                if os.getsid(int(name)) == sid:
                    pids.append(int(name))
            except OSError:
                pass
    return pids


def kill_point(name):
    spec = os.environ.get(ENV)
    if not spec:
        return
    point, _, count = spec.partition(':')
    if point != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] < int(count or 1):
        return
    me = os.getpid()
    for pid in _session_pids(os.getsid(0)):
        if pid != me:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    os.kill(me, signal.SIGKILL)

