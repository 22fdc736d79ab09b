"""Data larger than memory: memory-mapped arrays without a copy, and sources of blocks trained
through a shuffle buffer (fnn.scale.streaming).

Private: ``streaming._split_target``, the target column of a block.
"""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits

import fnn
import fnn.scale.streaming as streaming

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_DIGITS = (X_DIGITS / 16).astype(np.float32)


def peak_allocation(work):
    """The largest amount of memory (bytes) allocated at once while work() runs (NumPy's data
    buffers included)."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_memory_mapped_array_is_trained_on_where_it_lies(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((20000, 64), dtype=np.float32)  # 5 MB
    y = rng.integers(0, 3, size=20000)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    net = fnn.Network([64, 8, 3], seed=0)
    peak = peak_allocation(lambda: net.fit(mapped, y, max_epochs=1, validation_fraction=0.1))
    assert peak < X.nbytes / 4  # the order, the split and the targets; never a copy of X
    twin = fnn.Network([64, 8, 3], seed=0)
    twin.fit(X, y, max_epochs=1, validation_fraction=0.1)
    for name, array in twin.parameters().items():
        np.testing.assert_array_equal(net.parameters()[name], array)
    # An estimator without input scaling takes it without a copy too.
    model = fnn.FNNClassifier((8,), input_scaling=None, max_epochs=1, random_state=0)
    assert peak_allocation(lambda: model.fit(mapped, y)) < X.nbytes / 2


def blocks_of(X, y, sizes):
    def source():
        start = 0
        for size in sizes:
            yield X[start:start + size], y[start:start + size]
            start += size
        if start < X.shape[0]:
            yield X[start:], y[start:]
    return source


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=8), st.sampled_from([1, 16]))
def test_a_buffer_that_holds_everything_trains_as_in_memory_whatever_the_blocks(sizes, batch_size):
    X, y = X_DIGITS[:600], Y_DIGITS[:600]
    streamed = fnn.Network([64, 16, 10], seed=1)
    streaming.fit(streamed, blocks_of(X, y, sizes), shuffle_buffer=601, batch_size=batch_size, max_epochs=2,
                  learning_rate=0.05)
    whole = fnn.Network([64, 16, 10], seed=1)
    whole.fit(X, y, batch_size=batch_size, max_epochs=2, learning_rate=0.05, validation_fraction=0)
    for name, array in whole.parameters().items():
        np.testing.assert_array_equal(streamed.parameters()[name], array)
    assert streamed.history_.train_risk == whole.history_.train_risk


def test_a_small_buffer_trains_well_in_bounded_memory():
    def many_rows():  # 120k rows of 64 features (31 MB in float32), made a block at a time
        for block in range(60):
            rows = np.arange(block * 2000, (block + 1) * 2000) % X_DIGITS.shape[0]
            yield X_DIGITS[rows], Y_DIGITS[rows]

    net = fnn.Network([64, 32, 10], seed=0)
    peak = peak_allocation(lambda: streaming.fit(net, many_rows, shuffle_buffer=4096, max_epochs=2,
                                                 learning_rate=0.02, validation_data=(X_DIGITS[:300], Y_DIGITS[:300])))
    row_bytes = 64 * 4 + 10 * 4 + 64 * 8  # a row of the buffer, its targets, and the block as given (float64)
    assert peak < (4096 + 2000) * row_bytes * 3  # the buffer, one block and their copies: not 120k rows
    assert net.history_.n_epochs == 2 and net.score(X_DIGITS, Y_DIGITS) > 0.95


def test_csv_and_parquet_sources(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X_DIGITS, columns=[f"p{i}" for i in range(64)])
    frame["digit"] = Y_DIGITS
    frame.to_csv(tmp_path / "digits.csv", index=False)
    sources = [streaming.csv_blocks(tmp_path / "digits.csv", "digit", rows=250)]
    try:
        frame.to_parquet(tmp_path / "digits.parquet")
        sources.append(streaming.parquet_blocks(tmp_path / "digits.parquet", target=-1, rows=300))
    except ImportError:
        pass
    for source in sources:
        net = fnn.Network([64, 32, 10], seed=0)
        streaming.fit(net, source, shuffle_buffer=512, max_epochs=8, learning_rate=0.02)
        assert net.score(X_DIGITS, Y_DIGITS) > 0.95
    np.save(tmp_path / "X.npy", X_DIGITS)
    np.save(tmp_path / "y.npy", Y_DIGITS)
    net = fnn.Network([64, 32, 10], seed=0)
    streaming.fit(net, streaming.npy_blocks(tmp_path / "X.npy", tmp_path / "y.npy", rows=100), shuffle_buffer=512,
                  max_epochs=8, learning_rate=0.02)
    assert net.score(X_DIGITS, Y_DIGITS) > 0.95


def test_bad_sources_and_blocks_are_named():
    net = fnn.Network([64, 8, 10], seed=0)
    with pytest.raises(ValueError, match="an iterable source is read once: give max_epochs=1"):
        streaming.fit(net, [(X_DIGITS, Y_DIGITS)])
    with pytest.raises(TypeError, match="callable"):
        streaming.fit(net, X_DIGITS)
    # An iterator (a generator, say) trains one epoch.
    history = streaming.fit(net, iter([(X_DIGITS[:900], Y_DIGITS[:900]), (X_DIGITS[900:], Y_DIGITS[900:])]),
                            max_epochs=1, shuffle_buffer=500)
    assert history.n_epochs == 1 and np.isfinite(history.train_risk[0])
    with pytest.raises(ValueError, match="shuffle_buffer must be at least 2"):
        streaming.fit(net, blocks_of(X_DIGITS, Y_DIGITS, [100]), shuffle_buffer=1)
    with pytest.raises(ValueError, match="no rows"):
        streaming.fit(net, lambda: iter(()))
    bad = X_DIGITS[:200].copy()
    bad[150, 3] = np.nan
    with pytest.raises(ValueError, match="block 2 of the source: .*NaN"):
        streaming.fit(net, blocks_of(bad, Y_DIGITS[:200], [100, 100]), shuffle_buffer=64)
    with pytest.raises(ValueError, match="block 1 of the source: .*features"):
        streaming.fit(net, blocks_of(X_DIGITS[:, :10], Y_DIGITS, [100]))
    with pytest.raises(ValueError, match="no column 'label'"):
        streaming._split_target(__import__("pandas").DataFrame({"a": [1]}), "label")
