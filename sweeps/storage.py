"""Where a sweep's files live: a folder (local disk, NFS) or an object store (`s3://...`, any URI
`pyarrow.fs.FileSystem.from_uri` resolves), behind one small object over `pyarrow.fs`.

`Storage(arg)` is rooted at a folder or a URI; every method takes a path relative to that root
('/'-separated). A local folder is the LocalFileSystem case, written exactly as before: durable
atomic writes (adasweep_base/fileio.py: temp file, fsync, rename). On an object store a PUT is
atomic by itself (an object appears whole when its upload completes, never in part), so writes
go straight to the key. Credentials are never in the URI: they come from the environment, the
AWS config files or the instance's role (what the AWS SDK under pyarrow reads); `check` looks,
with short time-outs, for the endpoint, the credentials and the bucket before a sweep starts.

No Ray and no torch here (tables.py and report.py import it).
"""
import os
import os.path as osp
import socket
import tempfile
from urllib.parse import parse_qs, urlsplit

from .common import SweepError, mask_secrets
from adasweep_base.fileio import atomic_replace, atomic_write

CONNECT_TIMEOUT = float(os.environ.get('ADASWEEP_STORAGE_TIMEOUT', 5))  # seconds, in check()


def is_uri(text):
    return '://' in str(text)


class Storage:
    """A folder or an object-store prefix: read, write (atomic), list, exists, upload,
    download, remove. `arg`: a local path (made absolute) or a URI."""

    def __init__(self, arg, fs=None, root=None):
        import pyarrow.fs as pafs
        self.arg = str(arg)
        self.local = not is_uri(self.arg) or self.arg.startswith('file://')
        if fs is not None:
            self.fs, self.root = fs, root
        elif not is_uri(self.arg):
            self.fs, self.root = pafs.LocalFileSystem(), osp.abspath(self.arg)
        else:
            if urlsplit(self.arg).scheme in ('s3', 's3a'):  # from_uri may ask it the region
                self._check_endpoint()
            try:
                self.fs, self.root = pafs.FileSystem.from_uri(self.arg)
            except Exception as err:  # noqa: BLE001  (pyarrow: ArrowInvalid, OSError, ...)
                raise SweepError(f'--storage {mask_secrets(self.arg)}: not a storage URI '
                                 f'pyarrow resolves ({str(err).strip().splitlines()[0]}); '
                                 'expected a folder or e.g. s3://bucket/prefix') from None
            self.local = isinstance(self.fs, pafs.LocalFileSystem)
            self.root = self.root.rstrip('/') if not self.local else self.root
        self.scheme = 'file' if self.local else urlsplit(self.arg).scheme

    # ---- names -------------------------------------------------------------------------------
    def path(self, rel=''):
        """The path of `rel` in the file system (a local path for a folder)."""
        rel = str(rel).strip('/')
        if not rel:
            return self.root
        return osp.join(self.root, rel) if self.local else f'{self.root}/{rel}'

    def child(self, rel):
        """A Storage rooted at `rel` under this one."""
        sub = Storage.__new__(Storage)
        sub.__dict__.update(self.__dict__)
        sub.root = self.path(rel)
        sub.arg = osp.join(self.arg, str(rel).strip('/')) if self.local else self.uri(rel)
        return sub

    def parent(self):
        """A Storage rooted at the folder that holds this one's root."""
        sub = Storage.__new__(Storage)
        sub.__dict__.update(self.__dict__)
        sub.root = osp.dirname(self.root.rstrip('/'))
        sub.arg = osp.dirname(self.arg.rstrip('/')) if self.local else self.uri('..')
        return sub

    def uri(self, rel=''):
        """What names `rel` for a user (the local path, or the URI with its query), unmasked:
        it goes to Ray and to other nodes; print it through mask_secrets."""
        if self.local:
            return self.path(rel)
        parts = urlsplit(self.arg)
        query = f'?{parts.query}' if parts.query else ''
        path = osp.dirname(self.root) if rel == '..' else self.path(rel)
        return f'{parts.scheme}://{path}{query}'

    def shown(self, rel=''):
        """`rel` as messages name it: the path as the user gave it, or the masked URI."""
        if self.local:
            return osp.join(self.arg, str(rel).strip('/')) if rel else self.arg
        return mask_secrets(self.uri(rel))

    def __str__(self):
        return self.shown()

    # ---- reading -----------------------------------------------------------------------------
    def _info(self, rel):
        import pyarrow.fs as pafs
        return self.fs.get_file_info(self.path(rel)).type, pafs.FileType

    def is_file(self, rel=''):
        kind, types = self._info(rel)
        return kind == types.File

    def is_dir(self, rel=''):
        kind, types = self._info(rel)
        return kind == types.Directory

    def exists(self, rel=''):
        kind, types = self._info(rel)
        return kind != types.NotFound

    def list(self, rel='', recursive=False):
        """Names (relative to `rel`) of what is in folder `rel`; [] when it is missing."""
        import pyarrow.fs as pafs
        base = self.path(rel)
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(base, allow_not_found=True,
                                                            recursive=recursive))
        except (FileNotFoundError, NotADirectoryError):
            return []
        cut = len(base.rstrip('/')) + 1
        return sorted(i.path[cut:] for i in infos
                      if not recursive or i.type == pafs.FileType.File)

    def size(self, rel):
        return self.fs.get_file_info(self.path(rel)).size

    def open_input(self, rel=''):
        """A readable handle of file `rel` (FileNotFoundError if it is missing)."""
        if not self.is_file(rel):
            raise FileNotFoundError(f'{self.uri(rel)}: no such file')
        return self.fs.open_input_file(self.path(rel))

    def read_bytes(self, rel):
        with self.open_input(rel) as f:
            return f.read()

    def read_text(self, rel):
        return self.read_bytes(rel).decode('utf-8')

    # ---- writing -----------------------------------------------------------------------------
    def write_bytes(self, rel, data):
        """`data` at `rel`, atomically (readers see the old content or the new, never a part);
        on a folder also durably (adasweep_base.fileio.atomic_write)."""
        if self.local:
            def write(tmp):
                with open(tmp, 'wb') as f:
                    f.write(data)
            return atomic_write(self.path(rel), write)
        with self.fs.open_output_stream(self.path(rel)) as f:  # one PUT: whole or nothing
            f.write(data)
        return self.path(rel)

    def write_text(self, rel, text):
        return self.write_bytes(rel, text.encode('utf-8'))

    def append_line(self, rel, line):
        """One line at the end of `rel` (history.jsonl): appended and fsynced on a folder; an
        object is rewritten whole (one writer: the driver that holds the sweep's lease)."""
        line = line.rstrip('\n') + '\n'
        if self.local:
            os.makedirs(osp.dirname(self.path(rel)), exist_ok=True)
            with open(self.path(rel), 'a') as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            return
        old = self.read_bytes(rel) if self.is_file(rel) else b''
        self.write_bytes(rel, old + line.encode('utf-8'))

    def upload(self, local_path, rel):
        """Copy the local file to `rel` (atomically, see write_bytes); returns its bytes."""
        if self.local:
            import shutil
            atomic_write(self.path(rel), lambda tmp: shutil.copyfile(local_path, tmp))
        else:
            import pyarrow.fs as pafs
            pafs.copy_files(local_path, self.path(rel), source_filesystem=pafs.LocalFileSystem(),
                            destination_filesystem=self.fs)
        return os.path.getsize(local_path)

    def upload_tree(self, local_dir, rel):
        """Every file under the local folder `local_dir` to `rel`; returns the bytes sent."""
        sent = 0
        for folder, _, files in os.walk(local_dir):
            for name in sorted(files):
                path = osp.join(folder, name)
                sent += self.upload(path, f'{rel}/{osp.relpath(path, local_dir)}')
        return sent

    def download(self, rel, local_path):
        """Copy `rel` to the local file, atomically (a temp file renamed onto it)."""
        import pyarrow.fs as pafs
        os.makedirs(osp.dirname(osp.abspath(local_path)), exist_ok=True)
        atomic_replace(local_path, lambda tmp: pafs.copy_files(
            self.path(rel), tmp, source_filesystem=self.fs,
            destination_filesystem=pafs.LocalFileSystem()))
        return local_path

    def download_tree(self, rel, local_dir, keep=None):
        """Every file under `rel` (those `keep(name)` accepts) into `local_dir`; their names."""
        names = [n for n in self.list(rel, recursive=True) if keep is None or keep(n)]
        for name in names:
            self.download(f'{rel}/{name}' if rel else name, osp.join(local_dir, name))
        return names

    def remove_tree(self, rel=''):
        """Remove folder `rel` and everything in it (nothing if it is missing)."""
        if self.is_dir(rel):
            self.fs.delete_dir(self.path(rel))

    def remove(self, rel):
        if self.is_file(rel):
            self.fs.delete_file(self.path(rel))

    # ---- before a sweep starts ---------------------------------------------------------------
    def check(self):
        """Bad storage -> SweepError, with short time-outs and nothing written: a folder that
        is a file or not writable; an object store whose endpoint does not answer, without
        credentials, or whose bucket does not exist. Returns self."""
        shown = mask_secrets(self.arg)
        if self.local:
            path = self.root
            if osp.exists(path) and not osp.isdir(path):
                raise SweepError(f'--storage {shown}: exists and is not a folder')
            existing = path
            while not osp.exists(existing):
                existing = osp.dirname(existing)
            if not os.access(existing, os.W_OK | os.X_OK):
                raise SweepError(f'--storage {shown}: {existing} is not writable')
            return self
        if self.scheme in ('s3', 's3a'):
            self._check_s3(shown)
        try:
            self.is_dir()
        except OSError as err:
            raise SweepError(f'--storage {shown}: cannot read it '
                             f'({str(err).strip().splitlines()[0][:200]})') from None
        return self

    def s3_endpoint(self):
        """(endpoint URL, region) of an s3:// storage, as the URI names them (AWS's own
        endpoint when it names none)."""
        query = parse_qs(urlsplit(self.arg).query)
        region = getattr(getattr(self, 'fs', None), 'region', None) or \
            (query.get('region') or [None])[0] or os.environ.get('AWS_REGION') or \
            os.environ.get('AWS_DEFAULT_REGION') or 'us-east-1'
        endpoint = (query.get('endpoint_override') or [None])[0]
        scheme = (query.get('scheme') or ['https'])[0]
        if endpoint:
            return (endpoint if '://' in endpoint else f'{scheme}://{endpoint}'), region
        return f'https://s3.{region}.amazonaws.com', region

    def _check_endpoint(self):
        """The endpoint answers (a TCP connection within CONNECT_TIMEOUT) or SweepError."""
        parts = urlsplit(self.s3_endpoint()[0])
        port = parts.port or (443 if parts.scheme == 'https' else 80)
        try:
            socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT).close()
        except OSError as err:
            raise SweepError(f'--storage {mask_secrets(self.arg)}: the endpoint '
                             f'{parts.hostname}:{port} does not answer within '
                             f'{CONNECT_TIMEOUT:g} s ({err})') from None

    def _check_s3(self, shown):
        self._check_endpoint()
        client = s3_client(self)
        import boto3
        if boto3.session.Session().get_credentials() is None:
            raise SweepError(f'--storage {shown}: no AWS credentials found (expected them in '
                             'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws/credentials or an '
                             'instance role; never on the command line)')
        bucket = self.root.split('/', 1)[0]
        import botocore.exceptions
        try:
            client.head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as err:
            code = err.response.get('Error', {}).get('Code', '')
            what = 'does not exist' if code in ('404', 'NoSuchBucket') else \
                f'cannot be used ({code or err})'
            raise SweepError(f'--storage {shown}: bucket {bucket!r} {what}') from None
        except botocore.exceptions.BotoCoreError as err:
            raise SweepError(f'--storage {shown}: bucket {bucket!r} cannot be reached '
                             f'({err})') from None


def s3_client(storage):
    """A boto3 S3 client for an s3:// storage (its endpoint and region; credentials from the
    usual places), with short time-outs and few retries. Needs boto3 (extra `s3`)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise SweepError(f'--storage {storage}: an s3:// storage needs boto3 (pip install '
                         "-e '.[s3]')") from None
    url, region = storage.s3_endpoint()
    return boto3.session.Session().client(
        's3', endpoint_url=url, region_name=region,
        config=Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=max(CONNECT_TIMEOUT, 10),
                      retries=dict(max_attempts=2)))


def as_storage(where):
    """A Storage for `where`: a Storage as it is, a path or a URI."""
    return where if isinstance(where, Storage) else Storage(os.fspath(where))


LOCAL_DIR_ENV = 'ADASWEEP_LOCAL_DIR'


def default_local_dir():
    """The node-local root of trials' running work dirs when the storage is an object store,
    as the node that calls this sees it: $ADASWEEP_LOCAL_DIR (a node's own setting, in the
    environment of its `ray start`), else `adasweep` under Ray's temp dir ($RAY_TMPDIR, else the
    system's temp dir)."""
    if os.environ.get(LOCAL_DIR_ENV):
        return osp.abspath(os.environ[LOCAL_DIR_ENV])
    return osp.join(os.environ.get('RAY_TMPDIR') or tempfile.gettempdir(), 'adasweep')


def node_local_root(local_dir=None):
    """This node's local root: `local_dir` (--local-dir, the same path on every node) or, when
    it is not given, default_local_dir() as this node resolves it (nodes share no folder)."""
    return osp.abspath(local_dir) if local_dir else default_local_dir()


def rebase(path, old_root, new_root):
    """`path` under `old_root` moved to the same place under `new_root`."""
    return osp.join(new_root, osp.relpath(path, old_root))
