"""What the installed package ships: one version, the typing marker, stubs that match the engine.

Private: the engine module (``fnn._engine.core``), whose stubs are checked.
"""

import ast
import inspect
import re
from pathlib import Path

import pytest

import fnn
from fnn._engine import core


def package_file(name: str) -> Path:
    return Path(fnn.__file__).parent / name


def test_version_is_defined_in_one_place():
    text = package_file("_version.py").read_text()
    assert re.fullmatch(r'__version__ = "\d+\.\d+\.\d+"\n', text)
    assert fnn.__version__ == text.split('"')[1]
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("fnn")
    except PackageNotFoundError:  # running from a source tree without installing: nothing to compare
        return
    assert installed == fnn.__version__  # the installed metadata reads the same file


def test_py_typed_and_stubs_ship_with_the_package():
    assert package_file("py.typed").exists()
    for module in ("_core", "_core_x86_64_v3", "_core_x86_64_v4"):
        assert package_file(f"{module}.pyi").exists()


def test_engine_stub_declares_exactly_what_the_engine_has():
    tree = ast.parse(package_file("_core.pyi").read_text())
    declared = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            declared[node.name] = node
        elif isinstance(node, ast.AnnAssign):
            declared[node.target.id] = node
    public = {name for name in dir(core) if not name.startswith("_")}
    assert public == set(declared)
    for cls in ("Engine32", "Engine64"):
        stub_methods = {n.name for n in declared[cls].body
                        if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}
        real = {n for n, _ in inspect.getmembers(getattr(core, cls)) if not n.startswith("_")}
        assert stub_methods == real
        properties = {n for n, v in inspect.getmembers(getattr(core, cls)) if isinstance(v, property)}
        for method in stub_methods - properties:
            stub = next(n for n in declared[cls].body if getattr(n, "name", "") == method)
            stub_args = [a.arg for a in stub.args.args]
            doc = getattr(getattr(core, cls), method).__doc__
            real_args = re.findall(r"(\w+): ", doc.split("->")[0])
            assert stub_args == real_args, method


@pytest.mark.slow
def test_import_fnn_does_not_import_scikit_learn_and_loads_estimators_on_demand(tmp_path):
    import subprocess
    import sys

    import numpy as np

    X = np.random.default_rng(0).normal(size=(40, 3))
    fnn.FNNClassifier((4,), random_state=0, max_epochs=2).fit(X, X[:, 0] > 0).save(tmp_path / "m.npz")
    code = ("import sys, fnn\n"
            "assert 'sklearn' not in sys.modules, 'import fnn pulled in scikit-learn'\n"
            f"model = fnn.load({str(tmp_path / 'm.npz')!r})\n"
            "print(type(model).__name__, model.predict([[1.0, 0.0, 0.0]])[0])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "FNNClassifier"


def fnn_imports() -> dict:
    """{module: the fnn modules it imports}, from the package's sources: every relative import,
    at the top of a module or inside a function (a lazy import still makes a circle)."""
    root = Path(fnn.__file__).parent
    graph = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        package = parts if path.name == "__init__.py" else parts[:-1]
        module = ".".join(parts[:-1] if path.name == "__init__.py" else parts)
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[:len(package) - node.level + 1]
                if node.module:
                    found.add(".".join(base + node.module.split(".")))
                else:
                    found.update(".".join(base + [alias.name]) for alias in node.names)
        graph[module] = {name for name in found if name != module}
    return graph


def test_no_two_modules_import_each_other_even_through_others():
    # Issue 27: estimator_base -> distributed -> classifier -> estimator_base was a circle.
    graph = fnn_imports()
    graph.pop("fnn", None)  # the package's __init__ re-exports the public names (lazily)
    modules = set(graph)
    state, path = {}, []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in modules or imported == "fnn":
                continue
            circle = path[path.index(imported):] + [imported] if state.get(imported) == "open" else []
            assert not circle, "import circle: " + " -> ".join(circle)
            if imported not in state:
                visit(imported)
        path.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert len(state) > 30


#: fnn's layers, bottom up (docs/architecture.md): a module imports only from its own layer and
#: those below it. (The model-file registry names its readers' modules as strings, by kind.)
LAYERS = ["fnn._", "fnn.core", "fnn.io", "fnn.training", "fnn.network", "fnn.chapter", "fnn.scale", "fnn.sklearn",
          "fnn.deploy", "fnn.playground", "fnn.cli", "fnn"]


def layer_of(module: str) -> int:
    if module == "fnn.__main__":
        return len(LAYERS) - 1
    for number, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix if prefix.endswith("_") else prefix + "."):
            return number
    return len(LAYERS) - 1  # the package itself: the top


def test_every_import_points_down_the_layers():
    upward = [f"{module} imports {imported}" for module, imports in fnn_imports().items() for imported in imports
              if layer_of(imported) > layer_of(module)]
    assert not upward, upward
    assert layer_of("fnn._engine") == 0 and layer_of("fnn.network") == 4 and layer_of("fnn.__main__") == len(LAYERS) - 1


def test_the_version_is_written_once_in_each_place_and_they_agree():
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["version"] == fnn.__version__
