"""One training at a time per model: a re-entrant lock per object, taken by every method that
reads or writes its parameters (fit, partial_fit, predict, save, parameters, set_parameters).

Calls from several Python threads on one network or estimator are serialised: the second waits
for the first to finish. The lock is re-entrant, so a ``callback`` running inside ``fit`` (in the
fitting thread) may save or evaluate the model between epochs, when its weights are a state the
network really had. The locks live beside the objects, not in them, so models pickle, copy and
clone as before.
"""

from __future__ import annotations

import functools
import os
import threading
import weakref

_locks: "weakref.WeakKeyDictionary[object, threading.RLock]" = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def _forget_locks() -> None:
    # A forked child has only the thread that forked: a lock another parent thread held (a fit
    # running in the background) would never be released there.
    global _locks, _guard
    _locks = weakref.WeakKeyDictionary()
    _guard = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_locks)


def lock_of(owner: object) -> threading.RLock:
    """The lock of `owner`, made on first use."""
    lock = _locks.get(owner)  # (a dictionary read, atomic under the GIL: the common case, unguarded)
    if lock is not None:
        return lock
    with _guard:
        lock = _locks.get(owner)
        if lock is None:
            lock = _locks[owner] = threading.RLock()
        return lock


def serialised(method):
    """Run `method` holding its object's lock."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with lock_of(self):
            return method(self, *args, **kwargs)

    return locked
