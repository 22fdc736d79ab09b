"""The record of a training run returned by :meth:`fnn.Network.fit`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

#: The per-epoch fields, stored in model files as float64 arrays (``gradient_norms`` 2-D), not as
#: JSON: a history grows by one entry per epoch (or per ``partial_fit``) for as long as a model
#: lives, and as text it would soon pass the cap on a file's metadata.
CURVES = ("train_risk", "validation_error", "validation_loss", "epoch_time", "learning_rate",
          "communication_time", "gradient_norms")


@dataclass
class History:
    """Per-epoch figures of one call to ``fit``.

    Attributes
    ----------
    train_risk : list of float
        Risk (4.39) of each epoch: the mean of the per-sample losses measured during the epoch,
        each just before its own update (as scikit-learn's ``loss_curve_``), plus
        λ/2·‖W‖²_F at the end of the epoch.
    validation_error : list of float
        Error rate (classification) on the validation set after each epoch; empty without one.
        For regression it is the validation loss again, so early stopping can use one list.
    validation_loss : list of float
        Mean loss (without the L2 term) on the validation set after each epoch.
    epoch_time : list of float
        Wall-clock seconds of each epoch, training and validation together.
    best_epoch : int or None
        1-based epoch whose weights the network holds after early stopping restored them.
    stopped_early : bool
        True when the validation criterion stopped training before ``max_epochs``.
    samples_per_second : float
        Training samples processed per second over the whole run (validation excluded).
    gradient_norms : list of list of float
        With ``fit(record_gradient_norms=True)``: ‖∂R/∂W⁽ˡ⁾‖_F of each layer l = 1 … L on the
        training set, before training (entry 0) and after every epoch.
    learning_rate : list of float
        The learning rate α of each epoch, as the schedule set it.
    communication_time : list of float
        With :func:`fnn.scale.distributed.fit`: seconds of each epoch this rank spent in MPI's
        collectives (waiting for the other ranks included); empty otherwise.
    """

    train_risk: List[float] = field(default_factory=list)
    validation_error: List[float] = field(default_factory=list)
    validation_loss: List[float] = field(default_factory=list)
    epoch_time: List[float] = field(default_factory=list)
    best_epoch: Optional[int] = None
    stopped_early: bool = False
    samples_per_second: float = 0.0
    gradient_norms: List[List[float]] = field(default_factory=list)
    learning_rate: List[float] = field(default_factory=list)
    communication_time: List[float] = field(default_factory=list)

    @property
    def n_epochs(self) -> int:
        """Number of epochs run."""
        return len(self.train_risk)

    @property
    def total_time(self) -> float:
        """Seconds spent in all epochs."""
        return float(sum(self.epoch_time))

    def to_dict(self) -> Dict[str, Any]:
        """The fields as plain lists and numbers (for JSON)."""
        return asdict(self)

    def to_file(self, prefix: str) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
        """(JSON-able scalars, arrays named ``prefix + field``) describing this history in a model file."""
        values = self.to_dict()
        arrays = {prefix + name: curve_array(values.pop(name)) for name in CURVES}
        return values, arrays

    @classmethod
    def from_file(cls, values: Dict[str, Any], arrays: Mapping[str, np.ndarray], prefix: str) -> "History":
        """The history :meth:`to_file` wrote; files of format version 1 hold the curves in ``values``."""
        if not isinstance(values, dict):
            raise TypeError(f"history must be a mapping, got {type(values).__name__}")
        values = dict(values)
        for name in CURVES:
            if prefix + name in arrays:
                if name in values:
                    raise TypeError(f"history field {name!r} is stored twice (as a list and as an array)")
                values[name] = curve_list(arrays[prefix + name], f"history field {name!r}",
                                          dimensions=2 if name == "gradient_norms" else 1)
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "History":
        """The history :meth:`to_dict` described; unknown keys are ignored, known ones type-checked
        (a TypeError names the first that is not what it should be)."""
        if not isinstance(values, dict):
            raise TypeError(f"history must be a mapping, got {type(values).__name__}")

        def number(v):
            return isinstance(v, (int, float)) and not isinstance(v, bool)

        checks = {
            "train_risk": lambda v: isinstance(v, list) and all(map(number, v)),
            "validation_error": lambda v: isinstance(v, list) and all(map(number, v)),
            "validation_loss": lambda v: isinstance(v, list) and all(map(number, v)),
            "epoch_time": lambda v: isinstance(v, list) and all(map(number, v)),
            "learning_rate": lambda v: isinstance(v, list) and all(map(number, v)),
            "communication_time": lambda v: isinstance(v, list) and all(map(number, v)),
            "best_epoch": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
            "stopped_early": lambda v: isinstance(v, bool),
            "samples_per_second": number,
            "gradient_norms": lambda v: isinstance(v, list) and all(isinstance(r, list) and all(map(number, r))
                                                                    for r in v),
        }
        names = {f.name for f in fields(cls)}
        for name, value in values.items():
            if name in checks and not checks[name](value):
                raise TypeError(f"history field {name!r} has a value of the wrong type")
        return cls(**{k: v for k, v in values.items() if k in names})


def curve_array(values) -> np.ndarray:
    """A curve (list of numbers, or of lists of numbers) as the float64 array a model file stores."""
    return np.asarray(values, dtype=np.float64)


def curve_list(array: np.ndarray, what: str, dimensions: int = 1) -> list:
    """The list a stored curve stands for; a TypeError names `what` if the array is not a curve."""
    if array.dtype != np.float64 or (array.ndim != dimensions and array.size):
        raise TypeError(f"{what} must be a {dimensions}-D float64 array, got {array.ndim}-D {array.dtype}")
    return array.tolist()
