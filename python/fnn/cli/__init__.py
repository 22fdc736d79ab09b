"""The command line, ``fnn`` (commands), its TOML settings (config) and progress bar.
The top layer: imports anything below it.
"""

from .commands import main

__all__ = ["main"]
