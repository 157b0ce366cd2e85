"""Every path a trial needs, made absolute by the driver: trials never depend on their working
directory (Ray runs each trial in a folder of its own).

- Dataset roots: the configs name them relative to the data root (`data/gta5`,
  `data/cityscapes`, ...; SynthShift's `data_root=None`). `rebase_data_roots` puts them under
  the sweep's `--data-root` (default `$ADASWEEP_DATA`, else `<repo>/data`).
- `--set` values of path keys (`load_from`, `*_root`, `*_dir`, `*_path`, `*_file`, ...) that
  are relative are taken relative to the directory the command was run in.
"""
import os.path as osp

DATA_PREFIX = 'data/'
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
