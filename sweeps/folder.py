"""The sweep folder: one driver at a time (its lock), one plan (plan.json, fingerprinted on the
first run; history.jsonl says what ran when), and the records the tables and the report read
(sweep.json, configs.json, space.json)."""
import fcntl
import json
import os
import os.path as osp
import socket
import sys
import time

from .common import SweepError, git_rev, mask_secrets
from .space import SPACE_RECORD
from .storage import as_storage


PLAN_FILE = 'plan.json'
HISTORY_FILE = 'history.jsonl'
LOCK_FILE = '.driver.lock'


# what --resume-anyway can change in a resumed sweep: the config of the trials that have not
# finished (the trainable builds it from this driver's plan); `variants` only in their configs
# and knobs, not in which variants there are. Anything else (trials, search, scheduler,
# resources, metric) is kept by Tuner.restore, so a change to it is refused (never recorded).
RESUMABLE_CHANGES = ('configs', 'sets', 'data', 'variants')


class SweepFolder:
    """The sweep folder's ownership: one driver at a time (a lock held while it runs) and one
    plan (plan.json, fingerprinted on the first run; history.jsonl says what ran when)."""

    def __init__(self, plan):
        self.plan, self.dir = plan, plan.sweep_dir
        self.store = plan.sweep  # sweeps/storage.py: the folder, or the object-store prefix
        self.lock = None
        self.created = False  # this driver made the folder (see abandon)

    def acquire(self):
        """The lock first, then everything else: the folder is made (or found) and locked here,
        and `created` says whether this driver made it. On an object store the lock is a lease
        object (sweeps/lease.py)."""
        if not self.store.local:
            from .lease import Lease
            self.lock = Lease(self.store).acquire()
            self.created = self.store.list() == ['.driver.lease']
            return
        os.makedirs(osp.dirname(self.dir), exist_ok=True)
        for _ in range(3):  # the folder may vanish in between: a refused driver that made it
            try:
                os.mkdir(self.dir)
                self.created = True
            except FileExistsError:
                self.created = False
            try:
                lock = open(osp.join(self.dir, LOCK_FILE), 'a+')
                break
            except FileNotFoundError:
                continue
        else:
            raise SweepError(f'sweep folder {self.dir} keeps vanishing (another driver removes '
                             'it); use another --name')
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            holder = lock.read().strip() or 'another process'
            lock.close()
            raise SweepError(f'sweep folder {self.dir} is in use by another driver ({holder}); '
                             'wait for it to finish or use another --name') from None
        self.lock = lock
        self.lock.seek(0)
        self.lock.truncate()
        self.lock.write(f'pid {os.getpid()} on {socket.gethostname()} since '
                        f'{time.strftime("%Y-%m-%d %H:%M:%S")}\n')
        self.lock.flush()

    def abandon(self):
        """What a refused new sweep leaves: nothing. Its folder is removed only if this driver
        made it, holds its lock and recorded no plan in it; never a folder another driver made
        or holds."""
        if self.created and self.lock is not None and not self.store.is_file(PLAN_FILE):
            if not self.store.local:
                self.store.remove_tree()  # the lease with it: released below, nothing left
                return
            import shutil
            shutil.rmtree(self.dir, ignore_errors=True)

    def release(self):
        """Give the lock up (a folder's lock also goes with this process)."""
        if self.lock is not None and not self.store.local:
            self.lock.release()

    def check_plan(self, resuming):
        """Compare with the first run's plan; returns the differences accepted with
        --resume-anyway (empty when the plans match or this is the first run)."""
        current = self.plan.fingerprint()
        has_results = any(n.endswith('.parquet') for n in self.store.list('trials'))
        if not self.store.is_file(PLAN_FILE):
            if not (has_results or resuming):
                return {}
            if not self.plan.args.resume_anyway:
                raise SweepError(f'sweep folder {self.dir} has results but no {PLAN_FILE} (an '
                                 'older adasweep made it): --resume-anyway adopts it with this '
                                 'plan, or use another --name')
            return {'plan': (None, 'adopted')}
        if has_results and not resuming:
            raise SweepError(f'sweep folder {self.dir} has results but its Tune state '
                             f'({self.store.shown("tune")}) is missing or unreadable, so a '
                             'rerun would start its trials again beside them; use another '
                             '--name')
        first = json.loads(self.store.read_text(PLAN_FILE))['fingerprint']
        # a key the first run did not record (an older adasweep) is not compared
        diff = {k: (first[k], current.get(k)) for k in sorted(first) if first[k] != current.get(k)}

        def what(keys):
            def short(value):
                text = json.dumps(value, default=str, ensure_ascii=False)
                return text if len(text) <= 60 else text[:57] + '...'
            return '; '.join(f'{k}: {short(diff[k][0])} -> {short(diff[k][1])}' for k in keys)
        fixed = [k for k in diff if k not in RESUMABLE_CHANGES or (
            k == 'variants' and sorted(diff[k][0] or ()) != sorted(diff[k][1] or ()))]
        if diff and not self.plan.args.resume_anyway:
            raise SweepError(f'sweep {self.plan.name} was started with another plan '
                             f'({what(diff)}); use another --name for a new sweep' +
                             ('' if fixed and resuming else
                              ', or --resume-anyway to go on with this plan'))
        if fixed and resuming:
            raise SweepError(f'--resume-anyway cannot change what sweep {self.plan.name} runs '
                             f'({what(fixed)}): a resumed sweep runs the trials, search, '
                             'scheduler and resources of its first plan (Tune restores them); '
                             'use another --name for this plan')
        return diff

    def record(self, event, **info):
        """plan.json (the current plan) and one line of history.jsonl."""
        plan = self.plan
        tune_settings = dict(max_failures=plan.args.max_failures,
                             max_concurrent=plan.args.max_concurrent)
        _write_json(self.store, PLAN_FILE, dict(
            fingerprint=plan.fingerprint(), tune=tune_settings, git_rev=git_rev()))
        line = dict(event=event, time=time.strftime('%Y-%m-%dT%H:%M:%S%z'), git_rev=git_rev(),
                    host=socket.gethostname(), argv=mask_secrets(sys.argv[1:]), **info)
        self.store.append_line(HISTORY_FILE, json.dumps(line, default=str))

    def tune_settings(self):
        if not self.store.is_file(PLAN_FILE):
            return None
        return json.loads(self.store.read_text(PLAN_FILE)).get('tune')


def record_run(plan, folder, resuming, diff):
    """sweep.json, configs.json and plan.json of the plan that runs, and its history line."""
    if not resuming or diff or not plan.sweep.is_file(SPACE_RECORD):
        write_space_record(plan.sweep, plan.space)  # what the report reads of the space
    if not resuming or diff:
        write_sweep_snapshot(plan.sweep, dict(
            name=plan.name, space=plan.space.name, benchmark=plan.benchmark, search=plan.search,
            scheduler=plan.scheduler, variants=list(plan.space.variants), sets=plan.sets,
            git_rev=git_rev()), plan.configs)
    if not resuming:
        folder.record('start')
    elif diff:
        folder.record('resume-anyway', changed={k: dict(was=a, now=b) for k, (a, b) in
                                                diff.items()})
    else:
        settings = folder.tune_settings() or {}
        for key in ('max_failures', 'max_concurrent'):
            if key in settings and settings[key] != getattr(plan.args, key):
                print(f'note: --{key.replace("_", "-")} {getattr(plan.args, key)} differs from '
                      f'the first run\'s {settings[key]}; a resumed sweep keeps the first run\'s',
                      flush=True)
        folder.record('resume')


def _write_json(store, rel, obj, **kw):
    """`obj` as JSON at `rel` of `store`, atomically (and durably in a folder)."""
    store.write_text(rel, json.dumps(obj, indent=1, default=str, **kw))


def write_sweep_snapshot(sweep, info, configs):
    """`sweep.json` (space, benchmark, variants in table order, ...) and `configs.json` (the full
    config of every variant), for tables.py and humans; credentials in URIs masked. `sweep`:
    the sweep folder, its URI or its sweeps.storage.Storage."""
    store = as_storage(sweep)
    _write_json(store, 'sweep.json', mask_secrets(info))
    _write_json(store, 'configs.json', mask_secrets(configs), sort_keys=True)


def write_space_record(sweep, space):
    """`space.json`: what the report needs of the space (sweeps.space.Space.record), kept as
    data so that rendering a report never runs the space file."""
    _write_json(as_storage(sweep), SPACE_RECORD, mask_secrets(space.record()))
