"""One page's playground: its settings, data, network and training so far.

The server keeps one :class:`Session` per open page and calls it from its request threads; a
session's lock makes those calls take turns. Everything a call returns is plain JSON data.
"""

from __future__ import annotations

import math
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..chapter.gradient_check import check_gradients
from ..core.activations import ELU, ActivationLike, LeakyReLU, Maxout, PReLU
from ..network import Network, TrainingDiverged
from ..training.optimisers import OPTIMISERS
from . import chapter_panel
from .data import (
    DOMAIN, FEATURES, GENERATORS, DataSet, PlaygroundDataError, check_features, features_of, make_data, read_upload,
    split,
)
from .layers import layer_values

#: The chapter's hidden-layer activations, by the names the page shows.
ACTIVATIONS: Dict[str, ActivationLike] = {
    "logistic": "logistic", "tanh": "tanh", "hard_logistic": "hard_logistic", "hard_tanh": "hard_tanh",
    "relu": "relu", "leaky_relu": LeakyReLU(0.01), "prelu": PReLU(0.25), "elu": ELU(1.0), "softplus": "softplus",
    "maxout": Maxout(2), "identity": "identity",
}
#: Limits that keep every update quick and every picture readable; larger asks are refused.
MAX_WIDTH = 32
MAX_HIDDEN_LAYERS = 6
MAX_POINTS = 2000
#: Side of the grid (in points) on which the decision surface, and every neuron's map, are drawn.
SURFACE_GRID = 48
NEURON_GRID = 24
#: The settings that make the data and the network; the others only steer training.
_STRUCTURE = ("data", "noise", "train_fraction", "points", "seed", "features", "widths", "activations", "output")
#: Training rows used by the gradient check: it costs two passes over them per parameter.
GRADIENT_CHECK_ROWS = 20


class PlaygroundError(ValueError):
    """Settings or a request the playground refuses; the message is shown on the page."""


@dataclass
class Settings:
    """What the page's controls set (the defaults are the page's first view)."""

    data: str = "circle"
    noise: float = 0.0
    train_fraction: float = 0.5
    points: int = 500
    seed: int = 0
    features: List[str] = field(default_factory=lambda: ["x1", "x2"])
    widths: List[int] = field(default_factory=lambda: [8, 8])
    activations: List[str] = field(default_factory=lambda: ["tanh", "tanh"])
    output: str = "logistic"
    optimiser: str = "sgd"
    learning_rate: float = 0.03
    batch_size: int = 10
    l2: float = 0.0

    @classmethod
    def from_json(cls, values: Dict, uploaded: bool) -> "Settings":
        """Settings from the page's JSON, every field checked; a PlaygroundError names the first wrong one."""
        if not isinstance(values, dict):
            raise PlaygroundError("the settings must be a JSON object")
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise PlaygroundError(f"unknown settings {sorted(unknown)}")
        s = cls(**values)
        s._check_names(uploaded)
        s.noise = _number(s.noise, "noise", 0.0, 0.5)
        s.train_fraction = _number(s.train_fraction, "train_fraction", 0.1, 0.9)
        s.points = int(_number(s.points, "points", 20, MAX_POINTS))
        s.seed = int(_number(s.seed, "seed", 0, 2**31 - 1))
        s.widths = _widths(s.widths, len(s.activations))
        s.learning_rate = _number(s.learning_rate, "learning_rate", 1e-6, 1e3)
        s.batch_size = int(_number(s.batch_size, "batch_size", 1, MAX_POINTS))
        s.l2 = _number(s.l2, "l2", 0.0, 10.0)
        return s

    def _check_names(self, uploaded: bool) -> None:
        """The named choices: data set, features, activations, output, optimiser."""
        for name in ("data", "output", "optimiser"):
            if not isinstance(getattr(self, name), str):
                raise PlaygroundError(f"{name} must be a name, got {getattr(self, name)!r}")
        for name in ("features", "activations"):
            if not isinstance(getattr(self, name), list) or not all(isinstance(v, str) for v in getattr(self, name)):
                raise PlaygroundError(f"{name} must be a list of names, got {getattr(self, name)!r}")
        if self.data not in GENERATORS and not (uploaded and self.data == "upload"):
            raise PlaygroundError(f"unknown data set {self.data!r}")
        try:
            self.features = check_features(self.features)
        except PlaygroundDataError as error:
            raise PlaygroundError(str(error)) from None
        for i, name in enumerate(self.activations):
            if name not in ACTIVATIONS:
                raise PlaygroundError(f"hidden layer {i + 1}: unknown activation {name!r}; choose one of "
                                      f"{', '.join(ACTIVATIONS)}")
        if self.output not in ("logistic", "softmax", "identity"):
            raise PlaygroundError(f"unknown output {self.output!r}; choose logistic, softmax or identity")
        if self.optimiser not in OPTIMISERS:
            raise PlaygroundError(f"unknown optimiser {self.optimiser!r}; choose one of {', '.join(OPTIMISERS)}")


def _widths(widths, layers: int) -> List[int]:
    """The hidden layers' widths, one per activation, each a whole number within the drawable."""
    if not isinstance(widths, list) or len(widths) != layers:
        raise PlaygroundError("widths and activations must be lists of the same length, one per hidden layer")
    if len(widths) > MAX_HIDDEN_LAYERS:
        raise PlaygroundError(f"{len(widths)} hidden layers: the playground draws up to {MAX_HIDDEN_LAYERS}")
    for i, width in enumerate(widths):
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width) \
                or width != int(width) or width < 1:
            raise PlaygroundError(f"hidden layer {i + 1} has width {width!r}; a width is a whole number ≥ 1")
        if width > MAX_WIDTH:
            raise PlaygroundError(f"hidden layer {i + 1} has {int(width):,} neurons: the playground draws up to "
                                  f"{MAX_WIDTH} per layer (train larger networks with fnn.Network)")
    return [int(width) for width in widths]


def _number(value, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PlaygroundError(f"{name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise PlaygroundError(f"{name} must lie in [{low:g}, {high:g}], got {value:g}")
    return float(value)


def _grid(side: int) -> np.ndarray:
    """Points of a side × side grid over the plot, row by row from the top (x₂ = +6) down."""
    axis = np.linspace(-DOMAIN, DOMAIN, side)
    x1, x2 = np.meshgrid(axis, axis[::-1])
    return np.column_stack([x1.ravel(), x2.ravel()])


def _rounded(values: np.ndarray, digits: int = 4) -> list:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


class Session:
    """A playground: data, network and training so far, changed only through its methods."""

    settings: Settings
    data: DataSet
    network: Network

    def __init__(self):
        self.lock = threading.Lock()
        self.uploaded: Optional[DataSet] = None
        self.configure({})

    # ------------------------------------------------------------------ settings and data

    def configure(self, values: Dict, reset: bool = True) -> Dict:
        """New settings (the previous ones stay if these are refused). New data and a new network,
        unless `reset` is False and only the training settings changed (learning rate, optimiser,
        batch size, L2): training then goes on from the current weights, as on the page."""
        settings = Settings.from_json(values, self.uploaded is not None)
        if not reset and all(getattr(settings, name) == getattr(self.settings, name) for name in _STRUCTURE):
            self.settings = settings
            return self.state()
        if settings.data == "upload" and self.uploaded is not None:  # from_json refuses "upload" without one
            data = self.uploaded
        else:
            data = make_data(settings.data, settings.points, settings.noise, settings.seed)
        if data.classification and settings.output == "identity":
            settings.output = "logistic"
        if not data.classification and settings.output != "identity":
            settings.output = "identity"
        widths = [len(settings.features), *settings.widths, 2 if settings.output == "softmax" else 1]
        network = Network(widths, [ACTIVATIONS[name] for name in settings.activations], settings.output,
                          seed=settings.seed, n_threads=1)
        self.settings, self.data, self.network = settings, data, network
        self.train, self.test = split(data, settings.train_fraction, settings.seed)
        self.train_inputs = features_of(self.train.X, settings.features)
        self.test_inputs = features_of(self.test.X, settings.features)
        self.epoch, self.updates = 0, 0
        self.losses: Dict[str, List[float]] = {"train": [], "test": []}
        self.order = np.random.default_rng(settings.seed + 2).permutation(self.train.X.shape[0])
        self.cursor = 0  # the next sample of Algorithm 4.1's pass, for step_sample
        self._record_losses()
        return self.state(points=True)

    def upload(self, text: str) -> Dict:
        """Use the points of an uploaded CSV (x1, x2, target) from now on."""
        try:
            data = read_upload(text)
        except PlaygroundDataError as error:
            raise PlaygroundError(f"cannot use this file: {error}") from None
        previous, self.uploaded = self.uploaded, data
        values = {**self.settings.__dict__, "data": "upload",
                  "output": "logistic" if data.classification else "identity"}
        try:
            return self.configure(values)
        except PlaygroundError:
            self.uploaded = previous
            raise

    def _targets(self, part: DataSet) -> np.ndarray:
        return part.y.astype(np.int64) if self.settings.output == "softmax" else part.y

    def _record_losses(self) -> None:
        for name, inputs, part in (("train", self.train_inputs, self.train), ("test", self.test_inputs, self.test)):
            self.losses[name].append(float(self.network.risk(inputs, self._targets(part))))

    # ------------------------------------------------------------------ training

    def step_epochs(self, epochs: int = 1) -> Dict:
        """Train `epochs` passes of Algorithm 4.1 over the training points (shuffled each time)."""
        epochs = int(_number(epochs, "epochs", 1, 100))
        s = self.settings
        for _ in range(epochs):
            try:
                self.network.fit(self.train_inputs, self._targets(self.train), learning_rate=s.learning_rate, l2=s.l2,
                                 batch_size=s.batch_size, max_epochs=1, validation_fraction=0.0,
                                 optimiser=s.optimiser)
            except TrainingDiverged as error:
                return self.state(message=f"Training diverged: {error}", diverged=True)
            self.epoch += 1
            self.updates += math.ceil(self.train.X.shape[0] / s.batch_size)
            self.cursor = 0
            self._record_losses()
        return self.state()

    def step_sample(self) -> Dict:
        """One pass of Algorithm 4.1's inner loop (lines 5-11) on the next training sample, with
        every quantity it computes: z⁽ˡ⁾, a⁽ˡ⁾, δ⁽ˡ⁾ (4.59), and the gradients (4.61)-(4.62)."""
        s = self.settings
        n = int(self.order[self.cursor])
        x, target = self.train_inputs[n:n + 1], self._targets(self.train)[n:n + 1]
        values = layer_values(self.network, x)
        # L and ∂L/∂W of (4.38), (4.61) as the panel names them: λW enters only the update (line 10)
        loss, gradients = self.network.loss_and_gradients(x, target, l2=0.0)
        layers: List[Dict[str, Any]] = []
        trace = {"sample": n, "x": _rounded(self.train.X[n]), "input": _rounded(x[0]), "target": float(target[0]),
                 "loss": float(loss), "layers": layers}
        for l, (z, a) in enumerate(values, start=1):
            bias_gradient = gradients[f"biases_{l}"]
            delta = bias_gradient.sum(axis=-1) if bias_gradient.ndim == 2 else bias_gradient  # (4.62): ∂L/∂b = δ
            layers.append({"z": _rounded(z[0].max(axis=-1) if z.ndim == 3 else z[0]), "a": _rounded(a[0]),
                           "delta": _rounded(delta, 6),
                           "weight_gradient_norm": float(np.linalg.norm(gradients[f"weights_{l}"]))})
        try:
            self.network.fit(x, target, learning_rate=s.learning_rate, l2=s.l2, batch_size=1, max_epochs=1,
                             validation_fraction=0.0, shuffle=False, optimiser=s.optimiser)
        except TrainingDiverged as error:
            return self.state(message=f"Training diverged on sample {n}: {error}", diverged=True, trace=trace)
        self.updates += 1
        self.cursor += 1
        if self.cursor == self.order.size:  # the epoch's pass is complete (line 12)
            self.cursor, self.epoch = 0, self.epoch + 1
            self.order = np.random.default_rng(self.settings.seed + 2 + self.epoch).permutation(self.order.size)
            self._record_losses()
        return self.state(trace=trace)

    def gradient_check(self) -> Dict:
        """Section 4.5.1's check on the current weights: backpropagation against central differences."""
        rows = slice(0, min(GRADIENT_CHECK_ROWS, self.train.X.shape[0]))
        errors = check_gradients(self.network, self.train_inputs[rows], self._targets(self.train)[rows],
                                 l2=self.settings.l2)
        worst = max(errors.values())
        return {"rows": rows.stop, "errors": errors, "worst": worst, "agrees": worst < 1e-4}

    def model_file(self) -> bytes:
        """The network as an fnn model file (``fnn.load`` reads it back)."""
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "playground.npz"
            self.network.save(path)
            return path.read_bytes()

    # ------------------------------------------------------------------ what the page draws

    def state(self, *, points: bool = False, message: str = "", diverged: bool = False,
              trace: Optional[Dict] = None) -> Dict:
        """Everything the page draws: the decision surface, every neuron's map, the weights, the losses."""
        s = self.settings
        surface_points = _grid(SURFACE_GRID)
        try:
            out = self.network.forward(features_of(surface_points, s.features))
        except FloatingPointError as error:
            return {"error": f"{error}", "diverged": True, "epoch": self.epoch}
        surface = out[:, 1] if s.output == "softmax" else out[:, 0]
        neuron_points = features_of(_grid(NEURON_GRID), s.features)
        maps = [[_rounded(neuron_points[:, j], 3) for j in range(neuron_points.shape[1])]]
        for _, a in layer_values(self.network, neuron_points):
            maps.append([_rounded(a[:, i], 3) for i in range(a.shape[1])])
        parameters = self.network.parameters()
        weights = []
        for l in range(1, self.network.n_layers + 1):
            W = parameters[f"weights_{l}"]
            weights.append(_rounded(W.mean(axis=1) if W.ndim == 3 else W))  # maxout: the mean of its K pieces
        state = {
            "epoch": self.epoch, "updates": self.updates, "cursor": self.cursor,
            "losses": self.losses, "surface": _rounded(surface, 3), "surface_grid": SURFACE_GRID,
            "neuron_grid": NEURON_GRID, "maps": maps, "weights": weights,
            "widths": self.network.widths, "classification": self.data.classification,
            "settings": s.__dict__, "chapter": chapter_panel.equations(self.network, s.optimiser, s.l2),
            "accuracy": self._accuracy(), "message": message, "diverged": diverged,
        }
        if points:
            state["points"] = {"train": self._points(self.train), "test": self._points(self.test)}
        if trace is not None:
            state["trace"] = trace
        return state

    def _accuracy(self) -> Optional[Dict[str, float]]:
        if not self.data.classification:
            return None
        return {name: float(self.network.score(inputs, self._targets(part)))
                for name, inputs, part in (("train", self.train_inputs, self.train),
                                           ("test", self.test_inputs, self.test))}

    @staticmethod
    def _points(part: DataSet) -> List[Sequence[float]]:
        return np.round(np.column_stack([part.X, part.y]), 4).tolist()


#: What the page offers, sent once with the first view.
def choices() -> Dict:
    return {"data": {name: label for name, (_, _, label) in GENERATORS.items()},
            "features": {name: label for name, (label, _) in FEATURES.items()},
            "activations": list(ACTIVATIONS), "optimisers": list(OPTIMISERS),
            "limits": {"width": MAX_WIDTH, "hidden_layers": MAX_HIDDEN_LAYERS, "points": MAX_POINTS}}
