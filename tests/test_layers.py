"""The shape of the code (issue 22): sweeps/ is layers of modules with one job each, and the
packages depend one way (tools -> mmseg_ext, sweeps -> mmseg_ext -> adasweep_base; inside
mmseg_ext, models/ and active/ -> ops/).

Read from the syntax trees (nothing is imported): every import counts, the ones inside
functions too, and a relative import is resolved against its package.
"""
import ast
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ('adasweep_base', 'sweeps', 'mmseg_ext')
MAX_LINES = 400
# the modules that execute a file by path, and why
EXEC_BY_PATH = {
    # mmcv's own pure-torch point_sample.py: its package mmcv.ops cannot be imported without
    # compiled ops (mmcv-lite), which is what the stand-in is for
    'mmseg_ext.compat': {'spec_from_file_location', 'exec_module'},
    # a space file: named on the command line (--space PATH), or its text sent to a trial
    'sweeps.spaces': {'exec('},
}
EXEC_NEEDLES = ('spec_from_file_location', 'runpy', 'exec(', 'exec_module', 'SourceFileLoader')


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
        assert deps and all(d.split('.')[0] == 'mmseg_ext' for d in deps), (path, deps)


def _importers_of(prefix, below):
    """{module under `prefix`: the modules it imports that are not under `below`}, non-empty."""
    _, graph = _graph()
    bad = {n: sorted(d for d in deps if not any(d == b or d.startswith(b + '.') for b in below))
           for n, deps in graph.items() if n == prefix or n.startswith(prefix + '.')}
    return {n: d for n, d in bad.items() if d}


def test_models_do_not_import_the_acquisition_layer():
    """What models share with acquisition (entropy, self-information, two-head uncertainty,
    the DCCM, checks, window sums) lives below both, in mmseg_ext.ops."""
    _, graph = _graph()
    bad = {n: sorted(d for d in deps if d.startswith('mmseg_ext.active'))
           for n, deps in graph.items() if n.startswith('mmseg_ext.models')}
    assert {n: d for n, d in bad.items() if d} == {}
    assert any('mmseg_ext.ops.uncertainty' in graph[n] for n in graph
               if n.startswith('mmseg_ext.models'))


def test_ops_and_base_sit_below_everything():
    """mmseg_ext.ops imports only itself (and adasweep_base); adasweep_base no other package."""
    assert _importers_of('mmseg_ext.ops', ('mmseg_ext.ops', 'adasweep_base')) == {}
    assert _importers_of('adasweep_base', ('adasweep_base',)) == {}


def test_torch_free_base_imports_no_third_party_but_numpy():
    import sys
    allowed = set(sys.stdlib_module_names) | {'numpy', 'adasweep_base'}
    for name, path in _modules('adasweep_base').items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [a.name.split('.')[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                tops = [node.module.split('.')[0]]
            else:
                continue
            assert set(tops) <= allowed, (name, tops)


def test_modules_are_at_most_400_lines():
    long = {n: len(p.read_text().splitlines())
            for package in PACKAGES for n, p in _modules(package).items()}
    assert {n: k for n, k in long.items() if k > MAX_LINES} == {}


def test_no_file_executed_by_path():
    """No spec_from_file_location / runpy / exec of a file in the packages (one import, one
    module object), except the justified cases of EXEC_BY_PATH."""
    found = {}
    for package in PACKAGES:
        for name, path in _modules(package).items():
            text = path.read_text()
            hits = [needle for needle in EXEC_NEEDLES if needle in text]
            if hits:
                found[name] = hits
    unjustified = {n: sorted(set(h) - EXEC_BY_PATH.get(n, set())) for n, h in found.items()}
    assert {n: h for n, h in unjustified.items() if h} == {}
    assert set(found) == set(EXEC_BY_PATH)  # a case that went away leaves the list too


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
    """Files are written atomically by adasweep_base/fileio.py only: no os.replace of a temp file
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
    for n, p in [*_modules('sweeps').items(), *_modules('mmseg_ext').items()]:
        print(f'{len(p.read_text().splitlines()):5d} {os.path.relpath(p, REPO)}')
