"""One driver per sweep on an object store: a lease object (`<sweep>/.driver.lease`) with its
owner and expiry, taken with a conditional create (S3 PutObject `If-None-Match: *`: of two
drivers racing, exactly one PUT succeeds; the other gets 412 Precondition Failed).

- The holder renews it (a conditional overwrite, `If-Match` its own ETag) every TTL/3 from a
  daemon thread, and deletes it when the sweep ends.
- A driver that dies holding it (SIGKILL, a lost machine) leaves it behind. Another driver takes
  it over only when it is stale: its expiry is past (at most TTL seconds after the last renewal,
  `ADASWEEP_LEASE_SECONDS`, default 60), or its owner is a process of this very host that no
  longer runs (a rerun on the same machine goes on at once). The takeover is itself conditional
  (`If-Match` the stale lease's ETag), so of two drivers taking over, one wins.
- A holder whose renewal fails because another driver took the lease (it was stopped longer than
  the TTL: suspended, a network partition) prints a warning; its later writes may race with the
  new holder, as with any lease. Keep the TTL well above such pauses.

S3 (and S3-compatible stores with conditional writes: MinIO, moto, Ceph RGW recent) only: other
URI schemes have no conditional create in pyarrow.fs, so they are refused as a sweep's storage.
"""
import json
import os
import socket
import sys
import threading
import time

from adasweep_base.process import pid_alive

from .common import SweepError

LEASE_FILE = '.driver.lease'


def lease_seconds():
    return float(os.environ.get('ADASWEEP_LEASE_SECONDS', 60))


class Lease:
    """The driver lease of the sweep at `store` (a sweeps.storage.Storage on S3)."""

    def __init__(self, store):
        from .storage import s3_client
        if store.scheme not in ('s3', 's3a'):
            raise SweepError(f'--storage {store}: a sweep on {store.scheme}:// cannot be locked '
                             '(no conditional create); use s3:// or a folder')
        self.store, self.client = store, s3_client(store)
        self.bucket, _, prefix = store.path(LEASE_FILE).partition('/')
        self.key = prefix
        self.etag, self.ttl = None, lease_seconds()
        self._stop = threading.Event()
        self._thread = None

    def _body(self):
        now = time.time()
        return json.dumps(dict(
            owner=f'pid {os.getpid()} on {socket.gethostname()} since '
                  f'{time.strftime("%Y-%m-%d %H:%M:%S")}',
            host=socket.gethostname(), pid=os.getpid(), renewed=now,
            expires=now + self.ttl)).encode()

    def _put(self, **cond):
        import botocore.exceptions
        try:
            self.etag = self.client.put_object(Bucket=self.bucket, Key=self.key,
                                               Body=self._body(), **cond)['ETag']
            return True
        except botocore.exceptions.ClientError as err:
            if err.response.get('Error', {}).get('Code') in ('PreconditionFailed', '412',
                                                             'ConditionalRequestConflict'):
                return False
            raise

    def _holder(self):
        """(the current lease's record, its ETag), or (None, None) when there is none."""
        import botocore.exceptions
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except botocore.exceptions.ClientError as err:
            if err.response.get('Error', {}).get('Code') in ('NoSuchKey', '404'):
                return None, None
            raise
        try:
            record = json.loads(got['Body'].read())
        except ValueError:
            record = {}
        return record, got['ETag']

    def acquire(self):
        """Take the lease or raise SweepError naming its holder."""
        for _ in range(3):
            if self._put(IfNoneMatch='*'):
                break
            record, etag = self._holder()
            if record is None:
                continue  # released in between: try again
            stale = float(record.get('expires', 0)) < time.time() or (
                record.get('host') == socket.gethostname() and
                isinstance(record.get('pid'), int) and not pid_alive(record['pid']))
            if stale and self._put(IfMatch=etag):
                break
            if not stale:
                left = float(record.get('expires', 0)) - time.time()
                raise SweepError(
                    f'sweep {self.store} is in use by another driver '
                    f'({record.get("owner", "unknown")}; its lease expires in {left:.0f} s '
                    'unless renewed); wait for it to finish or use another --name')
        else:
            raise SweepError(f'sweep {self.store}: its lease keeps changing hands; try again')
        self._thread = threading.Thread(target=self._renew, daemon=True,
                                        name='adasweep-lease')
        self._thread.start()
        return self

    def _renew(self):
        while not self._stop.wait(self.ttl / 3):
            try:
                if not self._put(IfMatch=self.etag):
                    print(f'warning: the lease of sweep {self.store} was taken by another '
                          'driver', file=sys.stderr, flush=True)
                    return
            except Exception as err:  # noqa: BLE001  (retried at the next period)
                print(f'warning: cannot renew the lease of sweep {self.store}: {err}',
                      file=sys.stderr, flush=True)

    def release(self):
        """Stop renewing and delete the lease (only if it is still ours)."""
        self._stop.set()
        if self.etag is None:
            return
        import botocore.exceptions
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
        except botocore.exceptions.ClientError:
            pass  # taken over: not ours to delete
        self.etag = None
