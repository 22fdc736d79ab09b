"""The chapter's experiments, each one command: ``fnn experiment NAME`` (``--list`` lists them).

Every experiment is deterministic under its seed, runs in seconds on two cores, writes one PNG
and returns its key numbers, which the tests assert and ``docs/experiments.md`` discusses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Union

from . import (
    activations, autodiff_example, decision_boundaries, depth, dying_relu, loss_surface, numerical_differentiation,
    universal_approximation, vanishing_gradient, xor, zero_centred, zero_init,
)
from .base import Experiment, Result

#: Every experiment by name, in the chapter's order.
EXPERIMENTS: Dict[str, Experiment] = {
    e.name: e for e in (
        activations.EXPERIMENT, universal_approximation.EXPERIMENT, numerical_differentiation.EXPERIMENT,
        autodiff_example.EXPERIMENT, loss_surface.EXPERIMENT, vanishing_gradient.EXPERIMENT, xor.EXPERIMENT,
        zero_centred.EXPERIMENT, depth.EXPERIMENT, zero_init.EXPERIMENT, dying_relu.EXPERIMENT,
        decision_boundaries.EXPERIMENT,
    )
}


class ExperimentError(ValueError):
    """An unknown experiment or an output that cannot be written."""


def run_experiment(name: str, output: Union[str, Path, None] = None, seed: int = 0) -> Result:
    """Run experiment `name`, write its figure to `output` (default ``NAME.png``), return its result."""
    if name not in EXPERIMENTS:
        raise ExperimentError(f"unknown experiment {name!r}; choose one of: {', '.join(EXPERIMENTS)}")
    output = Path(output) if output is not None else Path(f"{name}.png")
    if output.parent and not output.parent.is_dir():
        raise ExperimentError(f"cannot write {output}: directory {output.parent} does not exist")
    return EXPERIMENTS[name].run(output, seed)


__all__ = ["EXPERIMENTS", "Experiment", "ExperimentError", "Result", "run_experiment"]
