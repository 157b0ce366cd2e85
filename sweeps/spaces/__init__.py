"""Named sweep spaces: one file per space in this folder, each defining SPACE = Space(...)."""
import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent


def known_spaces():
    return sorted(p.stem for p in HERE.glob('*.py') if not p.stem.startswith('_'))


def load_space(name_or_path):
    """A space by name (sweeps/spaces/<name>.py) or by path to a file that defines SPACE."""
    path = Path(name_or_path)
    if not (path.suffix == '.py' and path.is_file()):
        if name_or_path not in known_spaces():
            raise ValueError(f'unknown space {name_or_path!r}; known spaces: '
                             f'{", ".join(known_spaces())} (or a path to a space file)')
        path = HERE / f'{name_or_path}.py'
    spec = importlib.util.spec_from_file_location(f'adasweep_space_{path.stem}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    space = getattr(module, 'SPACE', None)
    if space is None:
        raise ValueError(f'space file {str(path)!r} defines no SPACE = Space(...)')
    return space
