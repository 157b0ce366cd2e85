"""Test-only fault injection: `ADASWEEP_TEST_KILL_AT=<point>:<n>` makes the n-th pass of this
process through `kill_point(<point>)` SIGKILL its process group (or the group
`ADASWEEP_TEST_KILL_PGID` names: the sweep driver's, so that Ray and every worker die with it)
and itself, as a power cut would. Used by the kill-anywhere sweep test (tests/test_resume_exact.py);
never set it otherwise.

Points: `selection` (a selection round, after scoring, before the store commits), `commit` (the
active-label store, between the round's delta file and its label files), `parquet` (a trial's
result file, before the rename), `compact` (the compaction of results.parquet, before the
rename), `warmup` (the warm-up, after its n-th training iteration).
"""
import os
import signal

ENV = 'ADASWEEP_TEST_KILL_AT'
_passes = {}


def kill_point(name):
    spec = os.environ.get(ENV)
    if not spec:
        return
    point, _, count = spec.partition(':')
    if point != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] >= int(count or 1):
        try:
            os.killpg(int(os.environ.get('ADASWEEP_TEST_KILL_PGID') or os.getpgid(0)),
                      signal.SIGKILL)
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
