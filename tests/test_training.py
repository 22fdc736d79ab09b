"""Algorithm 4.1 end to end: learning, early stopping, precision, determinism, failure modes.

Private: the generator (``_rng``) of copied networks, equal but not shared.
"""

import os
import signal
import threading

import numpy as np
import pytest

import fnn


def blobs(n=300, seed=0, classes=3, features=4):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3, size=(classes, features))
    y = rng.integers(0, classes, size=n)
    return centres[y] + rng.normal(size=(n, features)), y


def test_exercise_4_2_xor_with_two_relu_units():
    X, y = fnn.io.datasets.make_xor()
    # A hand-constructed solution: h = ReLU(x₁ + x₂, x₁ + x₂ − 1), z = 10(h₁ − 2h₂) − 5.
    exact = fnn.Network([2, 2, 1], "relu", "logistic", dtype="float64", init="zeros")
    p = exact.parameters()
    p["weights_1"][...] = [[1, 1], [1, 1]]
    p["biases_1"][...] = [0, -1]
    p["weights_2"][...] = [[10, -20]]
    p["biases_2"][...] = [-5]
    np.testing.assert_array_equal(exact.predict(X), y)
    # Learned by SGD. With only two ReLU units many starts get stuck at 3/4 (a dead unit);
    # seed 8 is one that escapes, and the result must be exact.
    net = fnn.Network([2, 2, 1], "relu", "logistic", dtype="float64", seed=8)
    net.fit(X, y, learning_rate=0.1, max_epochs=2000, validation_fraction=0)
    np.testing.assert_array_equal(net.predict(X), y)
    assert net.predict_proba(X).shape == (4, 2)


def test_learns_digits():
    X, y = fnn.io.datasets.load_digits()
    net = fnn.Network([64, 32, 10], "relu", seed=0)
    history = net.fit(X[:1500], y[:1500], learning_rate=0.05, max_epochs=30)
    assert net.score(X[1500:], y[1500:]) > 0.9
    assert history.train_risk[-1] < history.train_risk[0]


def test_regression_fits_a_smooth_function():
    x = np.linspace(0, 1, 200)[:, None]
    y = np.sin(2 * np.pi * x[:, 0])
    net = fnn.Network([1, 20, 1], "tanh", "identity", dtype="float64", seed=0)
    net.fit(x, y, learning_rate=0.05, max_epochs=500, validation_fraction=0)
    assert net.score(x, y) > 0.98
    assert net.predict(x).shape == (200,)


def test_early_stopping_stops_and_restores_the_best_weights():
    X, y = blobs(400, seed=1)
    X_val, y_val = blobs(100, seed=1)
    rng = np.random.default_rng(5)
    y_val = np.where(rng.random(100) < 0.3, rng.integers(0, 3, 100), y_val)  # noisy: error plateaus
    net = fnn.Network([4, 16, 3], "tanh", seed=0)
    history = net.fit(X, y, learning_rate=0.05, max_epochs=200, patience=5, validation_data=(X_val, y_val))
    assert history.stopped_early
    errors = np.array(history.validation_error)
    assert history.best_epoch == int(np.argmin(errors)) + 1
    assert history.n_epochs == history.best_epoch + 5
    assert 1 - net.score(X_val, y_val) == pytest.approx(errors.min())
    assert len(history.validation_loss) == len(history.epoch_time) == history.n_epochs
    assert net.history_ is history


def test_validation_fraction_split_is_stratified_and_used():
    X, y = blobs(200, seed=2)
    net = fnn.Network([4, 8, 3], "relu", seed=0)
    history = net.fit(X, y, max_epochs=3, validation_fraction=0.25)
    assert len(history.validation_error) == 3
    # Each class gives a quarter of its samples: the held-out error is a multiple of 1/n_val.
    n_val = sum(int(round(0.25 * np.sum(y == c))) for c in range(3))
    assert np.allclose(np.array(history.validation_error) * n_val, np.round(np.array(history.validation_error) * n_val))


def test_float32_agrees_with_float64():
    X, y = blobs(300, seed=3)
    nets = [fnn.Network([4, 16, 3], "tanh", dtype=d, seed=7) for d in ("float32", "float64")]
    for net in nets:
        net.fit(X, y, learning_rate=0.02, max_epochs=5, validation_fraction=0)
    p32, p64 = nets[0].parameters(), nets[1].parameters()
    for name in p64:
        assert p32[name].dtype == np.float32
        np.testing.assert_allclose(p32[name], p64[name], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(nets[0].predict_proba(X), nets[1].predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_and_threads_give_identical_weights(batch_size, threads):
    X, y = blobs(300, seed=4)
    runs = []
    for _ in range(2):
        net = fnn.Network([4, 64, 32, 3], "relu", seed=11, n_threads=threads)
        net.fit(X, y, batch_size=batch_size, max_epochs=4)
        runs.append(net.parameters())
    for name in runs[0]:
        assert np.array_equal(runs[0][name], runs[1][name])
    other = fnn.Network([4, 64, 32, 3], "relu", seed=12, n_threads=threads)
    assert not np.array_equal(other.parameters()["weights_1"], runs[0]["weights_1"])


def test_a_copy_in_the_same_dtype_trains_as_the_original():
    # astype copies the random generator too: the copy's fit shuffles (and splits off its
    # validation rows) as the original's would. It once started a new generator, so two copies
    # of one network trained differently.
    X, y = blobs(300, seed=4)
    net = fnn.Network([4, 64, 32, 3], "relu", seed=11)
    net.fit(X, y, batch_size=8, max_epochs=1)  # (the generator has moved on from the seed's state)
    copies = [net.astype("float32") for _ in range(2)]
    for model in [net, *copies]:
        model.fit(X, y, batch_size=8, max_epochs=3)
    for name, array in net.parameters().items():
        for copy in copies:
            np.testing.assert_array_equal(copy.parameters()[name], array, err_msg=name)
    assert net._rng.integers(1 << 30) == copies[0]._rng.integers(1 << 30)  # equal, but not shared


@pytest.mark.parametrize("hidden", ["relu", fnn.PReLU(shared=True), fnn.Maxout(3)], ids=str)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_staging_thread_changes_nothing(weighted, hidden):
    # A network too small for two training threads is trained on one while the second stages the
    # shuffled samples through a ring of chunks; 3000 samples go round that ring many times.
    X, y = blobs(3000, seed=9, features=64)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y)) if weighted else None
    nets = [fnn.Network([64, 32, 10], hidden, seed=0, n_threads=t) for t in (1, 2)]
    for net in nets:
        net.fit(X, y, max_epochs=2, validation_fraction=0, l2=1e-4, sample_weight=w)
    for name, p in nets[0].parameters().items():
        assert np.array_equal(p, nets[1].parameters()[name])
    assert nets[0].history_.train_risk == nets[1].history_.train_risk


def test_divergence_early_in_a_staged_epoch_stops_the_staging_thread():
    # Divergence in the first samples of a long epoch: the training thread leaves while the
    # staging thread waits for free chunks of its ring; it must be told to stop (else: a hang).
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20000, 64)).astype(np.float32) * 1e4
    y = rng.integers(0, 10, size=20000)
    net = fnn.Network([64, 32, 10], "relu", seed=0, n_threads=2)
    with pytest.raises(fnn.TrainingDiverged):
        net.fit(X, y, learning_rate=1e6, max_epochs=3, validation_fraction=0)
    assert all(np.isfinite(p).all() for p in net.parameters().values())


def test_divergence_restores_finite_weights_and_explains():
    X, y = blobs(200, seed=5)
    X = X * 1e3
    net = fnn.Network([4, 32, 3], "relu", seed=0)
    net.fit(X, y, learning_rate=1e-9, max_epochs=1, validation_fraction=0)  # one harmless epoch
    with pytest.raises(fnn.TrainingDiverged, match="smaller learning_rate"):
        net.fit(X, y, learning_rate=1e3, max_epochs=50, validation_fraction=0)
    for p in net.parameters().values():
        assert np.isfinite(p).all()
    assert issubclass(fnn.TrainingDiverged, FloatingPointError)


def test_divergence_in_first_epoch_restores_the_starting_weights():
    X, y = blobs(200, seed=5)
    net = fnn.Network([4, 32, 3], "relu", seed=0)
    before = {k: v.copy() for k, v in net.parameters().items()}
    with pytest.raises(fnn.TrainingDiverged):
        net.fit(X * 1e6, y, learning_rate=1e6, max_epochs=5, validation_fraction=0)
    assert net.history_.n_epochs == 0
    for k, v in net.parameters().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("batch_size,n", [(1, 20000), (64, 100000)])
def test_ctrl_c_interrupts_within_an_epoch(batch_size, n):
    # One epoch here takes well over ten seconds; the interrupt arrives after 0.3 s.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 64)).astype(np.float32)
    y = rng.integers(0, 10, size=n)
    net = fnn.Network([64, 2048, 2048, 10], "relu", seed=0, n_threads=2)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.fit(X, y, batch_size=batch_size, max_epochs=1, validation_fraction=0)
    finally:
        timer.cancel()
    assert net.history_.n_epochs == 0
    assert all(np.isfinite(p).all() for p in net.parameters().values())
    # The network remains usable after the interrupt.
    assert net.predict(X[:5]).shape == (5,)


def test_multilabel_logistic_outputs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    Y = np.stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0], axis=1).astype(int)
    net = fnn.Network([3, 16, 2], "relu", "logistic", seed=0)
    net.fit(X, Y, learning_rate=0.05, max_epochs=50)
    assert net.predict(X).shape == (300, 2)
    assert net.score(X, Y) > 0.9


def test_predict_in_chunks_matches_one_block():
    X, y = blobs(1500, seed=6)  # more rows than one evaluation chunk
    net = fnn.Network([4, 8, 3], "tanh", dtype="float64", seed=0)
    whole = net.forward(X)
    parts = np.vstack([net.forward(X[i:i + 100]) for i in range(0, 1500, 100)])
    np.testing.assert_allclose(whole, parts, rtol=1e-13)


def test_evaluation_does_not_depend_on_the_thread_count():
    X, y = blobs(3000, seed=7)  # several evaluation chunks
    one = fnn.Network([4, 32, 3], "tanh", seed=0, n_threads=1)
    two = fnn.Network([4, 32, 3], "tanh", seed=0, n_threads=2)
    np.testing.assert_array_equal(one.forward(X), two.forward(X))
    assert one.risk(X, y, l2=0.1) == two.risk(X, y, l2=0.1)


@pytest.mark.parametrize("widths", [[300, 256, 3], [401, 134, 37, 3]], ids=["even", "odd-widths"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_per_sample_training_is_identical_on_one_and_two_threads(widths, dtype):
    # Large enough that the per-sample kernel uses two threads; every sum keeps its order. Rows
    # are split between the threads at a cache-line boundary, so the second thread's blocks of
    # rows differ from one thread's (134 and 37 rows leave partial blocks); a row's sum must not
    # depend on which rows share its block.
    X, y = blobs(200, seed=8, features=widths[0])
    nets = [fnn.Network(widths, "relu", seed=0, n_threads=t, dtype=dtype) for t in (1, 2)]
    for net in nets:
        net.fit(X, y, max_epochs=2, validation_fraction=0, l2=1e-4)
    for name, p in nets[0].parameters().items():
        assert np.array_equal(p, nets[1].parameters()[name])
