"""Named sweep spaces: one file per space in this folder, each defining SPACE = Space(...);
`rows.py` holds the rows several spaces share and is not a space."""
import importlib.util
from pathlib import Path
from typing import List, Optional

HERE = Path(__file__).resolve().parent
NOT_SPACES = ('rows',)  # modules of this folder that are not spaces


def known_spaces() -> List[str]:
    return sorted(p.stem for p in HERE.glob('*.py')
                  if not p.stem.startswith('_') and p.stem not in NOT_SPACES)


def space_file(name_or_path: str) -> Path:
    """The absolute path of a space given by name (sweeps/spaces/<name>.py) or by path."""
    path = Path(name_or_path)
    if not (path.suffix == '.py' and path.is_file()):
        if name_or_path not in known_spaces():
            raise ValueError(f'unknown space {name_or_path!r}; known spaces: '
                             f'{", ".join(known_spaces())} (or a path to a space file)')
        path = HERE / f'{name_or_path}.py'
    return path.resolve()


def load_space(name_or_path: str, source: Optional[str] = None):
    """A space by name (sweeps/spaces/<name>.py) or by path to a file that defines SPACE.
    `source`: the file's text, when the driver sent it (a trial on another node, or in another
    directory, needs no copy of the file)."""
    path = space_file(name_or_path) if source is None else Path(name_or_path)
    if source is None:
        source = path.read_text()
    module = importlib.util.module_from_spec(
        importlib.util.spec_from_loader(f'adasweep_space_{path.stem}', loader=None))
    module.__file__ = str(path)
    try:
        exec(compile(source, str(path), 'exec'), module.__dict__)  # noqa: S102  (a space file)
    except ValueError:
        raise  # Space's own checks: one line that names the space
    except Exception as err:  # noqa: BLE001  (user code: one line, not a traceback)
        where = next((f' (line {t.lineno})' for t in _frames(err.__traceback__)
                      if t.filename == str(path)), '')
        raise ValueError(f'space file {str(path)!r}{where}: {type(err).__name__}: '
                         f'{err}') from err
    space = getattr(module, 'SPACE', None)
    if space is None:
        raise ValueError(f'space file {str(path)!r} defines no SPACE = Space(...)')
    return space


def _frames(tb):
    import traceback
    return reversed(traceback.extract_tb(tb))
