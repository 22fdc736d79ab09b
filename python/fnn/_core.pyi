"""Type stubs of the compiled engine (cpp/bindings.cpp). The x86-64-v3 and v4 builds,
``fnn._core_x86_64_v3`` and ``fnn._core_x86_64_v4``, have the same interface."""

from typing import ClassVar, Dict, Optional, Sequence

import numpy as np
import numpy.typing as npt

#: True when matrix products go to OpenBLAS (scipy-openblas32), False for Eigen's own kernels.
openblas: bool
#: Eigen's description of the SIMD instruction sets this build uses.
simd: str
#: True when built with OpenMP.
openmp: bool
#: OpenMP's thread limit when the module was imported.
max_threads: int

def openmp_thread_limit() -> int:
    """OpenMP's current limit on threads (OMP_NUM_THREADS, OMP_THREAD_LIMIT, threadpoolctl); 1 in a forked child."""

def all_finite(a: np.ndarray) -> bool:
    """Whether every entry of a C-ordered float32 or float64 array is finite."""

def forked_child() -> bool:
    """Whether this process was forked after the engine ran a team of threads (it then uses one)."""

def helper_parts() -> tuple[int, int]:
    """Parts of short predictions done so far by calling threads while helpers were offered parts, and by
    helper threads (for tests)."""

def cpu_level() -> int:
    """Instruction-set level of this CPU: 4 (x86-64-v4), 3 (x86-64-v3) or 1."""

#: True when built with oneDNN's headers (bfloat16 products possible).
onednn_headers: bool

def bfloat16_instructions() -> str:
    """This CPU's bfloat16 instructions that oneDNN uses: 'amx_bf16', 'avx512_bf16' or '' (none)."""

def onednn_version() -> str:
    """The version of the oneDNN loaded for bfloat16 products, or ''."""

def bfloat16_product_implementation(m: int, n: int, k: int) -> str:
    """oneDNN's implementation of an (m×k)·(k×n) bfloat16 product, e.g. 'brg:avx512_core_bf16'."""

def activation_value(name: str, gamma: float, z: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """f(z) of an element-wise activation, on a 1-D float64 array."""

def activation_derivative(name: str, gamma: float, z: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """f'(z) of an element-wise activation, on a 1-D float64 array."""

class Activation:
    """The hidden activations of section 4.1, as the engine knows them."""

    identity: ClassVar[Activation]
    logistic: ClassVar[Activation]
    tanh: ClassVar[Activation]
    hard_logistic: ClassVar[Activation]
    hard_tanh: ClassVar[Activation]
    relu: ClassVar[Activation]
    leaky_relu: ClassVar[Activation]
    prelu: ClassVar[Activation]
    elu: ClassVar[Activation]
    softplus: ClassVar[Activation]
    maxout: ClassVar[Activation]

    __members__: ClassVar[Dict[str, Activation]]
    def __init__(self, value: int) -> None: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

class Output:
    """The output layers of section 4.3.1: softmax, logistic, identity."""

    softmax: ClassVar[Output]
    logistic: ClassVar[Output]
    identity: ClassVar[Output]

    __members__: ClassVar[Dict[str, Output]]
    def __init__(self, value: int) -> None: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

class LayerSpec:
    """One layer for the engine: its activation and its parameter arrays."""

    def __init__(self, *, activation: Activation, gamma: float, pieces: int, weights: np.ndarray,
                 biases: np.ndarray, slopes: Optional[np.ndarray] = None) -> None: ...
    @property
    def activation(self) -> Activation: ...
    @property
    def gamma(self) -> float: ...
    @property
    def pieces(self) -> int: ...

class Optimiser:
    """The update rules of the training kernels (optimisers.hpp)."""

    sgd: ClassVar[Optimiser]
    momentum: ClassVar[Optimiser]
    nesterov: ClassVar[Optimiser]
    adam: ClassVar[Optimiser]
    adamw: ClassVar[Optimiser]
    adagrad: ClassVar[Optimiser]
    rmsprop: ClassVar[Optimiser]

    __members__: ClassVar[Dict[str, Optimiser]]
    def __init__(self, value: int) -> None: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

class OptimiserSettings:
    """One epoch's update: the rule, α, λ, the batch size, the rule's hyper-parameters and its step count."""

    def __init__(self, *, kind: Optimiser = ..., learning_rate: float, l2: float = 0.0, batch_size: int = 1,
                 momentum: float = 0.9, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
                 step: int = 0, clip_norm: float = 0.0) -> None: ...
    @property
    def kind(self) -> Optimiser: ...
    @property
    def learning_rate(self) -> float: ...
    @property
    def l2(self) -> float: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def momentum(self) -> float: ...
    @property
    def beta1(self) -> float: ...
    @property
    def beta2(self) -> float: ...
    @property
    def epsilon(self) -> float: ...
    @property
    def step(self) -> int: ...
    @property
    def clip_norm(self) -> float: ...

class EpochResult:
    """What one epoch of the engine did."""

    @property
    def loss_sum(self) -> float:
        """Σ of the per-sample loss, each just before its update."""
    @property
    def samples(self) -> int:
        """Samples whose update was applied."""
    @property
    def steps(self) -> int:
        """Updates applied."""
    @property
    def diverged(self) -> bool:
        """A non-finite loss stopped the epoch before its update."""

class Engine32:
    """C++ view of a float32 network whose parameters live in NumPy arrays (updated in place)."""

    def __init__(self, layers: Sequence[LayerSpec], output: Output) -> None: ...
    @property
    def inputs(self) -> int: ...
    @property
    def outputs(self) -> int: ...
    @property
    def contended(self) -> bool:
        """Whether this network's kernels run on one thread for now, having lost their cores."""
    @property
    def bfloat16(self) -> bool:
        """Whether predict and train_epoch run their products on bfloat16 copies."""
    def use_bfloat16(self, on: bool, library: str = "") -> None:
        """Run the products of predict and train_epoch on bfloat16 copies, with the oneDNN library at `library`."""
    _switch_to_one_thread_at: int
    @property
    def _helper_rests(self) -> int:
        """For tests: the short predictions after which helper threads were sent to rest, having slowed the call."""
    @property
    def _last_team(self) -> int:
        """For tests: the threads the last kernel call started (0 before any)."""
    _mini_batch_block_rows: int
    def predict(self, X: npt.NDArray[np.float32], out: npt.NDArray[np.float32], chunk: int, n_threads: int,
                rows: Optional[npt.NDArray[np.int64]] = None, input_mean: Optional[npt.NDArray[np.float32]] = None,
                input_scale: Optional[npt.NDArray[np.float32]] = None) -> bool: ...
    def loss_sum(self, X: npt.NDArray[np.float32], targets: npt.NDArray[np.float32], chunk: int, n_threads: int,
                 sample_weight: Optional[npt.NDArray[np.float32]] = None,
                 rows: Optional[npt.NDArray[np.int64]] = None) -> float: ...
    def loss_and_gradient_sums(self, X: npt.NDArray[np.float32], targets: npt.NDArray[np.float32],
                               grads: Sequence[npt.NDArray[np.float32]], chunk: int, n_threads: int,
                               sample_weight: Optional[npt.NDArray[np.float32]] = None,
                               rows: Optional[npt.NDArray[np.int64]] = None) -> float: ...
    def apply_gradient_sums(self, grads: Sequence[npt.NDArray[np.float32]], count: float, optimiser: OptimiserSettings,
                            first: Optional[Sequence[npt.NDArray[np.float32]]] = None,
                            second: Optional[Sequence[npt.NDArray[np.float32]]] = None,
                            step_count: Optional[npt.NDArray[np.int64]] = None) -> None: ...
    def train_epoch(self, X: npt.NDArray[np.float32], targets: npt.NDArray[np.float32], order: npt.NDArray[np.int64],
                    optimiser: OptimiserSettings, n_threads: int,
                    sample_weight: Optional[npt.NDArray[np.float32]] = None,
                    first: Optional[Sequence[npt.NDArray[np.float32]]] = None,
                    second: Optional[Sequence[npt.NDArray[np.float32]]] = None,
                    step_count: Optional[npt.NDArray[np.int64]] = None) -> EpochResult:
        """One epoch of SGD or another update rule, with its state arrays (Ctrl-C raises KeyboardInterrupt)."""

class Engine64:
    """C++ view of a float64 network whose parameters live in NumPy arrays (updated in place)."""

    def __init__(self, layers: Sequence[LayerSpec], output: Output) -> None: ...
    @property
    def inputs(self) -> int: ...
    @property
    def outputs(self) -> int: ...
    @property
    def contended(self) -> bool:
        """Whether this network's kernels run on one thread for now, having lost their cores."""
    @property
    def bfloat16(self) -> bool:
        """Whether predict and train_epoch run their products on bfloat16 copies."""
    def use_bfloat16(self, on: bool, library: str = "") -> None:
        """Run the products of predict and train_epoch on bfloat16 copies, with the oneDNN library at `library`."""
    _switch_to_one_thread_at: int
    @property
    def _helper_rests(self) -> int:
        """For tests: the short predictions after which helper threads were sent to rest, having slowed the call."""
    @property
    def _last_team(self) -> int:
        """For tests: the threads the last kernel call started (0 before any)."""
    _mini_batch_block_rows: int
    def predict(self, X: npt.NDArray[np.float64], out: npt.NDArray[np.float64], chunk: int, n_threads: int,
                rows: Optional[npt.NDArray[np.int64]] = None, input_mean: Optional[npt.NDArray[np.float64]] = None,
                input_scale: Optional[npt.NDArray[np.float64]] = None) -> bool: ...
    def loss_sum(self, X: npt.NDArray[np.float64], targets: npt.NDArray[np.float64], chunk: int, n_threads: int,
                 sample_weight: Optional[npt.NDArray[np.float64]] = None,
                 rows: Optional[npt.NDArray[np.int64]] = None) -> float: ...
    def loss_and_gradient_sums(self, X: npt.NDArray[np.float64], targets: npt.NDArray[np.float64],
                               grads: Sequence[npt.NDArray[np.float64]], chunk: int, n_threads: int,
                               sample_weight: Optional[npt.NDArray[np.float64]] = None,
                               rows: Optional[npt.NDArray[np.int64]] = None) -> float: ...
    def apply_gradient_sums(self, grads: Sequence[npt.NDArray[np.float64]], count: float, optimiser: OptimiserSettings,
                            first: Optional[Sequence[npt.NDArray[np.float64]]] = None,
                            second: Optional[Sequence[npt.NDArray[np.float64]]] = None,
                            step_count: Optional[npt.NDArray[np.int64]] = None) -> None: ...
    def train_epoch(self, X: npt.NDArray[np.float64], targets: npt.NDArray[np.float64], order: npt.NDArray[np.int64],
                    optimiser: OptimiserSettings, n_threads: int,
                    sample_weight: Optional[npt.NDArray[np.float64]] = None,
                    first: Optional[Sequence[npt.NDArray[np.float64]]] = None,
                    second: Optional[Sequence[npt.NDArray[np.float64]]] = None,
                    step_count: Optional[npt.NDArray[np.int64]] = None) -> EpochResult:
        """One epoch of SGD or another update rule, with its state arrays (Ctrl-C raises KeyboardInterrupt)."""
