"""fnn: feedforward neural networks trained on the CPU by a C++/Eigen core, exactly as chapter 4
of Qiu Xipeng's *Neural Networks and Deep Learning* describes them."""

from .io import datasets
from ._bfloat16 import bfloat16_available
from ._version import __version__
from .core.activations import (
    ELU, Activation, HardLogistic, HardTanh, Identity, LeakyReLU, Logistic, Maxout, PReLU, ReLU, Softplus, Tanh,
)
from .core.cpus import ThreadCountWarning
from .chapter.gradient_check import check_gradients
from .core.history import History
from .io.model_file import ModelFileError, load, save
from .network import Network, TrainingDiverged

# The estimators import scikit-learn (most of a second): load them on first use only.
_LAZY = {"FNNClassifier": ".sklearn.classifier", "FNNRegressor": ".sklearn.regressor",
         "FitWarning": ".training.convergence", "with_preprocessing": ".sklearn.preprocessing",
         "to_onnx": ".deploy.onnx_export", "onnx_inputs": ".deploy.onnx_export",
         "register_onnx_converters": ".deploy.onnx_export"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "__version__", "Network", "bfloat16_available", "History", "TrainingDiverged", "check_gradients", "datasets",
    "FNNClassifier", "FNNRegressor", "with_preprocessing", "load", "save", "ModelFileError", "ThreadCountWarning",
    "FitWarning", "to_onnx", "onnx_inputs", "register_onnx_converters",
    "Activation", "Identity", "Logistic", "Tanh", "HardLogistic", "HardTanh", "ReLU", "LeakyReLU", "PReLU",
    "ELU", "Softplus", "Maxout",
]
