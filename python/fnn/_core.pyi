"""Type stubs of the compiled engine (cpp/bindings.cpp). The x86-64-v3 and v4 builds,
``fnn._core_x86_64_v3`` and ``fnn._core_x86_64_v4``, have the same interface."""

from typing import Optional, Sequence, Tuple

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

def forked_child() -> bool:
    """Whether this process was forked after the engine ran a team of threads (it then uses one)."""

def cpu_level() -> int:
    """Instruction-set level of this CPU: 4 (x86-64-v4), 3 (x86-64-v3) or 1."""

def activation_value(name: str, gamma: float, z: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """f(z) of an element-wise activation, on a 1-D float64 array."""

def activation_derivative(name: str, gamma: float, z: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """f'(z) of an element-wise activation, on a 1-D float64 array."""

# layers: one (activation name, gamma, pieces, weights, biases, slopes or None) per layer.
LayerSpec = Tuple[str, float, int, np.ndarray, np.ndarray, Optional[np.ndarray]]

class Engine32:
    """C++ view of a float32 network whose parameters live in NumPy arrays (updated in place)."""

    def __init__(self, layers: Sequence[LayerSpec], output: str) -> None: ...
    @property
    def inputs(self) -> int: ...
    @property
    def outputs(self) -> int: ...
    @property
    def contended(self) -> bool:
        """Whether this network's kernels run on one thread for now, having lost their cores."""
    _switch_to_one_thread_at: int
    _mini_batch_block_rows: int
    def predict(self, X: npt.NDArray[np.float32], out: npt.NDArray[np.float32], chunk: int, n_threads: int,
                rows: Optional[npt.NDArray[np.int64]] = None) -> None: ...
    def loss_sum(self, X: npt.NDArray[np.float32], targets: npt.NDArray[np.float32], chunk: int, n_threads: int,
                 sample_weight: Optional[npt.NDArray[np.float32]] = None,
                 rows: Optional[npt.NDArray[np.int64]] = None) -> float: ...
    def loss_and_gradient_sums(self, X: npt.NDArray[np.float32], targets: npt.NDArray[np.float32],
                               grads: Sequence[npt.NDArray[np.float32]], chunk: int, n_threads: int,
                               sample_weight: Optional[npt.NDArray[np.float32]] = None) -> float: ...
    def train_epoch(self, X: npt.NDArray[np.float32], targets: npt.NDArray[np.float32], order: npt.NDArray[np.int64],
                    learning_rate: float, l2: float, batch_size: int, n_threads: int,
                    sample_weight: Optional[npt.NDArray[np.float32]] = None) -> Tuple[float, int, str]:
        """One epoch of SGD: (loss sum, samples done, "ok" or "diverged")."""

class Engine64:
    """C++ view of a float64 network whose parameters live in NumPy arrays (updated in place)."""

    def __init__(self, layers: Sequence[LayerSpec], output: str) -> None: ...
    @property
    def inputs(self) -> int: ...
    @property
    def outputs(self) -> int: ...
    @property
    def contended(self) -> bool:
        """Whether this network's kernels run on one thread for now, having lost their cores."""
    _switch_to_one_thread_at: int
    _mini_batch_block_rows: int
    def predict(self, X: npt.NDArray[np.float64], out: npt.NDArray[np.float64], chunk: int, n_threads: int,
                rows: Optional[npt.NDArray[np.int64]] = None) -> None: ...
    def loss_sum(self, X: npt.NDArray[np.float64], targets: npt.NDArray[np.float64], chunk: int, n_threads: int,
                 sample_weight: Optional[npt.NDArray[np.float64]] = None,
                 rows: Optional[npt.NDArray[np.int64]] = None) -> float: ...
    def loss_and_gradient_sums(self, X: npt.NDArray[np.float64], targets: npt.NDArray[np.float64],
                               grads: Sequence[npt.NDArray[np.float64]], chunk: int, n_threads: int,
                               sample_weight: Optional[npt.NDArray[np.float64]] = None) -> float: ...
    def train_epoch(self, X: npt.NDArray[np.float64], targets: npt.NDArray[np.float64], order: npt.NDArray[np.int64],
                    learning_rate: float, l2: float, batch_size: int, n_threads: int,
                    sample_weight: Optional[npt.NDArray[np.float64]] = None) -> Tuple[float, int, str]:
        """One epoch of SGD: (loss sum, samples done, "ok" or "diverged")."""
