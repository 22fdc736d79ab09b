"""Algorithm 4.1's training settings: their defaults and their checks, in one place.

`Network.fit`, the estimators, ``fnn.scale.distributed.fit``, ``fnn.scale.streaming.fit``, the TOML settings
of ``fnn train`` and both command lines take their defaults from the instances below and check
their values by constructing one :class:`TrainingSettings` (by name, :func:`settings_from`); that
object then travels unchanged to the one fit loop (``fnn.training.training_loop.fit_network`` and
``train``), so a default or a rule changes here and nowhere else.
"""

from __future__ import annotations

import math
import dataclasses
from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Optional

import numpy as np

from ..core.validation import check_positive_int, check_real
from .optimisers import OPTIMISERS
from .schedules import SCHEDULES


@dataclass(frozen=True)
class TrainingSettings:
    """The settings of one fit by Algorithm 4.1, checked when constructed.

    learning_rate: α > 0 of (4.42)-(4.45). l2: λ ≥ 0 of (4.39). batch_size: samples per update
    (1 is the chapter's per-sample SGD). max_epochs: passes over the training set at most.
    patience: epochs without improvement before early stopping (math.inf: never; the best epoch is
    still restored). validation_fraction: share held
    out for early stopping, in [0, 1). tol: the least improvement that counts.
    optimiser: the update rule (:mod:`fnn.training.optimisers`), with momentum μ ≥ 0 (momentum, nesterov),
    beta_1, beta_2 in [0, 1) (adam, adamw; beta_2 is rmsprop's ρ) and epsilon > 0.
    schedule: the learning rate's schedule (:mod:`fnn.training.schedules`), with power_t > 0 (invscaling),
    step_epochs and 0 < step_factor <= 1 (step). shuffle: draw a new order of the samples every
    epoch (False: their order in X). clip_norm: None, or the largest Euclidean norm of a step's
    gradient of the loss (all parameters together; larger ones are scaled down to it).
    stop_on_training_loss: without a validation set, stop after `patience` epochs that did not
    lower the training risk by more than `tol` (scikit-learn's rule when its early stopping is off).
    A bad value raises ValueError or TypeError naming the setting.
    """

    learning_rate: float = 0.01
    l2: float = 1e-4
    batch_size: int = 1
    max_epochs: int = 200
    patience: int = 10
    validation_fraction: float = 0.1
    tol: float = 0.0
    optimiser: str = "sgd"
    momentum: float = 0.9
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    schedule: str = "constant"
    power_t: float = 0.5
    step_epochs: int = 10
    step_factor: float = 0.5
    shuffle: bool = True
    clip_norm: Optional[float] = None
    stop_on_training_loss: bool = False

    def __post_init__(self) -> None:
        checked: Dict[str, Any] = {
            "learning_rate": check_real(self.learning_rate, "learning_rate", positive=True),
            "l2": check_real(self.l2, "l2", non_negative=True),
            "batch_size": check_positive_int(self.batch_size, "batch_size"),
            "max_epochs": check_positive_int(self.max_epochs, "max_epochs"),
            # math.inf (np.inf): never stop early, train max_epochs and keep the best epoch.
            "patience": math.inf if _is_inf(self.patience) else check_positive_int(self.patience, "patience"),
            "validation_fraction": check_real(self.validation_fraction, "validation_fraction", non_negative=True,
                                              below=1.0),
            "tol": check_real(self.tol, "tol", non_negative=True),
            "optimiser": _check_choice(self.optimiser, "optimiser", OPTIMISERS),
            "momentum": check_real(self.momentum, "momentum", non_negative=True),
            "beta_1": check_real(self.beta_1, "beta_1", non_negative=True, below=1.0),
            "beta_2": check_real(self.beta_2, "beta_2", non_negative=True, below=1.0),
            "epsilon": check_real(self.epsilon, "epsilon", positive=True),
            "schedule": _check_choice(self.schedule, "schedule", SCHEDULES),
            "power_t": check_real(self.power_t, "power_t", positive=True),
            "step_epochs": check_positive_int(self.step_epochs, "step_epochs"),
            "step_factor": check_real(self.step_factor, "step_factor", positive=True),
            "shuffle": _check_bool(self.shuffle, "shuffle"),
            "clip_norm": None if self.clip_norm is None else check_real(self.clip_norm, "clip_norm", positive=True),
            "stop_on_training_loss": _check_bool(self.stop_on_training_loss, "stop_on_training_loss"),
        }
        if checked["step_factor"] > 1:
            raise ValueError(f"step_factor must be <= 1, got {checked['step_factor']}")
        for name, value in checked.items():  # plain floats and ints from here on
            object.__setattr__(self, name, value)

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def replace(self, **changes) -> "TrainingSettings":
        """These settings with `changes`, checked again."""
        return dataclasses.replace(self, **changes)


#: The names of the settings, in their order.
SETTING_NAMES = tuple(f.name for f in dataclasses.fields(TrainingSettings))


def settings_from(values: Mapping[str, Any], **overrides) -> TrainingSettings:
    """The TrainingSettings named in `values` (e.g. a call's keyword arguments, or an estimator's
    parameters: other names are ignored, missing ones take the class's defaults), with `overrides`."""
    return TrainingSettings(**{**{name: values[name] for name in SETTING_NAMES if name in values}, **overrides})


def _check_choice(value, what: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")
    return value


def _check_bool(value, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be True or False, got {value!r}")
    return bool(value)


def _is_inf(value) -> bool:
    return isinstance(value, float) and value == math.inf


#: The estimators' `solver` (scikit-learn's name): "sgd" is SGD with `momentum` (Nesterov's with
#: `nesterovs_momentum`), plain SGD at momentum 0, as in scikit-learn; the others are optimisers.
SOLVERS = ("sgd", "adam", "adamw", "adagrad", "rmsprop")


def optimiser_of_solver(solver, momentum, nesterovs_momentum) -> str:
    """The optimiser (of Network.fit) that an estimator's solver, momentum and
    nesterovs_momentum name; a ValueError names a bad solver."""
    if solver == "lbfgs":
        raise ValueError("solver='lbfgs' is not available: fnn trains by gradient steps; choose one of "
                         + ", ".join(SOLVERS))
    if not isinstance(solver, str) or solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if solver != "sgd":
        return solver
    momentum = check_real(momentum, "momentum", non_negative=True)
    if momentum == 0:
        return "sgd"
    return "nesterov" if _check_bool(nesterovs_momentum, "nesterovs_momentum") else "momentum"


#: The estimators' batch_size="auto": per-sample steps (Algorithm 4.1 as the chapter writes it) for
#: up to 200 training rows, then about AUTO_BATCH_STEPS steps an epoch, at most AUTO_BATCH_MAX rows
#: a step (scikit-learn's min(200, n)). Per-sample Adam on 54,000 Fashion-MNIST rows ran at 0.19×
#: the speed of batches of 200 and stopped noisier (0.850 test accuracy against 0.888); on the
#: small tables of `python -m bench.tabular` per-sample steps were as good or better (iris: 0.99
#: at batch 1, 0.84 at batch 32).
AUTO_BATCH_STEPS = 100
AUTO_BATCH_MAX = 200


def auto_batch_size(training_rows: int, bfloat16: bool = False) -> int:
    """The batch size "auto" picks for this many training rows (at least 32 rows, or all of them,
    for bfloat16 products, which need mini-batches)."""
    batch = min(AUTO_BATCH_MAX, max(1, int(training_rows) // AUTO_BATCH_STEPS))
    return max(batch, min(32, max(2, int(training_rows)))) if bfloat16 else batch


def check_batch_size(value):
    """A batch size: a positive int, or "auto"."""
    if isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, str):
        raise ValueError(f"batch_size must be a positive integer or 'auto', got {value!r}")
    return check_positive_int(value, "batch_size")


#: Network.fit: the chapter's risk without a regularisation term, and a shorter run.
NETWORK_FIT = TrainingSettings(l2=0.0, max_epochs=100)
#: FNNClassifier, FNNRegressor and ``fnn train``: Adam at scikit-learn's α = 0.001, which
#: `python -m bench.defaults` measured better than per-sample SGD on four of the five real data
#: sets and equal on the fifth (see docs/guide/estimators.md). Their batch size is ESTIMATOR_BATCH_SIZE
#: (ESTIMATOR.batch_size is what "auto" gives on up to 200 rows); the regressor's L2 is
#: REGRESSOR_L2.
ESTIMATOR = TrainingSettings(optimiser="adam", learning_rate=0.001)
#: The estimators' batch size (see auto_batch_size).
ESTIMATOR_BATCH_SIZE = "auto"
#: FNNRegressor's λ, chosen on the regression tables of `python -m bench.tabular` that were not
#: held out (a few hundred to a few thousand noisy rows, text columns), mean test R² over 5 splits:
#: at λ = 1e-4 the network fitted the noise (CPS1985 wages 0.26, Carseats 0.78); λ = 0.01 gave
#: CPS1985 0.30 against scikit-learn's 0.34, λ = 0.03 SLID 0.354 against 0.376; λ = 0.025 is
#: within 0.02 of scikit-learn's MLP on every one (CPS1985 0.323, SLID 0.356). The classifier
#: keeps 1e-4 (λ = 0.01 cost digits 0.015 of accuracy).
REGRESSOR_L2 = 0.025
#: The estimators' solver, naming ESTIMATOR's optimiser (with ESTIMATOR's momentum for "sgd").
ESTIMATOR_SOLVER = "adam"
#: The main job (bare ``fnn``): per-sample SGD on digits, tuned for it.
MAIN_JOB = TrainingSettings(learning_rate=0.02, l2=1e-5, patience=20)
