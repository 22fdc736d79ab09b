"""The environment benchmarks run in: OpenBLAS's own choice of kernels, as on users' machines.

This workplace's machines set ``OPENBLAS_CORETYPE=Haswell`` and ``OPENBLAS_L2_SIZE`` for old
OpenBLAS builds; under them NumPy's OpenBLAS and the scipy-openblas32 that fnn links run AVX2
kernels on AVX-512 CPUs (sgemm 252 GFLOP/s here instead of 435). A benchmark started as a command
(``python -m bench.…``) restarts itself without them, so every process it measures (all inherit
its environment) uses the kernels users get. Tests that call a benchmark's ``main`` keep the
environment they were given.
"""

from __future__ import annotations

import os
import sys
from typing import Dict, List

#: Variables that override OpenBLAS's detection of the CPU.
OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def restart_without_overrides(module: str) -> None:
    """Re-execute ``python -m module`` with the same arguments, without OVERRIDES, if any is set
    (only from a module run as a command: the process is replaced)."""
    if any(name in os.environ for name in OVERRIDES):
        env = {name: value for name, value in os.environ.items() if name not in OVERRIDES}
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]], env)


def openblas_core_types() -> Dict[str, str]:
    """The core type each OpenBLAS in this process runs (NumPy's, fnn's), as threadpoolctl
    reports it; empty without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {}
    import fnn  # noqa: F401 - loads the engine, whose OpenBLAS then shows

    types: Dict[str, str] = {}
    for pool in threadpool_info():
        if pool.get("internal_api") == "openblas":
            owner = "fnn" if "scipy_openblas32" in pool.get("filepath", "") else "NumPy"
            types[owner] = pool.get("architecture") or "?"
    return types


def describe() -> str:
    """One line: the OpenBLAS core types and whether the overrides are set."""
    types = openblas_core_types()
    set_now: List[str] = [f"{name}={os.environ[name]}" for name in OVERRIDES if name in os.environ]
    cores = ", ".join(f"{owner} {kind}" for owner, kind in sorted(types.items())) or "unknown"
    return f"OpenBLAS core type: {cores}; " + (", ".join(set_now) + " set" if set_now else
                                                 "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset")


if __name__ == "__main__":  # python -m bench.environment: the core types benchmarks run with
    restart_without_overrides("bench.environment")
    print(describe())
