"""Config files that moved when every method got one config per benchmark (issue 14), and the
one-line message tools/train.py and tools/test.py give for them (exit status 2).

`MOVED` maps an old path to its new one (`{benchmark}`: any benchmark folder whose new config
exists). A former per-row config (configs/ripu/<benchmark>/rand_pixel.py and the like) is now a
row (`ROWS`) of sweeps/spaces/rows.py on the method's anchor config; sweeps/moved.py, which
knows the rows and the spaces, also names the spaces and variants that run it. Standard library
only: nothing here imports the sweeps.
"""
import os.path as osp
import sys
from typing import Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BENCHMARK = '{benchmark}'
# old path -> new path
MOVED = {
    'configs/ripu/{benchmark}/ripu_ra.py': 'configs/ripu/{benchmark}.py',
    'configs/ripu/{benchmark}/source_only.py': 'configs/source_only/{benchmark}.py',
    'configs/ripu/{benchmark}/target_oracle.py': 'configs/fully_supervised/{benchmark}.py',
    'configs/synthshift/source_only.py': 'configs/source_only/synthshift.py',
    'configs/synthshift/target_oracle.py': 'configs/target_oracle/synthshift.py',
    'configs/adeada/{benchmark}/adeada.py': 'configs/adeada/{benchmark}.py',
    'configs/adamcu/{benchmark}/adamcu.py': 'configs/adamcu/{benchmark}.py',
}
# method folder -> the rows table (sweeps/spaces/rows.py) that holds its former per-row configs
ROWS = {'ripu': 'RIPU_ROWS', 'adeada': 'ADEADA_ROWS'}


def relative(path: str) -> str:
    """`path` relative to the repository when it is inside it, normalised."""
    path = osp.normpath(path)
    if osp.isabs(path) and path.startswith(REPO + osp.sep):
        path = osp.relpath(path, REPO)
    return path


def _new_path(old: str, new: str, rel: str) -> Optional[str]:
    """`new` for the benchmark that makes `old` equal to `rel`, if that config exists."""
    if BENCHMARK not in old:
        return new if old == rel else None
    head, tail = old.split(BENCHMARK)
    if not (rel.startswith(head) and rel.endswith(tail)) or len(rel) <= len(head) + len(tail):
        return None
    benchmark = rel[len(head):len(rel) - len(tail)]
    target = new.format(benchmark=benchmark)
    return target if osp.sep not in benchmark and osp.isfile(osp.join(REPO, target)) else None


def moved_message(path: str) -> Optional[str]:
    """`error: <path> moved: use <new config>` for a config path that moved (a former per-row
    config: the anchor config and the row that replaced it); None for any other path."""
    rel = relative(path)
    for old, new in MOVED.items():
        target = _new_path(old, new, rel)
        if target is not None:
            return f'error: {path} moved: use {target}'
    parts = rel.split(osp.sep)
    if len(parts) == 4 and parts[0] == 'configs' and parts[1] in ROWS and \
            parts[3].endswith('.py') and not osp.isfile(osp.join(REPO, rel)):
        method, benchmark, name = parts[1], parts[2], parts[3][:-3]
        anchor = f'configs/{method}/{benchmark}.py'
        if osp.isfile(osp.join(REPO, anchor)):
            return (f'error: {path} moved: use {anchor} with the row '
                    f'sweeps.spaces.rows.{ROWS[method]}[{name!r}] (a Variant: strategy and '
                    'knobs), if it has one; sweeps/run.py --list-spaces names the spaces')
    return None


def exit_missing_config(path: str) -> None:
    """A config file that does not exist: one `error:` line on stderr, exit status 2 when it
    moved (naming the new config), else 1."""
    message = moved_message(path)
    if message:
        print(message, file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(f'error: config file {path!r} does not exist')
