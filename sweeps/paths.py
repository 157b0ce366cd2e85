"""Every path a trial needs, made absolute by the driver: trials never depend on their working
directory (Ray runs each trial in a folder of its own).

- Dataset roots: the configs name them relative to the data root (`data/gta5`,
  `data/cityscapes`, ...; SynthShift's `data_root=None`). `rebase_data_roots` puts them under
  the sweep's `--data-root` (default `$ADASWEEP_DATA`, else `<repo>/data`).
- `--set` values of path keys (`load_from`, `*_root`, `*_dir`, `*_path`, `*_file`, ...) that
  are relative are taken relative to the directory the command was run in.
- Data is identified by what it is, not where it is (`data_identity`): a moved or renamed data
  folder keeps its warm-ups and its sweeps' plans; other data changes them.
"""
import hashlib
import os
import os.path as osp

DATA_PREFIX = 'data/'
# folders the project writes inside a dataset root (caches, not data): the region hooks'
# superpixel maps (mmseg_ext/hooks/region_selection_hook.py, `<data_root>/superpixel`)
CACHE_FOLDERS = ('superpixel',)
# keys whose string values are file-system paths
PATH_KEYS = ('load_from', 'resume_from', 'data_root', 'img_path', 'seg_map_path', 'checkpoint',
             'superpixel_root', 'translated_source_dir', 'work_dir')
PATH_SUFFIXES = ('_root', '_dir', '_path', '_file', '_from')


def is_path_key(key):
    last = str(key).rsplit('.', 1)[-1]
    return last in PATH_KEYS or last.endswith(PATH_SUFFIXES)


def walk_dicts(node, fn):
    """fn(d) for every dict of a nested config (dicts, lists, tuples), outermost first."""
    if isinstance(node, dict):
        fn(node)
        for value in node.values():
            walk_dicts(value, fn)
    elif isinstance(node, (list, tuple)):
        for item in node:
            walk_dicts(item, fn)


def rebase_data_roots(cfg, data_root):
    """Point every dataset of `cfg` (an mmengine Config or dict) at `data_root`, in place:
    `data/<name>` -> `<data_root>/<name>`, SynthShift's None -> `<data_root>/synthshift`.
    Absolute roots are left alone. Returns cfg."""
    data_root = osp.abspath(data_root)

    def fix(d):
        root = d.get('data_root', 0)
        if root is None and d.get('type') == 'SynthShiftDataset':
            d['data_root'] = osp.join(data_root, 'synthshift')
        elif isinstance(root, str) and not osp.isabs(root):
            rel = root[len(DATA_PREFIX):] if root.startswith(DATA_PREFIX) else root
            d['data_root'] = osp.join(data_root, rel)

    walk_dicts(getattr(cfg, '_cfg_dict', cfg), fix)
    return cfg


def data_roots(cfg):
    """The dataset roots a config reads (after rebase_data_roots), sorted."""
    found = set()

    def add(d):
        if isinstance(d.get('data_root'), str) and d.get('type'):
            found.add(d['data_root'])

    walk_dicts(getattr(cfg, '_cfg_dict', cfg), add)
    return sorted(found)


def absolute_sets(sets, cwd):
    """--set values of path keys made absolute against `cwd` (the user's directory)."""
    out = {}
    for key, value in sets.items():
        if isinstance(value, str) and is_path_key(key) and value and not osp.isabs(value) \
                and '://' not in value:
            value = osp.normpath(osp.join(cwd, value))
        out[key] = value
    return out


_DIGESTS = {}


def data_digest(root):
    """What the dataset at `root` is, whatever its path: the SHA-1 of its meta.json where it has
    one (SynthShift records each folder's number of files and bytes there), else of its sorted
    relative file list with sizes (one stat per file, no reads; dot files and CACHE_FOLDERS left
    out; cached per process by the path, inode and mtime of `root`). None if `root` holds no
    files."""
    meta = osp.join(root, 'meta.json')
    if osp.isfile(meta):
        with open(meta, 'rb') as f:
            return hashlib.sha1(b'meta.json\0' + f.read()).hexdigest()[:16]
    try:
        st = os.stat(root)
    except OSError:
        return None
    key = (osp.abspath(root), st.st_ino, st.st_mtime_ns)
    if key not in _DIGESTS:
        entries = []
        for folder, dirs, files in os.walk(root, followlinks=True):
            rel = osp.relpath(folder, root)
            dirs[:] = [d for d in dirs if not d.startswith('.') and
                       not (rel == '.' and d in CACHE_FOLDERS)]
            for name in files:
                if not name.startswith('.'):
                    try:
                        size = os.stat(osp.join(folder, name)).st_size
                    except OSError:  # a dangling link: not data
                        continue
                    entries.append(f'{osp.normpath(osp.join(rel, name))}\t{size}')
        text = '\n'.join(sorted(entries)).encode('utf-8', 'surrogateescape')
        _DIGESTS[key] = hashlib.sha1(text).hexdigest()[:16] if entries else None
    return _DIGESTS[key]


def data_identity(cfg, data_root):
    """The datasets `cfg` reads (data_roots), as text that does not depend on where they are:
    each root relative to `data_root` with its data_digest (roots elsewhere by their path; a
    root without data, which cannot be identified, by its path)."""
    data_root = osp.abspath(data_root)
    parts = []
    for root in data_roots(cfg):
        digest = data_digest(root)
        inside = osp.abspath(root).startswith(data_root + os.sep)
        name = osp.relpath(root, data_root) if inside else root
        parts.append(f'{name}={digest}' if digest else f'{root}=<no data>')
    return ';'.join(parts)
