"""The lean install: ``pip install fnn`` trains, predicts and saves without pandas, matplotlib or
pyarrow, and a feature whose extra is missing says in one line which ``pip install`` brings it.

The missing packages are simulated in a fresh interpreter by an import hook that fails to find
them, as Python does where they are not installed (``sys.modules[name] = None`` would not do:
scikit-learn looks pandas up there)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

from fnn._extras import EXTRA_OF, MissingDependency, import_optional

ROOT = Path(__file__).resolve().parent.parent
OPTIONAL = ("pandas", "matplotlib", "pyarrow", "mpi4py", "dask", "distributed", "onnx", "skl2onnx")


def run_without(blocked, code: str, cwd: Path):
    """Runs `code` in a fresh interpreter in which the modules `blocked` cannot be imported."""
    prelude = textwrap.dedent(f"""
        import sys

        class NotInstalled:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {tuple(blocked)!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None

        sys.meta_path.insert(0, NotInstalled())
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_training_predicting_and_model_files_need_none_of_the_extras(tmp_path):
    result = run_without(OPTIONAL, """
        import numpy as np
        import fnn
        from fnn.cli import main
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        model = fnn.FNNClassifier(max_epochs=3).fit(X[:1000], y[:1000])  # raw pixels, as users give them
        fnn.save(model, "m.fnn")
        again = fnn.load("m.fnn")
        assert (again.predict(X[1000:]) == model.predict(X[1000:])).all()
        net = fnn.Network([64, 16, 10], seed=0)
        net.fit(X.astype(np.float32), y, max_epochs=2, verbose=False)
        fnn.FNNRegressor(max_epochs=3).fit(X[:500], y[:500].astype(float))
        assert main(["--max-epochs", "2"]) == 0  # the README's main job
        assert not {"pandas", "matplotlib", "pyarrow"} & set(sys.modules)
        print("ok")
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
    assert "test accuracy" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("blocked, arguments, extra", [
    (["pandas"], ["train", "table.csv"], "data"),
    (["pandas"], ["predict", "m.fnn", "table.csv"], "data"),
    (["matplotlib"], ["train", "table.csv", "--curve", "curve.png", "--max-epochs", "2"], "plots"),
    (["matplotlib"], ["experiment", "xor", "-o", "xor.png"], "plots"),
])
def test_a_command_without_its_extra_says_in_one_line_what_to_install(tmp_path, blocked, arguments, extra):
    (tmp_path / "table.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(60)))
    if "predict" in arguments:
        import fnn
        import numpy as np

        fnn.save(fnn.FNNClassifier(max_epochs=2).fit(np.arange(120.0).reshape(60, 2), np.arange(60) % 2),
                 tmp_path / "m.fnn")
    result = run_without(blocked, f"from fnn.cli import main; sys.exit(main({arguments!r}))", tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()  # (before any training: nothing is printed before it)
    assert len(lines) == 1 and lines[0].startswith("fnn: error: "), result.stderr
    assert f"needs {blocked[0]}, which is not installed: pip install 'fnn[{extra}]'" in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("blocked, code, extra", [
    (["matplotlib"], "from fnn.chapter.plots import new_figure; new_figure()", "plots"),
    (["pyarrow"], "from fnn.scale.streaming import parquet_blocks; next(parquet_blocks('x.parquet')())", "data"),
    (["pandas"], "from fnn.scale.streaming import csv_blocks; next(csv_blocks('x.csv')())", "data"),
    (["onnx"], "import fnn; fnn.to_onnx(fnn.Network([2, 2]))", "onnx"),
    (["skl2onnx"], "import fnn; fnn.register_onnx_converters()", "onnx"),
])
def test_a_function_without_its_extra_raises_an_import_error_naming_it(tmp_path, blocked, code, extra):
    result = run_without(blocked, f"""
        try:
            {code}
        except ImportError as error:
            from fnn._extras import MissingDependency
            assert isinstance(error, MissingDependency), repr(error)
            print(error)
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"needs {blocked[0]}, which is not installed: pip install 'fnn[{extra}]'" in result.stdout, result.stdout


def test_a_broken_install_keeps_its_own_error(tmp_path, monkeypatch):
    # An optional package that is there but fails to import one of its own dependencies.
    (tmp_path / "brokenpkg").mkdir()
    (tmp_path / "brokenpkg" / "__init__.py").write_text("import a_module_nobody_has_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(EXTRA_OF, "brokenpkg", "data")
    with pytest.raises(ModuleNotFoundError, match="a_module_nobody_has_xyz") as raised:
        import_optional("brokenpkg", "a feature")
    assert not isinstance(raised.value, MissingDependency)
    monkeypatch.delitem(sys.modules, "brokenpkg", raising=False)
    monkeypatch.setitem(sys.modules, "brokenpkg", None)  # (what Python says for a module it cannot find)
    with pytest.raises(MissingDependency, match=r"a feature needs brokenpkg.*pip install 'fnn\[data\]'"):
        import_optional("brokenpkg", "a feature")


def test_the_extras_in_pyproject_bring_what_the_messages_promise():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = lambda requirements: {r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()  # noqa: E731
                                  for r in requirements}
    base = names(project["dependencies"])
    assert base >= {"numpy", "scikit-learn", "scipy-openblas32"}
    assert not base & set(OPTIONAL), "an optional package is a hard dependency again"
    extras = project["optional-dependencies"]
    for module, extra in EXTRA_OF.items():
        assert module in names(extras[extra]), (module, extra)
    everything = {e.strip() for e in extras["all"][0].split("[")[1].rstrip("]").split(",")}
    assert everything == set(EXTRA_OF.values()) | {"bfloat16"}
    assert "fnn[all]" in extras["test"]


def test_no_module_imports_an_optional_package_but_through_import_optional():
    offenders = []
    for path in (ROOT / "python" / "fnn").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            words = line.split()
            if len(words) >= 2 and words[0] in ("import", "from") and words[1].split(".")[0] in (
                    "pandas", "matplotlib", "pyarrow"):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, offenders
