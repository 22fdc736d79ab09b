"""Developer sessions: `nox -s lint`, `nox -s tests`, `nox -s sanitizers`, `nox -s bench`.

Each runs in a fresh virtual environment of nox's own; `tests` builds the engine as a user's
`pip install` does (all three instruction-set variants), with compiler warnings as errors.
"""

from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]


@nox.session
def lint(session):
    """ruff on the Python, clang-format on the C++ (the rule sets in pyproject.toml and .clang-format)."""
    session.install("ruff>=0.6", "clang-format==23.1.5")
    session.run("ruff", "check", "python", "tests", "bench", "examples", "noxfile.py")
    session.run("clang-format", "--dry-run", "--Werror", *sorted(str(p) for p in Path("cpp").glob("*.[hc]pp")))


@nox.session
def tests(session):
    """The suite against a fresh build of the package, as CI runs it."""
    session.env["CMAKE_ARGS"] = "-DFNN_WERROR=ON"
    session.install(".[test]")
    session.run("pytest", *session.posargs)


@nox.session(venv_backend="none")
def sanitizers(session):
    """The suite against an ASan+UBSan build (scripts/sanitizers.sh keeps its own environment)."""
    session.run("bash", "scripts/sanitizers.sh", *session.posargs, external=True)


@nox.session
def bench(session):
    """The benchmarks, with the OpenBLAS kernels users get (the workplace's overrides unset)."""
    session.install(".[bench,test]")
    unset = {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None}  # None removes a variable
    session.run("python", "-m", "bench.run", *session.posargs, env=unset)
