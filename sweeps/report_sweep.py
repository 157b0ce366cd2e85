"""What the report reads of a sweep folder (`Sweep`): the results, sweep.json, plan.json,
history.jsonl and space.json, as data only (no file of the folder is run); bad input is a
one-line ReportError."""
import json
import os.path as osp

import numpy as np
import pandas as pd

from .results import IOU_COLUMNS, final_ok, read_results, result_schema
from .tables import resolve, sweep_variants


STORE_DIR = 'active_labels'
COLUMNS = ['variant', 'trial_id', 'seed', 'round', 'iteration', 'is_final', 'status', 'error',
           'labelled_fraction', 'miou', 'wall_seconds', 'train_seconds', 'hostname', 'device',
           'git_rev', 'reported_at']


class ReportError(ValueError):
    """Bad report input: one `error:` line, exit 2."""


def read_json(path, what):
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ReportError(f'{path}: not a readable {what} ({e})') from None
    if not isinstance(data, dict):
        raise ReportError(f'{path}: not a readable {what} (expected a JSON object)')
    return data


def _history(path):
    if not osp.isfile(path):
        return []
    lines, i = [], 0
    try:
        with open(path) as f:
            for i, line in enumerate(f, 1):
                if line.strip():
                    lines.append(json.loads(line))
    except (OSError, ValueError) as e:
        raise ReportError(f'{path}: line {i} is not readable JSON ({e})') from None
    return lines


def _space_arg(argv):
    argv = list(argv or [])
    for i, a in enumerate(argv):
        if a == '--space' and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith('--space='):
            return a.split('=', 1)[1]
    return None


def _space_from_source(path):
    """The record fields of a project space file (sweeps/spaces/<name>.py) read from its syntax
    tree, without running it: the literal keyword arguments of `SPACE = Space(...)`, and
    `description=__doc__` as the module's docstring. None when there is no such call."""
    import ast
    with open(path) as f:
        tree = ast.parse(f.read(), str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == 'SPACE'
                                                for t in node.targets) \
                and isinstance(node.value, ast.Call):
            data = {}
            for kw in node.value.keywords:
                if kw.arg == 'description' and getattr(kw.value, 'id', None) == '__doc__':
                    data['description'] = ast.get_docstring(tree, clean=False)
                    continue
                try:
                    data[kw.arg] = ast.literal_eval(kw.value)
                except ValueError:
                    continue
            return data
    return None


def load_space_of(sweep_dir, info, history):
    """(the space's record or None, a note or None). The record is the sweep folder's
    space.json (sweeps.space.SPACE_RECORD, written by run.py when the sweep starts): data, so
    rendering a report runs no file the folder names. An older folder without it: the fields of
    the project's own space of that name read from its source without running it
    (`_space_from_source`); a space file given by path is not read."""
    from types import SimpleNamespace

    from .space import RECORD_FIELDS, SPACE_RECORD
    from .spaces import HERE, known_spaces
    defaults = dict.fromkeys(RECORD_FIELDS)
    data = read_json(osp.join(sweep_dir, SPACE_RECORD), SPACE_RECORD)
    if data is not None:
        return SimpleNamespace(**{**defaults, **data}), None
    arg = next((_space_arg(h.get('argv')) for h in history if _space_arg(h.get('argv'))), None)
    name = (info or {}).get('space')
    own = name if name in known_spaces() else arg if arg in known_spaces() else None
    if own is not None and not (arg and arg.endswith('.py') and arg != own):
        try:
            data = _space_from_source(HERE / f'{own}.py')
        except (OSError, SyntaxError, ValueError):
            data = None
        if data is not None:
            return SimpleNamespace(**{**defaults, **data}), (
                f'the sweep folder has no {SPACE_RECORD} (an older adasweep made it): the '
                f'description and table are those of the project\'s space {own} as it is now')
    what = arg or name or 'unknown'
    return None, (f'the sweep folder has no {SPACE_RECORD} (an older adasweep made it), and the '
                  f'space ({what}) is not run to read it: no description; the paper table is the '
                  'ablation table')


class Sweep:
    """What the report reads: the results (COLUMNS), sweep.json, plan.json, history.jsonl and
    space.json (data only: no file of the folder is run). Raises FileNotFoundError /
    ValueError (one line) for bad input."""

    def __init__(self, name, storage='results'):
        self.name = name
        self.path = resolve(name, storage)
        names = result_schema(self.path).names  # missing / unreadable -> an error here
        self.iou_columns = [c for c in IOU_COLUMNS if c in names]
        cols = [c for c in COLUMNS if c in names] + self.iou_columns
        self.results = read_results(self.path, columns=cols).to_pandas()
        if not len(self.results):
            raise ReportError(f'{self.path}: the results have no rows')
        for c in COLUMNS:
            if c not in self.results:
                self.results[c] = None
        self.dir = self.path if osp.isdir(self.path) else osp.dirname(osp.abspath(self.path))
        self.info = read_json(osp.join(self.dir, 'sweep.json'), 'sweep.json') or {}
        self.plan = read_json(osp.join(self.dir, 'plan.json'), 'plan.json') or {}
        self.history = _history(osp.join(self.dir, 'history.jsonl'))
        self.variants = sweep_variants(self.path)
        self.space, self.space_note = load_space_of(self.dir, self.info, self.history)
        self.title = self.info.get('name') or osp.basename(osp.normpath(self.dir))

    def known_variants(self):
        return list(dict.fromkeys(list(self.variants or []) + list(self.results['variant'])))

    def trials(self):
        """One row per trial: variant, seed, status, rounds, final mIoU and labelled %, wall and
        train seconds (the final row's; without one, the trial's largest), host."""
        df = self.results
        out = []
        for tid, g in df.groupby('trial_id', sort=False):
            final = final_ok(g)
            last = (final.iloc[-1] if len(final) else
                    g.sort_values(['round', 'reported_at']).iloc[-1])
            status = 'ok' if len(final) else str(last['status'])
            out.append(dict(
                trial_id=tid, variant=last['variant'], seed=last['seed'], status=status,
                rounds=len(g),
                miou=last['miou'] if len(final) else np.nan,
                labelled_pct=(last['labelled_fraction'] * 100 if len(final) and
                              pd.notna(last['labelled_fraction']) else np.nan),
                wall=last['wall_seconds'] if len(final) else pd.to_numeric(
                    g['wall_seconds'], errors='coerce').max(),
                train=last['train_seconds'] if len(final) else pd.to_numeric(
                    g['train_seconds'], errors='coerce').max(),
                host=last['hostname']))
        rank = {v: i for i, v in enumerate(self.known_variants())}
        t = pd.DataFrame(out)
        t['_r'] = t['variant'].map(rank)
        return t.sort_values(['_r', 'seed', 'trial_id'], kind='stable').drop(columns='_r')
