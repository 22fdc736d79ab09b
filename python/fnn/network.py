"""The feedforward network of section 4.3: its parameters, forward pass, risk and gradients, model
files, and ``fit`` (Algorithm 4.1, whose loop is in :mod:`fnn.training.training_loop`)."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _bfloat16
from ._engine import core as _core
from ._memory import aligned_copy
from .core.activations import (
    Activation, ActivationLike, Identity, PReLU, activation_from_dict, activation_to_dict, resolve_activation,
)
from .core.cpus import available_cpus, clamp_threads
from .core.history import History
from .core.initialisation import SCHEMES, initial_weights
from .core.locking import serialised
from .core.outputs import OUTPUT_LAYERS, OutputLayer, output_layer
from .core.validation import (
    check_features, check_positive_int, check_real, check_sample_weight,
)
from .io.model_file import ModelFileError, PathLike, register, require, write_model
from .training.optimisers import OptimiserState
from .training.settings import NETWORK_FIT, settings_from
from .training.training_loop import EVALUATION_CHUNK, fit_network
from .training.training_loop import TrainingDiverged as TrainingDiverged  # raised by fit, and imported from here

OUTPUTS = tuple(OUTPUT_LAYERS)
_CHUNK = EVALUATION_CHUNK
#: Work (rows × parameters) below which the engine's evaluation runs on one thread (training.hpp,
#: for_each_chunk: n · parameter_count / 2²⁰ threads at most).
_ONE_THREAD_WORK = 1 << 20


def engine_for(core, network: "Network"):
    """An engine of the compiled module `core` viewing `network`'s parameter arrays: one LayerSpec
    per layer, with the module's own Activation and Output enums."""
    layers = []
    for l in range(1, network.n_layers + 1):
        f = network.layer_activation(l)
        p = network._parameters
        layers.append(core.LayerSpec(activation=getattr(core.Activation, f.name), gamma=f.gamma, pieces=f.pieces,
                                     weights=p[f"weights_{l}"], biases=p[f"biases_{l}"], slopes=p.get(f"slopes_{l}")))
    engine_class = core.Engine32 if network.dtype == np.float32 else core.Engine64
    return engine_class(layers, getattr(core.Output, network.output))


def default_threads() -> int:
    """The number of CPUs this process may run on: its affinity mask, capped by a container's
    CPU quota (see :mod:`fnn.core.cpus`)."""
    return available_cpus()


class Network:
    """A feedforward neural network φ(x; W, b) (4.32), trained by backpropagation and SGD.

    Parameters
    ----------
    widths : sequence of int
        m⁽⁰⁾, m⁽¹⁾, …, m⁽ᴸ⁾: the number of inputs, then the number of neurons of each layer up
        to the output layer. ``[64, 32, 10]`` is a network with L = 2 layers: one hidden layer
        of 32 neurons and an output layer of 10.
    activations : str, Activation, or sequence of them, default "relu"
        f_l of each hidden layer l = 1 … L−1 (4.29): one for all, or one per hidden layer.
        Names: ``"logistic"``, ``"tanh"``, ``"hard_logistic"``, ``"hard_tanh"``, ``"relu"``,
        ``"leaky_relu"``, ``"prelu"``, ``"elu"``, ``"softplus"``, ``"maxout"``, ``"identity"``;
        instances such as ``fnn.LeakyReLU(gamma=0.1)`` set hyper-parameters.
    output : {"softmax", "logistic", "identity"}, default "softmax"
        The output layer and its loss: softmax + cross-entropy for C = m⁽ᴸ⁾ ≥ 2 classes
        (4.37)-(4.38); logistic units + binary cross-entropy (4.36), one unit for two classes or
        one per label for multi-label data; identity + squared error ½‖y − ŷ‖² for regression.
    init : {"auto", "glorot", "he", "zeros"}, default "auto"
        Random initialisation of the weights; "auto" picks Glorot for sigmoid-type layers and
        He for rectifier-type layers; "zeros" is exercise 4-5's symmetric start. Biases start at 0.
    dtype : {"float32", "float64", "bfloat16"}, default "float32"
        Precision of the parameters and of all arithmetic. ``"bfloat16"``: float32 parameters
        (``dtype`` then reads float32 and ``bfloat16`` True), whose matrix products in mini-batch
        training and in prediction run on bfloat16 copies of the weights, activations and δ with
        float32 accumulation, about twice as fast on CPUs with AVX512-BF16 or AMX; activations,
        losses and updates stay float32. Needs ``pip install 'fnn[bfloat16]'`` (oneDNN) and such a
        CPU (else an error names what is missing), and ``batch_size`` ≥ 2.
    seed : int or None
        Seeds the initialisation, the validation split and the shuffling of every epoch: the same
        seed and the same ``n_threads`` give the same weights, bit for bit.
    n_threads : int or None
        Threads of the C++ engine; None uses every CPU available to the process (its affinity
        mask and container quota, within OpenMP's limit). More than that is lowered to it with
        a :class:`fnn.ThreadCountWarning`. The work is cut for this many threads; on a busy
        machine, or when OpenMP starts fewer, fewer threads do it, with the same result.

    Notes
    -----
    The parameters live in NumPy arrays returned by :meth:`parameters`; the C++ engine reads and
    updates them in place. Calls from several threads on one network are serialised (one waits
    for the other): fit, predict, save, parameters and set_parameters hold the network's lock.
    Layer l (1-based, as in the chapter) has ``weights_l`` W⁽ˡ⁾ of shape (m⁽ˡ⁾, m⁽ˡ⁻¹⁾) and
    ``biases_l`` b⁽ˡ⁾ of shape (m⁽ˡ⁾,); a maxout layer with K pieces has weights (m⁽ˡ⁾, K, m⁽ˡ⁻¹⁾)
    and biases (m⁽ˡ⁾, K); a PReLU layer adds ``slopes_l``.
    """

    def __init__(self, widths: Sequence[int], activations: Union[ActivationLike, Sequence[ActivationLike]] = "relu",
                 output: str = "softmax", *, init: str = "auto", dtype="float32", seed: Optional[int] = None,
                 n_threads: Optional[int] = None):
        if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__"):
            raise TypeError(f"widths must be a sequence of layer widths such as [64, 32, 10], got {widths!r}")
        widths = [check_positive_int(m, f"widths[{i}]") for i, m in enumerate(widths)]
        if len(widths) < 2:
            raise ValueError(f"widths needs at least the input and output widths, got {widths}")
        n_hidden = len(widths) - 2
        if isinstance(activations, (str, Activation)):
            hidden = [resolve_activation(activations)] * n_hidden
        else:
            hidden = [resolve_activation(a) for a in activations]
            if len(hidden) != n_hidden:
                raise ValueError(f"{len(hidden)} activations given for {n_hidden} hidden layers (widths {widths})")
        if not isinstance(output, str) or output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; choose one of {OUTPUTS}")
        if output == "softmax" and widths[-1] < 2:
            raise ValueError("a softmax output needs at least 2 classes; use output='logistic' for one unit")
        if init not in SCHEMES:
            raise ValueError(f"unknown init {init!r}; choose one of {SCHEMES}")
        bfloat16 = isinstance(dtype, str) and dtype == "bfloat16"
        if bfloat16:
            _bfloat16.check_available()
            dtype = np.float32
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise ValueError(f"dtype must be float32, float64 or bfloat16, got {dtype!r}") from None
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32, float64 or bfloat16, got {dtype}")
        if n_threads is not None:
            n_threads = clamp_threads(check_positive_int(n_threads, "n_threads"))
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer or None, got {seed!r}")

        self.widths: List[int] = widths
        self.activations: List[Activation] = hidden
        self.output = output
        self.output_layer: OutputLayer = output_layer(output)
        self.init = init
        self.dtype = dtype  # of the parameters (float32 for bfloat16 products)
        #: Whether the matrix products run on bfloat16 copies (``dtype="bfloat16"``).
        self.bfloat16 = bfloat16
        self.seed = seed
        self.n_threads = n_threads
        self.history_: Optional[History] = None
        self.training_settings_: Dict[str, object] = {}
        self._rng = np.random.default_rng(seed)
        self._parameters: Dict[str, np.ndarray] = {}
        self._optimiser_state: Optional[OptimiserState] = None  # kept between fits; see fnn.training.optimisers
        self._engine = None
        self._initialise()

    # ------------------------------------------------------------------ structure

    @property
    def n_layers(self) -> int:
        """L, the number of layers with parameters (hidden layers and the output layer)."""
        return len(self.widths) - 1

    @property
    def n_parameters(self) -> int:
        """The number of trainable scalars."""
        return self._n_parameters

    def layer_activation(self, l: int) -> Activation:
        """f_l of layer l (1-based); the output layer's is the identity before softmax/logistic."""
        return self.activations[l - 1] if l < self.n_layers else Identity()

    @serialised
    def parameters(self) -> Dict[str, np.ndarray]:
        """The trainable arrays by name, in layer order: ``weights_l``, ``biases_l`` (and ``slopes_l``).

        These are the live arrays the C++ engine updates in place: no copy is made. Assign into
        them (``p["weights_1"][...] = W``) to set parameters between fits, or use
        :meth:`set_parameters`, which waits for a fit running in another thread; rebinding a
        dictionary entry has no effect on the network. Called while another thread fits, this
        waits until that fit has finished.
        """
        return dict(self._parameters)

    @serialised
    def set_parameters(self, values: Dict[str, object]) -> None:
        """Copy `values` (name → array, a subset of :meth:`parameters`) into the network.

        Every array is checked first (known name, shape, finite values), so a rejected call
        changes nothing; waits for a fit running in another thread.
        """
        checked = {}
        for name, value in values.items():
            if name not in self._parameters:
                raise KeyError(f"unknown parameter {name!r}; the network has {list(self._parameters)}")
            target = self._parameters[name]
            array = np.asarray(value)
            if array.shape != target.shape:
                raise ValueError(f"{name} must have shape {target.shape}, got {array.shape}")
            array = array.astype(self.dtype, copy=False)
            if not np.isfinite(array).all():
                raise ValueError(f"{name} contains NaN or infinity (in {self.dtype.name})")
            checked[name] = array
        for name, array in checked.items():
            np.copyto(self._parameters[name], array)

    @serialised
    def reset_parameters(self, seed: Optional[int] = None) -> None:
        """Draw new initial parameters (in place), from `seed` or the network's generator."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._initialise()
        self._optimiser_state = None

    def _initialise(self) -> None:
        fresh: Dict[str, np.ndarray] = {}
        for l in range(1, self.n_layers + 1):
            f = self.layer_activation(l)
            fan_in, units = self.widths[l - 1], self.widths[l]
            scheme = self.init if self.init != "auto" else f.init_family
            shape = (units, f.pieces, fan_in) if f.pieces > 1 else (units, fan_in)
            fresh[f"weights_{l}"] = initial_weights(self._rng, shape, fan_in, units, scheme, self.dtype)
            fresh[f"biases_{l}"] = np.zeros(shape[:-1], dtype=self.dtype)
            if isinstance(f, PReLU):
                fresh[f"slopes_{l}"] = np.full(1 if f.shared else units, f.init, dtype=self.dtype)
        if self._parameters:  # keep the same arrays alive: users and the engine hold them
            for name, array in fresh.items():
                np.copyto(self._parameters[name], array)
        else:
            self._parameters = {name: aligned_copy(array) for name, array in fresh.items()}
        # (shapes never change after this: every prediction reads the count, so it is counted once)
        self._n_parameters = int(sum(p.size for p in self._parameters.values()))

    def _optimiser_state_for(self, name: str) -> Optional[OptimiserState]:
        """The state of optimiser `name`: the one kept from the last fit if it used the same rule
        (a fit continues it), else a fresh one; None for plain SGD, which keeps none."""
        if name == "sgd":
            self._optimiser_state = None
        elif self._optimiser_state is None or self._optimiser_state.name != name:
            self._optimiser_state = OptimiserState(name, self._parameters)
        return self._optimiser_state

    def _core(self):
        """The C++ engine viewing this network's parameter arrays (built once)."""
        if self._engine is None:
            engine = engine_for(_core, self)
            if self.bfloat16:
                _bfloat16.enable(engine)
            self._engine = engine
        return self._engine

    def _threads(self) -> int:
        """The threads to cut work for: `n_threads`, or every available CPU within OpenMP's limit
        (OMP_THREAD_LIMIT, threadpoolctl; 1 in a child forked after a fit). An explicit
        `n_threads` is kept, so the weights stay those of that many threads: the engine then runs
        the work on the threads OpenMP does start."""
        return self.n_threads or max(1, min(default_threads(), _core.openmp_thread_limit()))

    @serialised
    def astype(self, dtype) -> "Network":
        """A copy of this network with parameters in `dtype` (e.g. float64 for gradient checks; "float32"
        turns bfloat16 products off, "bfloat16" on), and a copy of its random generator: the copy
        shuffles the samples of its next fit as this network would."""
        twin = Network(self.widths, self.activations, self.output, init="zeros", dtype=dtype,
                       n_threads=self.n_threads)
        for name, array in self._parameters.items():
            np.copyto(twin._parameters[name], array, casting="unsafe")
        twin.seed = self.seed
        twin._rng.bit_generator.state = self._rng.bit_generator.state
        return twin

    def __repr__(self) -> str:
        acts = ", ".join(repr(a) for a in self.activations)
        return (f"Network(widths={self.widths}, activations=[{acts}], output={self.output!r}, "
                f"dtype={self.dtype_name!r}, parameters={self.n_parameters})")

    @property
    def dtype_name(self) -> str:
        """The ``dtype`` the network was made with: "float32", "float64" or "bfloat16"."""
        return "bfloat16" if self.bfloat16 else self.dtype.name

    # ------------------------------------------------------------------ model files

    @serialised
    def save(self, path: PathLike) -> None:
        """Write this network to a model file (see :func:`fnn.load`), atomically.

        The file holds the architecture, the parameters, the random generator's state, the last
        fit's settings and history: a loaded network predicts bit for bit the same, and goes on
        training exactly as this one would. Called while another thread fits, this waits until
        that fit has finished, so the file holds weights the network really had.
        """
        metadata, arrays = self._file_contents()
        write_model(path, "Network", {"network": metadata}, arrays)

    def _file_contents(self, prefix: str = "") -> Tuple[dict, Dict[str, np.ndarray]]:
        """JSON-able description and the arrays (names prefixed) of this network."""
        metadata = {
            "widths": self.widths,
            "activations": [activation_to_dict(f) for f in self.activations],
            "output": self.output,
            "init": self.init,
            "dtype": self.dtype_name,
            "seed": None if self.seed is None else int(self.seed),
            "n_threads": self.n_threads,
            "n_parameters": self.n_parameters,
            "parameters": [prefix + name for name in self._parameters],
            "random_state": self._rng.bit_generator.state,
            "training_settings": self.training_settings_,
            "history": None,
            "optimiser": None if self._optimiser_state is None else self._optimiser_state.metadata(),
        }
        arrays = {prefix + name: array for name, array in self._parameters.items()}
        if self.history_ is not None:
            metadata["history"], curves = self.history_.to_file(prefix + "history/")
            arrays.update(curves)
        if self._optimiser_state is not None:
            arrays.update(self._optimiser_state.file_arrays(prefix))
        return metadata, arrays

    @classmethod
    def _from_file_contents(cls, path, metadata: Any, arrays: Mapping[str, np.ndarray], prefix: str = "") -> "Network":
        """The network a model file describes. Everything is checked against the arrays the file
        really holds before the network (and its parameter arrays) is made."""
        require(isinstance(metadata, dict), path, "the network's description is not a mapping")
        # (Any: the checks below, not the annotations, establish what each value is.)
        widths: Any = metadata.get("widths")
        require(isinstance(widths, list) and len(widths) >= 2
                and all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths), path,
                f"widths must be a list of at least 2 positive integers, got {widths!r}")
        specs: Any = metadata.get("activations")
        require(isinstance(specs, list) and len(specs) == len(widths) - 2 and all(isinstance(a, dict) for a in specs),
                path, f"activations must be {len(widths) - 2} activation descriptions")
        activations = [activation_from_dict(a) for a in specs]
        require(metadata.get("dtype") in ("float32", "float64", "bfloat16"), path,
                f"unknown dtype {metadata.get('dtype')!r}")
        dtype = np.dtype(np.float32 if metadata["dtype"] == "bfloat16" else metadata["dtype"])
        expected: Dict[str, Tuple[int, ...]] = {}
        for l in range(1, len(widths)):
            f = activations[l - 1] if l < len(widths) - 1 else Identity()
            units, fan_in = widths[l], widths[l - 1]
            expected[f"weights_{l}"] = (units, f.pieces, fan_in) if f.pieces > 1 else (units, fan_in)
            expected[f"biases_{l}"] = (units, f.pieces) if f.pieces > 1 else (units,)
            if isinstance(f, PReLU):
                expected[f"slopes_{l}"] = (1,) if f.shared else (units,)
        names = [prefix + name for name in expected]
        require(metadata.get("parameters") == names, path,
                f"its parameter list {metadata.get('parameters')} does not match the architecture's {names}")
        for name, shape in expected.items():
            array: Any = arrays.get(prefix + name)
            require(array is not None, path, f"the array {prefix + name} is missing")
            require(array.shape == shape and array.dtype == dtype, path,
                    f"{prefix + name} has shape {array.shape} and dtype {array.dtype}, expected {shape} and {dtype}")
            require(bool(np.isfinite(array).all()), path, f"{prefix + name} holds NaN or infinite values")
        for key in ("training_settings", "history"):
            require(metadata.get(key) is None or isinstance(metadata[key], dict), path, f"{key} is not a mapping")
        net = cls(widths, activations, metadata.get("output"), init=metadata.get("init"), dtype=metadata["dtype"],
                  seed=metadata.get("seed"), n_threads=metadata.get("n_threads"))
        for name, target in net._parameters.items():
            np.copyto(target, arrays[prefix + name])
        try:
            net._rng.bit_generator.state = metadata["random_state"]
        except (KeyError, TypeError, ValueError, OverflowError) as error:
            raise ModelFileError(f"{path}: the random generator's state is invalid ({error})") from None
        if metadata.get("optimiser") is not None:
            def fail(message):
                raise ModelFileError(f"{path}: {message}")
            net._optimiser_state = OptimiserState.from_file(metadata["optimiser"], arrays, net._parameters, prefix,
                                                            fail)
        net.training_settings_ = dict(metadata.get("training_settings") or {})
        if metadata.get("history") is not None:
            net.history_ = History.from_file(metadata["history"], arrays, prefix + "history/")
        return net

    @serialised
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_engine"] = None  # the C++ view is rebuilt on demand
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._parameters = {name: aligned_copy(array) for name, array in self._parameters.items()}
        self.__dict__.setdefault("bfloat16", False)  # (pickles of older versions have neither)
        self._n_parameters = int(sum(p.size for p in self._parameters.values()))
        state = self.__dict__.setdefault("_optimiser_state", None)
        if state is not None:
            state.arrays = {name: aligned_copy(array) for name, array in state.arrays.items()}

    # ------------------------------------------------------------------ evaluation

    def forward(self, X) -> np.ndarray:
        """Forward propagation (4.28)-(4.32): the output a⁽ᴸ⁾ = ŷ for every row of X.

        Softmax probabilities, logistic probabilities or regression values, of shape
        (n_samples, m⁽ᴸ⁾), in the network's dtype. Runs in chunks, in bounded memory.
        """
        X = check_features(X, self.widths[0], self.dtype)
        return self._forward(X)

    @serialised
    def _forward(self, X: np.ndarray, rows: Optional[np.ndarray] = None, input_mean: Optional[np.ndarray] = None,
                 input_scale: Optional[np.ndarray] = None) -> np.ndarray:
        """a⁽ᴸ⁾ for the rows of X (those indexed by `rows`, if given), each row first scaled as
        (x − input_mean) / input_scale when these are given (in the network's dtype: the engine does
        NumPy's arithmetic as it reads the row); overflow is an error."""
        n = X.shape[0] if rows is None else rows.shape[0]
        out = np.empty((n, self.widths[-1]), dtype=self.dtype)
        # The engine runs fewer than 2²⁰ multiply-adds on one thread whatever it is offered: no
        # need to ask the machine (which costs more than a small network's one-row prediction).
        threads = 1 if n * self.n_parameters < _ONE_THREAD_WORK else self._threads()
        if not self._core().predict(X, out, _CHUNK, threads, rows, input_mean, input_scale):
            bad = int((~np.isfinite(out).all(axis=1)).sum())
            raise FloatingPointError(
                f"the network's output is NaN or infinite for {bad} of {out.shape[0]} samples: a net input "
                f"overflowed {self.dtype.name} (inputs up to {float(np.abs(X).max()):.3g} in magnitude). Scale the "
                "inputs (e.g. sklearn.preprocessing.StandardScaler) or use dtype='float64'")
        return out

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities p(y|x): (n, C) for softmax; (n, 2) for one logistic unit
        (columns p(y=0|x), p(y=1|x) as (4.36)); (n, k) per-label probabilities for k units."""
        if not self.output_layer.classifies:  # before any work on X
            raise TypeError("predict_proba needs a classification output ('softmax' or 'logistic')")
        return self.output_layer.probabilities(self.forward(X))

    def predict(self, X) -> np.ndarray:
        """Class labels 0 … C−1 (softmax), 0/1 labels (logistic), or regression values (identity).

        One-dimensional for a single output unit or softmax, (n, k) otherwise.
        """
        return self.output_layer.decide(self.forward(X))

    def score(self, X, y) -> float:
        """Accuracy for classification (exact match for multi-label), R² for regression."""
        X = check_features(X, self.widths[0], self.dtype)
        targets = self._targets(y, X.shape[0])
        return self.output_layer.score(self._forward(X), targets)

    def _targets(self, y, n_samples: int, what: str = "y") -> np.ndarray:
        """y as the (n, m⁽ᴸ⁾) target matrix of the output layer (one-hot for softmax)."""
        return self.output_layer.targets(y, n_samples, self.widths[-1], self.dtype, what)

    def _penalty(self, l2: float) -> float:
        """λ/2·‖W‖²_F (4.39), (4.41): over the weight matrices only, never biases or slopes."""
        if l2 == 0:
            return 0.0
        # Element-wise rather than np.dot: a BLAS call would wake NumPy's BLAS threads, which then
        # spin for a while on the cores the engine is about to use.
        total = sum(float(np.square(w, dtype=np.float64).sum()) for name, w in self._parameters.items()
                    if name.startswith("weights_"))
        return 0.5 * l2 * total

    def risk(self, X, y, l2: float = 0.0, sample_weight=None) -> float:
        """The structural risk (4.39): mean loss over the samples + λ/2·‖W‖²_F.

        λ (`l2`) is not divided by the number of samples, unlike scikit-learn's ``alpha``.
        With `sample_weight` the mean is weighted: Σ wₙ Lₙ / Σ wₙ.
        """
        l2 = check_real(l2, "l2", non_negative=True)
        X = check_features(X, self.widths[0], self.dtype)
        targets = self._targets(y, X.shape[0])
        weights = check_sample_weight(sample_weight, X.shape[0], self.dtype)
        return self._risk(X, targets, l2, weights)

    @serialised
    def _risk(self, X: np.ndarray, targets: np.ndarray, l2: float, weights: Optional[np.ndarray] = None) -> float:
        total = self._core().loss_sum(X, targets, _CHUNK, self._threads(), weights)
        return total / X.shape[0] + self._penalty(l2)

    def loss_and_gradients(self, X, y, l2: float = 0.0, sample_weight=None) -> Tuple[float, Dict[str, np.ndarray]]:
        """The risk (4.39) on (X, y) and its gradient with respect to every trainable array.

        Gradients come from backpropagation (4.59)-(4.62), averaged over the samples (weighted
        by `sample_weight` if given), plus λW for the weights (not the biases or PReLU slopes).
        They are returned under the same names and shapes as :meth:`parameters`.
        """
        l2 = check_real(l2, "l2", non_negative=True)
        X = check_features(X, self.widths[0], self.dtype)
        targets = self._targets(y, X.shape[0])
        weights = check_sample_weight(sample_weight, X.shape[0], self.dtype)
        return self._loss_and_gradients(X, targets, l2, weights)

    @serialised
    def _loss_and_gradients(self, X, targets, l2, weights=None):
        grads = {name: np.empty_like(p) for name, p in self._parameters.items()}
        total = self._core().loss_and_gradient_sums(X, targets, list(grads.values()), _CHUNK, self._threads(), weights)
        n = X.shape[0]
        for name, g in grads.items():
            g /= n
            if name.startswith("weights_") and l2 != 0:
                g += l2 * self._parameters[name]
        return total / n + self._penalty(l2), grads

    # ------------------------------------------------------------------ training

    def fit(self, X, y, *, learning_rate: float = NETWORK_FIT.learning_rate, l2: float = NETWORK_FIT.l2,
            batch_size: int = NETWORK_FIT.batch_size, max_epochs: int = NETWORK_FIT.max_epochs,
            patience: int = NETWORK_FIT.patience, validation_fraction: float = NETWORK_FIT.validation_fraction,
            validation_data: Optional[Tuple] = None, tol: float = NETWORK_FIT.tol, verbose: bool = False,
            sample_weight=None, callback: Optional[Callable[[History], Optional[bool]]] = None,
            record_gradient_norms: bool = False, optimiser: str = NETWORK_FIT.optimiser,
            momentum: float = NETWORK_FIT.momentum, beta_1: float = NETWORK_FIT.beta_1,
            beta_2: float = NETWORK_FIT.beta_2, epsilon: float = NETWORK_FIT.epsilon,
            schedule: str = NETWORK_FIT.schedule, power_t: float = NETWORK_FIT.power_t,
            step_epochs: int = NETWORK_FIT.step_epochs, step_factor: float = NETWORK_FIT.step_factor,
            shuffle: bool = NETWORK_FIT.shuffle, clip_norm: Optional[float] = NETWORK_FIT.clip_norm,
            stop_on_training_loss: bool = False,
            _samples_seen: int = 0) -> History:
        """Train by Algorithm 4.1: shuffle every epoch, SGD on each sample (or mini-batch),
        stop when the validation error rate stops falling, keep the best weights.

        Training continues from the current parameters, and from the optimiser's state when the
        last fit used the same optimiser; call :meth:`reset_parameters` to start afresh. Each
        epoch runs entirely in C++ with the GIL released.

        Parameters
        ----------
        X : array of shape (n_samples, m⁽⁰⁾)
        y : array
            Class labels 0 … C−1 (softmax); 0/1 labels, (n,) or (n, k) (logistic); real
            targets, (n,) or (n, k) (identity).
        learning_rate : float, default 0.01
            α > 0 of (4.42)-(4.45).
        l2 : float, default 0.0
            λ ≥ 0 of (4.39): each step applies W ← W − α(δaᵀ + λW). Not divided by the number
            of samples, unlike scikit-learn's ``alpha``, which its MLP divides by the samples of
            each batch: at batch size B, λ here equals ``alpha / B`` there.
        batch_size : int, default 1
            Samples per update. 1 is the chapter's per-sample SGD; B > 1 averages the B
            gradients (4.43), (4.45).
        max_epochs : int, default 100 (the defaults are fnn.training.settings.NETWORK_FIT)
            Upper bound on the number of passes over the training set.
        patience : int or math.inf, default 10
            Stop after this many epochs without a lower validation error rate (validation
            loss for regression), then restore the weights of the best epoch; ``math.inf``
            (``numpy.inf``) never stops early but still restores the best epoch.
        validation_fraction : float, default 0.1
            Fraction of (X, y) held out as the validation set 𝒱 (stratified for
            classification) when `validation_data` is not given; 0 trains for `max_epochs`
            with no early stopping.
        validation_data : tuple (X_val, y_val), optional
            An explicit validation set.
        tol : float, default 0.0
            An epoch counts as an improvement only if it lowers the best score by more than tol.
        verbose : bool, default False
            Print one line per epoch.
        sample_weight : array of shape (n_samples,), optional
            Non-negative weight wₙ of each sample: the risk becomes Σ wₙLₙ / Σ wₙ, so a sample's
            step is scaled by wₙ (the weights are rescaled to mean 1). Validation errors and
            losses on the held-out part are weighted the same way.
        callback : callable, optional
            Called as ``callback(history)`` after every epoch, with the history so far; returning
            True stops training (the best weights are still restored).
        record_gradient_norms : bool, default False
            After every epoch (and once before the first), record ‖∂R/∂W⁽ˡ⁾‖_F of every layer on
            the training set in ``history.gradient_norms`` (section 4.6.2). Costs one extra
            pass over the training data per epoch.
        optimiser : str, default "sgd"
            The update rule: "sgd" (Algorithm 4.1), "momentum", "nesterov", "adam", "adamw",
            "adagrad" or "rmsprop", as PyTorch's ``torch.optim`` computes them (see
            :mod:`fnn.training.optimisers`). λ (`l2`) enters the gradient, except for "adamw", which
            decays the weights apart from its step.
        momentum : float, default 0.9
            μ ≥ 0 of "momentum" and "nesterov".
        beta_1, beta_2 : float, default 0.9, 0.999
            Decay rates in [0, 1) of Adam's first and second moments; beta_2 is also RMSprop's ρ.
        epsilon : float, default 1e-8
            ε > 0 added to the root of the second moment (adam, adamw, adagrad, rmsprop).
        schedule : str, default "constant"
            The learning rate of each epoch: "constant", "invscaling" (α/(t+1)^power_t, t the
            samples trained on so far), "step" (α·step_factor^⌊epoch/step_epochs⌋), "cosine"
            (α·½(1+cos(π·epoch/max_epochs))) or "adaptive" (α/5 each time `patience` epochs
            bring no improvement, instead of stopping; stops once α < 1e-6). See
            :mod:`fnn.training.schedules`; ``history.learning_rate`` records each epoch's.
        power_t, step_epochs, step_factor : default 0.5, 10, 0.5
            Parameters of the "invscaling" and "step" schedules.
        shuffle : bool, default True
            Draw a new order of the training samples every epoch; False keeps their order in X.
        clip_norm : float, optional
            Scale each step's gradient of the loss down to this Euclidean norm (all parameters
            together) when it is larger, as ``torch.nn.utils.clip_grad_norm_`` does, before the
            optimiser's step (and its weight decay). Needs the step's whole gradient, so per-sample
            steps then run in the mini-batch kernel (one row per step), a few times slower.
        stop_on_training_loss : bool, default False
            Without a validation set, stop after `patience` epochs that did not lower the
            training risk by more than `tol` (scikit-learn's rule when its early stopping is
            off); the weights are then those of the last epoch.
        _samples_seen : int, default 0
            For the estimators' warm starts: samples trained on before, where "invscaling" starts.

        Returns
        -------
        History
            Training risk, validation error and loss, and time of every epoch (also kept as
            ``self.history_``).

        Raises
        ------
        TrainingDiverged
            If the risk becomes NaN or infinite; the network then holds the weights from
            before the failing epoch.
        KeyboardInterrupt
            On Ctrl-C, within about 50 ms; the weights are those of the last completed step.

        Notes
        -----
        The validation part and the shuffled order index into X (a mask and index arrays): no
        copy of X is made beyond its conversion to the network's dtype (none when X is already
        C-ordered in that dtype). Arguments are all checked before the random generator is touched, so a
        rejected call leaves the network, and its generator, as they were. Holds the network's
        lock: a second thread's fit, predict or save waits for this one.
        """
        # (The settings are checked before anything is drawn; the fit itself is fit_network's.)
        s = settings_from(locals())
        return fit_network(self, X, y, s, validation_data=validation_data, sample_weight=sample_weight,
                           callback=callback, verbose=verbose, record_gradient_norms=record_gradient_norms,
                           samples_seen=_samples_seen)

    def gradient_norms(self, X, y, l2: float = 0.0) -> List[float]:
        """‖∂R/∂W⁽ˡ⁾‖_F for l = 1 … L on (X, y): how much gradient reaches each layer (4.6.2)."""
        _, grads = self.loss_and_gradients(X, y, l2)
        return [float(np.linalg.norm(grads[f"weights_{l}"].astype(np.float64))) for l in range(1, self.n_layers + 1)]

    def _gradient_norms(self, X, targets, l2, weights) -> List[float]:
        _, grads = self._loss_and_gradients(X, targets, l2, weights)
        return [float(np.sqrt(np.square(grads[f"weights_{l}"], dtype=np.float64).sum()))
                for l in range(1, self.n_layers + 1)]



register("Network", lambda path, header, arrays: Network._from_file_contents(path, header["network"], arrays),
         Network.save)
