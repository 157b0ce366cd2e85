"""Config files that moved when every method got one config per benchmark (issue 14), and the
one-line message the sweeps give for them (tools/train.py and tools/test.py give
mmseg_ext/tools/moved_configs.py's, which does not know the spaces).

A former per-row config (configs/ripu/<benchmark>/rand_pixel.py and the like) is now a row of
sweeps/spaces/rows.py on the method's anchor config: the message names the row and the spaces
and variants that run it.
"""
import os.path as osp
from typing import List, Optional, Tuple

# the moved paths and the rows tables, as tools/train.py reports them
from mmseg_ext.tools.moved_configs import BENCHMARK, MOVED, ROWS, relative


def _match(pattern: str, path: str) -> Optional[str]:
    """The benchmark that makes `pattern` equal to `path` ('' for a pattern without one)."""
    from .space import BENCHMARKS
    if BENCHMARK not in pattern:
        return '' if pattern == path else None
    return next((b for b in BENCHMARKS if pattern.format(benchmark=b) == path), None)


def _users(row) -> List[Tuple[str, str]]:
    """(space, variant) of every known space that runs `row`."""
    from .spaces import known_spaces, load_space
    found = []
    for name in known_spaces():
        space = load_space(name)
        found += [(name, v) for v, variant in space.variants.items() if variant == row]
    return found


def moved_message(path: str) -> Optional[str]:
    """`error: <path> moved: use <new config> ...` for a config path that moved; None for any
    other path."""
    rel = relative(path)
    for old, new in MOVED.items():
        benchmark = _match(old, rel)
        if benchmark is not None:
            return f'error: {path} moved: use {new.format(benchmark=benchmark)}'
    parts = rel.split(osp.sep)
    if len(parts) == 4 and parts[0] == 'configs' and parts[1] in ROWS and parts[3].endswith('.py'):
        from .space import BENCHMARKS
        from .spaces import rows
        method, benchmark, name = parts[1], parts[2], parts[3][:-3]
        table = getattr(rows, ROWS[method])
        if benchmark in BENCHMARKS and name in table:
            users = _users(table[name])
            where = '; run by ' + ', '.join(f'space {s} variant {v!r}' for s, v in users) \
                if users else ''
            return (f'error: {path} moved: use configs/{method}/{benchmark}.py with the row '
                    f'sweeps.spaces.rows.{ROWS[method]}[{name!r}] (a Variant: strategy and '
                    f'knobs){where}')
    return None
