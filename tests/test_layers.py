"""The shape of the code (issue 22): sweeps/ is layers of modules with one job each, and the
packages depend one way (tools -> mmseg_ext, sweeps -> mmseg_ext).

Read from the syntax trees (nothing is imported): every import counts, the ones inside
functions too, and a relative import is resolved against its package.
"""
import ast
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ('sweeps', 'mmseg_ext')
MAX_LINES = 400
# the one module of sweeps/ that executes files by path, and why (its docstring): the
# torch-free leaf modules of mmseg_ext, whose package __init__ imports torch to register
LOADS_BY_PATH = {'sweeps.light'}


def _modules(package):
    """{dotted module name: path} of every .py file under `package`."""
    out = {}
    for path in sorted((REPO / package).rglob('*.py')):
        parts = list(path.relative_to(REPO).with_suffix('').parts)
        if parts[-1] == '__init__':
            parts = parts[:-1]
        out['.'.join(parts)] = path
    return out


def _imports(name, path, known):
    """The project modules `name` imports (any scope); `from pkg import mod` counts `pkg.mod`
    when that is a module, else `pkg`."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == '__init__.py'
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split('.') if is_pkg else name.split('.')[:-1]
                base = base[:len(base) - (node.level - 1)]
                mod = '.'.join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ''
            targets = [f'{mod}.{a.name}' if f'{mod}.{a.name}' in known else mod
                       for a in node.names]
        else:
            continue
        for target in targets:
            # the module itself, or the closest enclosing module that is known
            parts = target.split('.')
            while parts and '.'.join(parts) not in known:
                parts.pop()
            if parts:
                found.add('.'.join(parts))
    return found


def _graph():
    known = {}
    for package in PACKAGES:
        known.update(_modules(package))
    return known, {name: _imports(name, path, known) for name, path in known.items()}


def _cycle(graph):
    """One import cycle of `graph` as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_in_sweeps_and_mmseg_ext():
    _, graph = _graph()
    assert _cycle(graph) is None, ' -> '.join(_cycle(graph))


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert _cycle({'a': {'b', 'c'}, 'b': {'c'}, 'c': set()}) is None


def test_no_module_imports_itself():
    _, graph = _graph()
    assert [n for n, deps in graph.items() if n in deps] == []


def test_mmseg_ext_never_imports_sweeps():
    _, graph = _graph()
    bad = {n: sorted(d for d in deps if d.split('.')[0] == 'sweeps')
           for n, deps in graph.items() if n.startswith('mmseg_ext')}
    assert {n: d for n, d in bad.items() if d} == {}


def test_tools_import_only_mmseg_ext():
    known, _ = _graph()
    for path in sorted((REPO / 'tools').glob('*.py')):
        deps = _imports(f'tools.{path.stem}', path, known)
        assert not [d for d in deps if d.split('.')[0] == 'sweeps'], path


def test_sweeps_modules_are_at_most_400_lines():
    long = {n: len(p.read_text().splitlines()) for n, p in _modules('sweeps').items()}
    assert {n: k for n, k in long.items() if k > MAX_LINES} == {}


def test_no_file_executed_by_path_in_sweeps():
    by_path = {n for n, p in _modules('sweeps').items()
               if 'spec_from_file_location' in p.read_text()}
    assert by_path <= LOADS_BY_PATH, by_path - LOADS_BY_PATH


def test_driver_state_is_in_one_module():
    """No class of sweeps/ keeps driver state in a class attribute it assigns at run time
    (`SomeClass.current = self`); sweeps/driver_state.py holds it."""
    bad = []
    for name, path in _modules('sweeps').items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and \
                            t.value.id[:1].isupper() and t.attr in ('current', 'folder'):
                        bad.append(f'{name}: {t.value.id}.{t.attr}')
    assert bad == []


def test_one_atomic_write_helper():
    """Files are written atomically by mmseg_ext/fileio.py only: no os.replace of a temp file
    in sweeps/ or in the dataset tools (make_release renames a finished folder into place)."""
    files = sorted((REPO / 'sweeps').rglob('*.py')) + [
        REPO / 'mmseg_ext' / 'tools' / n for n in ('class_stats.py', 'convert_datasets.py')]
    bad = [str(p.relative_to(REPO)) for p in files
           if 'os.replace(' in p.read_text() or 'mkstemp(' in p.read_text()]
    assert bad == []


def test_one_final_ok_filter():
    """The "final evaluation of an ok trial" filter is written once (sweeps.results.final_ok)."""
    bad = []
    for name, path in _modules('sweeps').items():
        text = path.read_text()
        for needle in ("['status'] == 'ok')", "(df.status == 'ok')"):
            if needle in text and "is_final" in text and name != 'sweeps.results':
                bad.append(name)
    assert bad == []


if __name__ == '__main__':  # python tests/test_layers.py: the module graph's sizes and cycles
    known, graph = _graph()
    print(f'{len(known)} modules, {sum(map(len, graph.values()))} imports, cycle: '
          f'{_cycle(graph)}')
    for n, p in _modules('sweeps').items():
        print(f'{len(p.read_text().splitlines()):5d} {os.path.relpath(p, REPO)}')
