"""`--set KEY=VALUE` overrides: parsed (Python literals), checked against the config (the key
exists, the type fits, the range of a knob), and applied, through the knob's setter where a key
is a knob's config path."""
import ast
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Tuple

from mmengine.config import Config

from .common import SweepError
from .config_knobs import apply_knobs, row_applies
from .knobs import KNOB_ROWS, is_knob, knob, range_error
from .paths import is_path_key


def parse_sets(pairs: Optional[List[str]]) -> Dict[str, Any]:
    """`--set key=value` strings -> {key: python value} (values parsed as Python literals)."""
    sets = {}
    for pair in pairs or []:
        if '=' not in pair:
            raise SweepError(f'--set {pair!r}: expected key=value')
        key, text = pair.split('=', 1)
        try:
            sets[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            sets[key] = text
    return sets


def _lookup(cfg: Config, key: str) -> Any:
    node = getattr(cfg, '_cfg_dict', cfg)
    for part in key.split('.'):
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise SweepError(f'--set {key}: unknown config key (no {part!r} there)')
    return node


# --set keys that are the path of a row with a setter of its own take that setter
# (`train_cfg.max_iters` rescales what is defined over it, as the max_iters knob does)
SET_ROUTES = {row.path: row.name for row in KNOB_ROWS if row.how != 'set' and row.when == 'always'}


def _split_sets(sets: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """--set items -> (knobs, config keys): a key that is a knob (sweeps.knobs) or the path of a
    row in SET_ROUTES is set as that knob (a knob name wins over a top-level config variable)."""
    knobs, keys = {}, {}
    for key, value in sets.items():
        if key in SET_ROUTES:
            knobs[SET_ROUTES[key]] = value
        elif '.' not in key and is_knob(key) or key.startswith('strategy.'):
            knobs[key] = value
        else:
            keys[key] = value
    return knobs, keys


def check_sets(cfg: Config, sets: Mapping[str, Any]) -> None:
    """Every --set key must exist in the config and keep its value's type (int -> float is fine).
    A key whose value is None takes a path (a path key: it must exist), a number, a bool, a
    string, a list or a dict, and None itself; a path key's path must exist. A knob (sweeps.knobs)
    must apply to the config. No value may hold a non-finite number, and a knob or a common
    config key (sweeps.knobs.KEY_RANGES) must be in its range."""
    for key, value in sets.items():  # values of the right type can still be impossible
        wrong = range_error(SET_ROUTES.get(key, key), value)
        if wrong:
            raise SweepError(f'--set {key}={value!r}: {wrong}')
    knobs, sets = _split_sets(sets)
    for name in knobs:
        row = knob(name)
        if not row_applies(cfg, row):
            raise SweepError(f'--set {name}: the knob does not apply to this config (it sets '
                             f'{row.path}; applies to {row.applies_to})')
    for key, value in sets.items():
        old = _lookup(cfg, key)
        if is_path_key(key) and isinstance(value, str) and '://' not in value and \
                not osp.exists(value):
            raise SweepError(f'--set {key}={value!r}: no such file or folder')
        if old is None:
            if not isinstance(value, (str, int, float, bool, list, tuple, dict, type(None))):
                raise SweepError(f'--set {key}={value!r}: expected a literal value')
            continue
        ok = isinstance(value, type(old)) or (isinstance(old, float) and isinstance(value, int)
                                               and not isinstance(value, bool))
        if isinstance(old, (list, tuple)) and isinstance(value, (list, tuple)):
            ok = True
        if isinstance(old, dict) and isinstance(value, dict):  # a ConfigDict takes a dict
            ok = True
        if not ok:
            raise SweepError(f'--set {key}={value!r}: expected a {type(old).__name__} '
                             f'like the config value {old!r}')


def apply_sets(cfg: Config, sets: Optional[Mapping[str, Any]]) -> None:
    """`--set` overrides into `cfg`, checked: knobs first (sweeps.knobs, in the table's order;
    `train_cfg.max_iters` is the max_iters knob), then the config keys."""
    sets = dict(sets or {})
    check_sets(cfg, sets)
    knobs, sets = _split_sets(sets)
    apply_knobs(cfg, knobs)
    if sets:
        cfg.merge_from_dict(sets)
