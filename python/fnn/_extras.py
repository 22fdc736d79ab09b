"""Optional dependencies: which extra of ``pip install 'fnn[…]'`` brings each, and the one-line
error a feature raises when its extra is not installed.

``pip install fnn`` brings what training, prediction and the estimators need (NumPy,
scikit-learn, OpenBLAS). Reading data files and tables needs pandas (``fnn[data]``, with pyarrow
for Parquet), figures need matplotlib (``fnn[plots]``), and so on; ``fnn[all]`` brings every one.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: The extra that installs each optional top-level module.
EXTRA_OF = {"pandas": "data", "pyarrow": "data", "matplotlib": "plots", "mpi4py": "mpi", "dask": "dask",
            "distributed": "dask", "onnx": "onnx", "skl2onnx": "onnx"}


class MissingDependency(ImportError):
    """A feature's optional dependency is not installed; the message names the extra to install."""


def import_optional(module: str, feature: str) -> ModuleType:
    """Import and return `module` (``"pandas"``, ``"matplotlib.figure"`` …), or raise
    MissingDependency saying that `feature` needs it and which ``pip install`` brings it.

    Only the module itself missing is reported so: an installed module that fails to import (one
    of its own dependencies broken) keeps its original error."""
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if error.name is not None and error.name.split(".")[0] != top:
            raise
        raise MissingDependency(f"{feature} needs {top}, which is not installed: "
                                f"pip install 'fnn[{EXTRA_OF[top]}]'") from None
