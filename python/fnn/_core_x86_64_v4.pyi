"""Type stubs: the same interface as fnn._core (see _core.pyi)."""

from ._core import *  # noqa: F401,F403
from ._core import Engine32 as Engine32, Engine64 as Engine64
