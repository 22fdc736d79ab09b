"""The update rules a network trains with, and the state they carry from one update to the next.

Plain SGD is Algorithm 4.1's rule; the others are those of the book's section 7.2, in PyTorch's
formulation (``torch.optim``), computed in the C++ kernels (``cpp/optimisers.hpp``)::

    momentum   v ← μv + g,  w ← w − αv                     (nesterov: w ← w − α(g + μv))
    adam       m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  w ← w − α/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)
    adamw      adam with w ← (1 − αλ)w before the step, and λ not in g (decoupled weight decay)
    adagrad    v ← v + g²,  w ← w − α g / (√v + ε)
    rmsprop    v ← β₂v + (1−β₂)g²,  w ← w − α g / (√v + ε)

with g the gradient of the risk (4.39): ∂L/∂W + λW for weights, ∂L/∂b for biases.

The state (m, v, and t) lives in :class:`OptimiserState`, arrays shaped like the parameters; a
network keeps it between fits (warm starts and ``partial_fit`` continue it), saves it in its model
file and rolls it back with the weights (early stopping's best epoch, a divergence).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Mapping, NoReturn, Optional, Tuple

import numpy as np

from .._memory import aligned_copy

#: Every update rule, by the name fit and the estimators take.
OPTIMISERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "adagrad", "rmsprop")

#: The state arrays each rule keeps: "first" (momentum's v, Adam's m), "second" (Σ or mean of g²).
STATE_ARRAYS: Dict[str, Tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("first",),
    "nesterov": ("first",),
    "adam": ("first", "second"),
    "adamw": ("first", "second"),
    "adagrad": ("second",),
    "rmsprop": ("second",),
}

#: The hyper-parameters each rule reads (the others are ignored, and not stored).
HYPER_PARAMETERS: Dict[str, Tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("momentum",),
    "nesterov": ("momentum",),
    "adam": ("beta_1", "beta_2", "epsilon"),
    "adamw": ("beta_1", "beta_2", "epsilon"),
    "adagrad": ("epsilon",),
    "rmsprop": ("beta_2", "epsilon"),
}


class OptimiserState:
    """An update rule's state: t, the updates applied so far, and its arrays shaped like the
    network's parameters (named ``"first.weights_1"``, ``"second.biases_2"``, …), all zero at
    the start. ``arrays`` also holds t as the 0-d int64 array ``"step"``, so that copying and
    restoring the arrays restores the whole state."""

    def __init__(self, name: str, parameters: Dict[str, np.ndarray]):
        if name not in OPTIMISERS:
            raise ValueError(f"unknown optimiser {name!r}; choose one of {OPTIMISERS}")
        self.name = name
        self.arrays: Dict[str, np.ndarray] = {"step": np.zeros((), dtype=np.int64)}
        for kind in STATE_ARRAYS[name]:
            for p, array in parameters.items():
                self.arrays[f"{kind}.{p}"] = aligned_copy(np.zeros_like(array))

    @property
    def step(self) -> int:
        return int(self.arrays["step"])

    def lists(self, parameter_names) -> Tuple[Optional[List[np.ndarray]], Optional[List[np.ndarray]]]:
        """The engine's `first` and `second` arguments: arrays in the parameters' order, or None."""
        first, second = ([self.arrays[f"{kind}.{p}"] for p in parameter_names] if kind in STATE_ARRAYS[self.name]
                         else None for kind in ("first", "second"))
        return first, second

    def metadata(self) -> dict:
        return {"name": self.name, "step": self.step}

    @classmethod
    def from_file(cls, metadata: dict, arrays: Mapping[str, np.ndarray], parameters: Dict[str, np.ndarray],
                  prefix: str, fail: Callable[[str], NoReturn]) -> "OptimiserState":
        """The state a model file holds (`fail(message)` raises the file's error)."""
        if not isinstance(metadata, dict) or metadata.get("name") not in OPTIMISERS:
            fail(f"unknown optimiser state {metadata!r}")
        step = metadata.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            fail(f"the optimiser's step count {step!r} is not a non-negative integer")
        state = cls(metadata["name"], parameters)
        state.arrays["step"][()] = step
        for name, target in state.arrays.items():
            if name == "step":
                continue
            array = arrays.get(prefix + "optimiser." + name)
            if array is None:
                fail(f"the optimiser's array {name} is missing")
            if array.shape != target.shape or array.dtype != target.dtype:
                fail(f"the optimiser's array {name} has shape {array.shape} and dtype {array.dtype}, "
                     f"expected {target.shape} and {target.dtype}")
            if not np.isfinite(array).all() or (name.startswith("second.") and (array < 0).any()):
                fail(f"the optimiser's array {name} holds invalid values")
            np.copyto(target, array)
        return state

    def file_arrays(self, prefix: str) -> Dict[str, np.ndarray]:
        return {prefix + "optimiser." + name: array for name, array in self.arrays.items() if name != "step"}
