"""Training on data larger than memory: blocks of (X, y) from a source read anew every epoch,
mixed in a shuffle buffer.

A source is a callable that returns an iterable of (X, y) blocks: ``csv_blocks``,
``parquet_blocks`` and ``npy_blocks`` make one from a file (a pair of ``.npy`` files for the last);
any generator function of the user's is one too. Rows go into a buffer of ``shuffle_buffer`` rows;
when it is full, a random half of it is trained on (in random order, through the same kernels as
in-memory training) and replaced by the next rows. Memory is therefore bounded by the buffer and
one block, whatever the size of the file (``python -m bench.out_of_core`` measures it). The order
is a partial shuffle, as ``tf.data``'s ``shuffle(buffer_size)``: rows far apart in the file meet in
the same batch only through the buffer, so a file sorted by class wants a buffer large against a
class's run, or a file shuffled once beforehand.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Optional, Tuple

import numpy as np

from ..core.history import History
from ..core.locking import lock_of
from ..core.validation import check_features, check_positive_int
from ..training.settings import NETWORK_FIT, TrainingSettings, settings_from
from ..training.training_loop import Epoch, Training, in_memory_validation, train
from .._extras import import_optional

Block = Tuple[np.ndarray, np.ndarray]
Source = Callable[[], Iterable[Block]]

__all__ = ["fit", "csv_blocks", "parquet_blocks", "npy_blocks"]


def csv_blocks(path, target=-1, rows: int = 65536, **read_csv) -> Source:
    """A source reading the CSV file at `path` `rows` rows at a time (pandas), the column
    `target` (a name or a position) as y and the others as X. Extra keywords go to
    ``pandas.read_csv``."""
    pd = import_optional("pandas", "fnn.scale.streaming.csv_blocks")

    rows = check_positive_int(rows, "rows")

    def blocks() -> Iterator[Block]:
        with pd.read_csv(path, chunksize=rows, **read_csv) as reader:
            for frame in reader:
                yield _split_target(frame, target)

    return blocks


def parquet_blocks(path, target=-1, rows: int = 65536) -> Source:
    """A source reading the Parquet file at `path` `rows` rows at a time (pyarrow), the column
    `target` (a name or a position) as y and the others as X (numeric columns)."""
    pq = import_optional("pyarrow.parquet", "fnn.scale.streaming.parquet_blocks")

    rows = check_positive_int(rows, "rows")

    def blocks() -> Iterator[Block]:
        # pre_buffer=False: pyarrow otherwise reads whole row groups ahead, or all of a small file.
        with pq.ParquetFile(path, pre_buffer=False) as file:
            names = file.schema_arrow.names
            column = _target_position(names, target)
            for batch in file.iter_batches(batch_size=rows, use_threads=False):
                X = np.column_stack([batch.column(i).to_numpy(zero_copy_only=False) for i in range(len(names))
                                     if i != column])
                yield X, batch.column(column).to_numpy(zero_copy_only=False)

    return blocks


def npy_blocks(X_path, y_path, rows: int = 65536) -> Source:
    """A source reading two ``.npy`` files (features, targets) `rows` rows at a time: each block
    is read from disk into its own array, so memory holds one block, not the pages of the whole
    file a memory map would leave resident."""
    rows = check_positive_int(rows, "rows")

    def blocks() -> Iterator[Block]:
        with open(X_path, "rb") as X_file, open(y_path, "rb") as y_file:
            X_shape, X_dtype = _npy_header(X_file, X_path)
            y_shape, y_dtype = _npy_header(y_file, y_path)
            if len(X_shape) != 2 or X_shape[0] != y_shape[0]:
                raise ValueError(f"{X_path} has shape {X_shape} and {y_path} shape {y_shape}: expected (n, d) "
                                 "features and n targets")
            y_width = int(np.prod(y_shape[1:], dtype=np.int64))
            for start in range(0, X_shape[0], rows):
                count = min(rows, X_shape[0] - start)
                X = np.fromfile(X_file, dtype=X_dtype, count=count * X_shape[1]).reshape(count, X_shape[1])
                y = np.fromfile(y_file, dtype=y_dtype, count=count * y_width).reshape((count,) + y_shape[1:])
                yield X, y

    return blocks


def _npy_header(file, path):
    """The shape and dtype of the C-ordered .npy file open at `file`, left at its data."""
    version = np.lib.format.read_magic(file)
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        raise ValueError(f"{path}: .npy format version {version} is not supported")
    shape, fortran_order, dtype = read(file)
    if fortran_order or dtype.hasobject:
        raise ValueError(f"{path}: the array must be C-ordered numbers (save it with np.save(np.ascontiguousarray(a)))")
    return shape, dtype


def _target_position(names, target) -> int:
    if isinstance(target, int) and -len(names) <= target < len(names):
        return target % len(names)
    if target in names:
        return names.index(target)
    raise ValueError(f"no column {target!r}; the columns are {list(names)}")


def _split_target(frame, target) -> Block:
    column = frame.columns[_target_position(list(frame.columns), target)]
    return frame.drop(columns=[column]).to_numpy(), frame[column].to_numpy()


def fit(net, source: Source, *, shuffle_buffer: int = 65536, validation_data=None,
        learning_rate: float = NETWORK_FIT.learning_rate, l2: float = NETWORK_FIT.l2, batch_size: int = 1,
        max_epochs: int = NETWORK_FIT.max_epochs, patience=NETWORK_FIT.patience, tol: float = NETWORK_FIT.tol,
        verbose: bool = False, optimiser: str = NETWORK_FIT.optimiser, momentum: float = NETWORK_FIT.momentum,
        beta_1: float = NETWORK_FIT.beta_1, beta_2: float = NETWORK_FIT.beta_2,
        epsilon: float = NETWORK_FIT.epsilon, schedule: str = NETWORK_FIT.schedule,
        power_t: float = NETWORK_FIT.power_t, step_epochs: int = NETWORK_FIT.step_epochs,
        step_factor: float = NETWORK_FIT.step_factor, clip_norm: Optional[float] = None,
        callback: Optional[Callable[[History], Optional[bool]]] = None) -> History:
    """Train `net` for up to `max_epochs` passes over `source()`, through a shuffle buffer.

    Parameters are those of :meth:`fnn.Network.fit`, plus `shuffle_buffer` (rows held at once,
    at least 2) and `source`, a callable returning an iterable of (X, y) blocks, called once per
    epoch (or an iterable of blocks itself, read once: then ``max_epochs=1``). Early stopping
    needs `validation_data` (an in-memory (X_val, y_val)); without it every epoch runs (or an
    "adaptive" schedule stops on the training risk). Sample weights are not taken here. A block
    that fails its checks (wrong feature count, NaN, labels the network cannot take) raises a
    ValueError naming the block; the network then holds the weights of the last update before it.

    Returns the :class:`fnn.History` (also ``net.history_``).
    """
    with lock_of(net):
        s = settings_from(locals(), validation_fraction=0.0)
        capacity = check_positive_int(shuffle_buffer, "shuffle_buffer")
        if capacity < 2:
            raise ValueError(f"shuffle_buffer must be at least 2, got {capacity}")
        if not callable(source):
            if not hasattr(source, "__iter__") or isinstance(source, (str, bytes, np.ndarray)):
                raise TypeError("source must be a callable returning an iterable of (X, y) blocks (called once "
                                f"per epoch), or an iterable of them, got {type(source).__name__}")
            if s.max_epochs != 1:
                raise ValueError("an iterable source is read once: give max_epochs=1, or a callable that returns "
                                 "a new iterable of the blocks for every epoch")
            blocks = source
            source = lambda: blocks  # noqa: E731 - the one pass
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        validate = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a tuple (X_val, y_val)")
            X_val = check_features(validation_data[0], net.widths[0], net.dtype, "X_val")
            targets_val = net._targets(validation_data[1], X_val.shape[0], "y_val")
            validate = in_memory_validation(net, X_val, targets_val, None, None, None)
        training = Training(net, s)
        buffer = _ShuffleBuffer(net, capacity, s, training)
        return train(net, s, training, lambda learning_rate: buffer.run(source(), learning_rate), validate, verbose,
                     callback)


class _ShuffleBuffer:
    """Rows waiting to be trained on, and the pass over a source through them."""

    def __init__(self, net, capacity: int, s: TrainingSettings, training: Training):
        self.net, self.capacity, self.s, self.training = net, capacity, s, training
        self.engine, self.threads = net._core(), net._threads()
        self.X = np.empty((0, net.widths[0]), dtype=net.dtype)
        self.targets = np.empty((0, net.widths[-1]), dtype=net.dtype)
        self.filled = 0

    def _room(self, rows: int) -> None:
        """Grow the buffer (rarely: to the capacity plus the largest block seen) for `rows` more."""
        needed = self.filled + rows
        if needed > self.X.shape[0]:
            size = max(needed, self.capacity + rows)
            X, targets = np.empty((size, self.X.shape[1]), self.X.dtype), np.empty((size, self.targets.shape[1]),
                                                                                   self.targets.dtype)
            X[:self.filled], targets[:self.filled] = self.X[:self.filled], self.targets[:self.filled]
            self.X, self.targets = X, targets

    def _train(self, rows: int, learning_rate: float, epoch: list) -> bool:
        """Train on `rows` random rows of the buffer and drop them; False if the loss diverged."""
        order = self.net._rng.permutation(self.filled)
        kept = order[rows:]
        result = self.training.epoch(self.engine, self.X, self.targets, order[:rows], learning_rate, self.threads)
        epoch[0] += result.loss_sum
        epoch[1] += result.samples
        # The rows not trained on move to the front (a copy of at most half the buffer).
        self.X[:kept.size] = self.X[kept]
        self.targets[:kept.size] = self.targets[kept]
        self.filled = kept.size
        return not result.diverged

    def run(self, blocks: Iterable[Block], learning_rate: float) -> Epoch:
        epoch: list = [0.0, 0]  # loss sum, samples
        self.filled = 0
        batch = self.s.batch_size
        for number, block in enumerate(blocks, 1):
            try:
                X_block, y_block = block
                if len(X_block) == 0 and len(y_block) == 0:
                    continue  # (a filter may leave a block empty)
                X_block = check_features(X_block, self.net.widths[0], self.net.dtype)
                targets = self.net._targets(y_block, X_block.shape[0])
            except (TypeError, ValueError) as error:
                raise ValueError(f"block {number} of the source: {error}") from error
            self._room(X_block.shape[0])
            self.X[self.filled:self.filled + X_block.shape[0]] = X_block
            self.targets[self.filled:self.filled + X_block.shape[0]] = targets
            self.filled += X_block.shape[0]
            while self.filled >= self.capacity:
                # Half the buffer, in whole batches where it holds more than one.
                rows = self.filled - self.capacity // 2
                if rows > batch:
                    rows -= rows % batch
                if not self._train(rows, learning_rate, epoch):
                    return Epoch(epoch[0], epoch[1], True)
        if self.filled and not self._train(self.filled, learning_rate, epoch):
            return Epoch(epoch[0], epoch[1], True)
        if epoch[1] == 0:
            raise ValueError("the source gave no rows")
        return Epoch(epoch[0], epoch[1])
