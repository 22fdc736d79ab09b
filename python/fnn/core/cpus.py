"""How many CPUs this process may use: its affinity mask, capped by a container's CPU quota.

``os.cpu_count()`` counts the machine's CPUs; a process pinned to two of them (``taskset``), or in
a container allowed two CPUs' worth of time (``docker run --cpus 2``, a Kubernetes limit), that
starts a thread per machine CPU only makes its threads wait for each other.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Optional, Tuple


def _affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _read(path: Path) -> Optional[str]:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def cgroup_cpu_quota(proc_self: Path = Path("/proc/self"),
                     cgroup_root: Path = Path("/sys/fs/cgroup")) -> Optional[float]:
    """The CPUs' worth of time the process's cgroup allows (e.g. 1.5), or None without a limit.

    Reads cgroup v2's ``cpu.max`` ("quota period" or "max period") and cgroup v1's
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota −1 for none), in the process's own cgroup
    and each of its ancestors: the tightest limit counts.
    """
    text = _read(proc_self / "cgroup")
    if text is None:
        return None
    limits = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, relative = parts
        if controllers == "":  # cgroup v2: one unified hierarchy
            bases = [cgroup_root, cgroup_root / "unified"]
            v2 = True
        elif "cpu" in controllers.split(","):
            bases = [cgroup_root / controllers, cgroup_root / "cpu", cgroup_root / "cpu,cpuacct"]
            v2 = False
        else:
            continue
        relative = relative.lstrip("/")
        for base in bases:
            directory = base / relative
            if not directory.is_dir():
                continue
            # The cgroup and its ancestors up to the mount point.
            while True:
                limit = _v2_limit(directory) if v2 else _v1_limit(directory)
                if limit is not None:
                    limits.append(limit)
                if directory == base:
                    break
                directory = directory.parent
            break
    return min(limits) if limits else None


def _v2_limit(directory: Path) -> Optional[float]:
    text = _read(directory / "cpu.max")
    if not text:
        return None
    fields = text.split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = float(fields[0]), float(fields[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v1_limit(directory: Path) -> Optional[float]:
    quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
    try:
        quota_us, period_us = float(quota), float(period)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def available_cpus() -> int:
    """The CPUs this process may use: its affinity mask, capped by its cgroup's CPU quota
    (rounded up: a quota of 1.5 CPUs still runs two threads part of the time), and, in a task
    of a Dask worker, by that CPU count's share per task thread of the worker."""
    cpus, quota = _recent_limits()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    task_threads = dask_task_threads()
    if task_threads:
        cpus //= task_threads
    return max(1, cpus)


#: (pid, time.monotonic(), affinity, quota) of the last reading.
_last_limits: Tuple[int, float, int, Optional[float]] = (-1, 0.0, 1, None)


def _recent_limits() -> Tuple[int, Optional[float]]:
    """(_affinity(), cgroup_cpu_quota()), read again after a second or in a forked child:
    reading the cgroup files takes about 90 µs, several times a one-row prediction, which asks
    for the thread count on every call."""
    global _last_limits
    pid, when, affinity, quota = _last_limits
    now = time.monotonic()
    if pid != os.getpid() or now - when > 1.0:
        affinity, quota = _affinity(), cgroup_cpu_quota()
        _last_limits = (os.getpid(), now, affinity, quota)
    return affinity, quota


def dask_task_threads() -> Optional[int]:
    """The number of tasks the Dask worker running the calling thread runs at once (its
    threads), or None outside a Dask worker's task. A worker runs that many fits at once, each of
    which should then take its share of the CPUs, not all of them. (Workers started by a nanny
    also get OMP_NUM_THREADS=1 from Dask, which OpenMP's limit applies as well.)"""
    distributed = sys.modules.get("distributed")  # imported in every worker; never imported here
    if distributed is None:
        return None
    try:
        worker = distributed.get_worker()
    except (ValueError, AttributeError):
        return None
    threads = getattr(getattr(worker, "state", worker), "nthreads", None)
    return threads if isinstance(threads, int) and threads > 0 else None


class ThreadCountWarning(RuntimeWarning):
    """n_threads asked for more threads than this process may run at once; fnn uses fewer."""


def clamp_threads(n_threads: int, what: str = "n_threads") -> int:
    """`n_threads` capped at the available CPUs, with a :class:`ThreadCountWarning` when capped.

    More threads than CPUs never help fnn's kernels (their threads meet several times per
    sample) and can starve the machine, so a larger request, from the constructor, a model file,
    a settings file or a command-line flag, is lowered rather than refused.
    """
    limit = available_cpus()
    if n_threads > limit:
        warnings.warn(f"{what}={n_threads} is more than the {limit} CPU(s) this process may use; using {limit}",
                      ThreadCountWarning, stacklevel=3)
        return limit
    return n_threads
