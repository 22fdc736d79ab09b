"""dtype="bfloat16": matrix products on bfloat16 copies of the weights, activations and δ with
float32 accumulation, everything else float32 (see fnn/_bfloat16.py and cpp/onednn.hpp).

The reference is NumPy: the same step with every product's operands rounded to bfloat16 (round to
nearest even) and the products summed in float64. fnn must match it up to float32 accumulation,
which shows exactly which operands are rounded; against the float64 gradient without rounding,
the error must be within the bound bfloat16's rounding implies (test_gradient_error_bound).

Private pieces: the engine's hooks (``_core()``: hand-over, blocks of rows) and the generator
(``_rng``), unchanged by a rejected call.
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fnn
from fnn import _bfloat16

pytestmark = pytest.mark.skipif(
    not _bfloat16.instructions(), reason="this CPU has no AVX512-BF16 or AMX-BF16 instructions"
)

U = 2.0**-9  # unit round-off of bfloat16 (8 significant bits, round to nearest)


def to_bfloat16(x):
    """float32 → nearest bfloat16 (ties to even), returned as float64 values."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32).astype(np.float64)


def activation(name, z):
    return np.maximum(z, 0) if name == "relu" else np.tanh(z)


def derivative(name, z, a):
    return (z > 0).astype(np.float64) if name == "relu" else 1 - a * a


def reference_step(params, X, Y, hidden, output, rounded=True):
    """Summed weight gradients Σ δᵀa of one mini-batch step, and ŷ, as fnn's bfloat16 path computes
    them (`rounded`) or exactly in float64."""
    r = to_bfloat16 if rounded else (lambda v: np.asarray(v, dtype=np.float64))
    L = len(params) // 2
    W = [np.asarray(params[f"weights_{l}"], np.float64) for l in range(1, L + 1)]
    b = [np.asarray(params[f"biases_{l}"], np.float64) for l in range(1, L + 1)]
    a, zs, acts = np.asarray(X, np.float64), [], []
    acts.append(a)
    for l in range(L):
        z = r(acts[-1]) @ r(W[l]).T + b[l]
        if not rounded:
            z = z.astype(np.float64)
        else:
            z = z.astype(np.float32).astype(np.float64)
        zs.append(z)
        if l + 1 < L:
            a = activation(hidden, z)
            acts.append(a.astype(np.float32).astype(np.float64) if rounded else a)
    z = zs[-1]
    if output == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        y_hat = e / e.sum(axis=1, keepdims=True)
    else:
        y_hat = z
    delta = y_hat - Y
    grads = [None] * L
    for l in range(L - 1, -1, -1):
        grads[l] = r(delta).T @ r(acts[l])
        if l > 0:
            grad_a = r(delta) @ r(W[l])
            delta = derivative(hidden, zs[l - 1], acts[l]) * grad_a
    return grads, y_hat


def one_step_gradients(net, X, y):
    """Σ δᵀa of one plain-SGD step of fnn over the rows of X (α = 1, one batch)."""
    before = {k: v.astype(np.float64) for k, v in net.parameters().items()}
    net.fit(X, y, batch_size=len(X), max_epochs=1, learning_rate=1.0, l2=0.0, validation_fraction=0, shuffle=False)
    after = net.parameters()
    return [(before[f"weights_{l}"] - after[f"weights_{l}"]) * len(X) for l in range(1, net.n_layers + 1)]


def normwise(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def problem(widths, hidden, output, rows=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, widths[0])).astype(np.float32)
    if output == "softmax":
        y = rng.integers(0, widths[-1], rows)
        Y = np.eye(widths[-1])[y]
    else:
        y = rng.normal(size=(rows, widths[-1])).astype(np.float32)
        Y = y.astype(np.float64)
    net = fnn.Network(widths, hidden, output, dtype="bfloat16", seed=seed)
    # Biases away from zero, so that they too enter the step.
    for name, p in net.parameters().items():
        if name.startswith("biases"):
            p[...] = rng.normal(scale=0.1, size=p.shape)
    return net, X, y, Y


CASES = [([30, 40, 25, 5], "relu", "softmax"), ([17, 33, 3], "tanh", "identity"), ([100, 512, 10], "relu", "softmax")]


@pytest.mark.parametrize("widths, hidden, output", CASES)
def test_a_step_is_the_step_with_bfloat16_operands(widths, hidden, output):
    net, X, y, Y = problem(widths, hidden, output)
    params = {k: v.copy() for k, v in net.parameters().items()}
    emulated, _ = reference_step(params, X, Y, hidden, output)
    for l, g in enumerate(one_step_gradients(net, X, y)):
        # float32 accumulation (and a rare bfloat16 rounding that it tips over) against float64
        # sums of the same bfloat16 operands: far below bfloat16's own error, tested below.
        assert normwise(g, emulated[l]) < 2e-4, f"layer {l + 1}"


@pytest.mark.parametrize("widths, hidden, output", CASES)
def test_gradient_error_bound(widths, hidden, output):
    """Against the exact float64 gradient: each product of bfloat16 operands with float32 sums
    errs by at most (2u + u²)·Σ|aᵢ||bᵢ| + k·2⁻²⁴·Σ|aᵢ||bᵢ| (u = 2⁻⁹, k terms), and a layer's δ
    carries the errors of the products above it: one forward product per layer, then one
    backward product per layer below the output. For L layers the gradient of layer 1 is at
    most 2L such steps away: normwise within 2L·(2u + u²)·‖|δ|ᵀ|a|‖/‖δᵀa‖ + float32's share.
    The test checks the bound, and that the error is of bfloat16's size, not float32's (the
    products really are in bfloat16)."""
    net, X, y, Y = problem(widths, hidden, output)
    params = {k: v.copy() for k, v in net.parameters().items()}
    exact, _ = reference_step(params, X, Y, hidden, output, rounded=False)
    got = one_step_gradients(net, X, y)
    L = len(widths) - 1
    abs_exact, _ = reference_step({k: np.abs(v) for k, v in params.items()}, np.abs(X), np.abs(Y), "relu",
                                  "identity", rounded=False)
    for l in range(L):
        steps = 2 * L
        bound = steps * (2 * U + U * U) * np.linalg.norm(abs_exact[l]) / np.linalg.norm(exact[l]) + 1e-5
        error = normwise(got[l], exact[l])
        assert error <= min(bound, 0.25), f"layer {l + 1}: {error:.2e} > {bound:.2e}"
        assert error > 1e-5, f"layer {l + 1}: error {error:.1e} is float32's, not bfloat16's"


def test_predict_uses_bfloat16_products():
    net, X, _, Y = problem([30, 40, 25, 5], "relu", "softmax", rows=300)
    emulated = reference_step({k: v.copy() for k, v in net.parameters().items()}, X, Y, "relu", "softmax")[1]
    exact = reference_step({k: v.copy() for k, v in net.parameters().items()}, X, Y, "relu", "softmax",
                           rounded=False)[1]
    got = net.forward(X)
    assert got.dtype == np.float32
    assert np.abs(got - emulated).max() < 1e-5
    assert np.abs(got - exact).max() > 1e-5  # (not the float32 products)
    float32 = net.astype("float32")
    assert not float32.bfloat16
    np.testing.assert_allclose(float32.forward(X), exact, atol=1e-5)


def test_digits_to_the_accuracy_of_float32():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    accuracy = {}
    for dtype in ("float32", "bfloat16"):
        scores = []
        for seed in range(3):
            net = fnn.Network([64, 128, 10], "relu", dtype=dtype, seed=seed)
            net.fit(X_train, y_train, batch_size=32, learning_rate=0.1, max_epochs=30, validation_fraction=0)
            scores.append(float((net.predict(X_test) == y_test).mean()))
        accuracy[dtype] = np.mean(scores)
    assert accuracy["float32"] > 0.95
    assert abs(accuracy["bfloat16"] - accuracy["float32"]) <= 0.005, accuracy


def trained(threads, batch=64, epochs=2, **fit):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 100)).astype(np.float32)
    y = rng.integers(0, 10, 600)
    net = fnn.Network([100, 512, 10], "relu", dtype="bfloat16", seed=0, n_threads=threads)
    net.fit(X, y, batch_size=batch, max_epochs=epochs, validation_fraction=0, **fit)
    return {k: v.copy() for k, v in net.parameters().items()}, net


@pytest.mark.parametrize("fit", [{}, {"optimiser": "adam", "learning_rate": 1e-3}, {"l2": 1e-3},
                                 {"optimiser": "momentum", "clip_norm": 0.5}])
def test_deterministic_and_one_or_two_threads_give_the_same_weights(fit):
    one, _ = trained(1, **fit)
    two, _ = trained(2, **fit)
    again, _ = trained(2, **fit)
    for name in one:
        np.testing.assert_array_equal(one[name], two[name], err_msg=name)
        np.testing.assert_array_equal(two[name], again[name], err_msg=name)


def test_long_steps_and_a_team_losing_its_cores_give_the_same_weights():
    expected, _ = trained(2, batch=200)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 100)).astype(np.float32)
    y = rng.integers(0, 10, 600)
    net = fnn.Network([100, 512, 10], "relu", dtype="bfloat16", seed=0, n_threads=2)
    net._core()._switch_to_one_thread_at = 1
    net.fit(X, y, batch_size=200, max_epochs=2, validation_fraction=0)
    for name, value in net.parameters().items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
    net = fnn.Network([100, 512, 10], "relu", dtype="bfloat16", seed=0, n_threads=2)
    net._core()._mini_batch_block_rows = 64  # steps of 200 rows as products of up to 64 rows
    net.fit(X, y, batch_size=200, max_epochs=2, validation_fraction=0)
    for name, value in net.parameters().items():
        np.testing.assert_allclose(value, expected[name], atol=1e-2, err_msg=name)


@pytest.mark.parametrize("hidden", [fnn.PReLU(), fnn.PReLU(shared=True), fnn.Maxout(2)])
def test_prelu_and_maxout_train_in_bfloat16_as_in_float32(hidden):
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    nets = {}
    for dtype in ("float32", "bfloat16"):
        nets[dtype] = fnn.Network([64, 64, 10], hidden, dtype=dtype, seed=0, n_threads=2)
        nets[dtype].fit(X, y, batch_size=32, learning_rate=0.05, max_epochs=3, validation_fraction=0)
    for name, value in nets["bfloat16"].parameters().items():
        reference = nets["float32"].parameters()[name]
        assert 0 < np.abs(value - reference).max() < 0.05 * np.abs(reference).max() + 1e-3, name
    assert abs(nets["bfloat16"].score(X, y) - nets["float32"].score(X, y)) < 0.02


def test_bad_settings_are_refused_before_any_work():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)).astype(np.float32)
    y = rng.integers(0, 3, 50)
    net = fnn.Network([4, 8, 3], dtype="bfloat16", seed=0)
    before = {k: v.copy() for k, v in net.parameters().items()}
    state = net._rng.bit_generator.state
    with pytest.raises(ValueError, match="batch_size must be at least 2"):
        net.fit(X, y)  # batch_size=1: per-sample steps
    for name, value in net.parameters().items():
        np.testing.assert_array_equal(value, before[name])
    assert net._rng.bit_generator.state == state
    with pytest.raises(ValueError, match="float32, float64 or bfloat16"):
        fnn.Network([4, 3], dtype="float16")


def test_a_cpu_without_bfloat16_instructions_gets_an_error_naming_them(monkeypatch):
    monkeypatch.setattr(_bfloat16, "instructions", lambda: "")
    with pytest.raises(ValueError, match="AVX512-BF16 .* AMX-BF16"):
        fnn.Network([4, 3], dtype="bfloat16")
    with pytest.raises(ValueError, match="AVX512-BF16"):
        fnn.FNNClassifier(dtype="bfloat16", batch_size=8).fit([[0.0], [1.0]], [0, 1])


def test_without_onednn_the_error_says_what_to_install(monkeypatch, tmp_path):
    assert fnn.bfloat16_available()
    monkeypatch.setenv("FNN_ONEDNN_LIBRARY", str(tmp_path / "missing.so"))
    assert not fnn.bfloat16_available()
    with pytest.raises(ImportError, match=r"pip install 'fnn\[bfloat16\]'"):
        fnn.Network([4, 3], dtype="bfloat16")


def test_model_files_keep_bfloat16(tmp_path):
    net, X, y, _ = problem([30, 40, 25, 5], "relu", "softmax")
    net.fit(X, y, batch_size=16, max_epochs=2, validation_fraction=0)
    net.save(tmp_path / "m.fnn")
    loaded = fnn.load(tmp_path / "m.fnn")
    assert loaded.bfloat16 and loaded.dtype == np.float32 and "bfloat16" in repr(loaded)
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
    assert pickle.loads(pickle.dumps(net)).bfloat16
    old = net.astype("float32").__getstate__()
    del old["bfloat16"]  # a pickle from before dtype="bfloat16"
    twin = fnn.Network.__new__(fnn.Network)
    twin.__setstate__(old)
    assert not twin.bfloat16 and twin.forward(X).dtype == np.float32


def test_estimators_take_dtype_bfloat16():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    clf = fnn.FNNClassifier((64,), dtype="bfloat16", batch_size=32, learning_rate=0.01, random_state=0)
    clf.fit(X_train, y_train)
    assert clf.network_.bfloat16 and clone(clf).get_params()["dtype"] == "bfloat16"
    assert clf.score(X_test, y_test) > 0.9
    assert clf.predict_proba(X_test[:1]).dtype == np.float64
    reg = fnn.FNNRegressor((32,), dtype="bfloat16", batch_size=16, random_state=0, max_epochs=5)
    reg.fit(X_train, y_train.astype(float))
    assert reg.network_.bfloat16 and np.isfinite(reg.predict(X_test)).all()
    with pytest.raises(ValueError, match="batch_size must be at least 2"):
        fnn.FNNClassifier(dtype="bfloat16", batch_size=1).fit(X_train, y_train)
    # batch_size="auto" (the default) picks mini-batches of 32 at least for bfloat16 products.
    auto = fnn.FNNClassifier((16,), dtype="bfloat16", max_epochs=2, random_state=0).fit(X_train[:150], y_train[:150])
    assert auto.network_.training_settings_["batch_size"] == 32
    with pytest.raises(ValueError, match="float32, float64 or bfloat16"):
        fnn.FNNClassifier(dtype="half").fit(X_train, y_train)


@pytest.mark.slow
def test_command_line_and_a_forked_child(tmp_path):
    command = [sys.executable, "-m", "fnn", "--dtype", "bfloat16", "--batch-size", "32", "--learning-rate", "0.1",
               "--max-epochs", "5"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "bfloat16" in result.stdout and "test accuracy" in result.stdout
    result = subprocess.run([sys.executable, "-m", "fnn", "--dtype", "bfloat16"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "--batch-size must be at least 2" in result.stderr
    code = textwrap.dedent("""
        import multiprocessing as mp, numpy as np, fnn
        rng = np.random.default_rng(0)
        X = rng.normal(size=(300, 100)).astype(np.float32); y = rng.integers(0, 10, 300)
        net = fnn.Network([100, 512, 10], dtype="bfloat16", seed=0, n_threads=2)
        net.fit(X, y, batch_size=64, max_epochs=1, validation_fraction=0)
        def child(_):
            twin = fnn.Network([100, 512, 10], dtype="bfloat16", seed=0, n_threads=2)
            twin.fit(X, y, batch_size=64, max_epochs=1, validation_fraction=0)
            return net.predict(X[:20]).tolist(), twin.predict(X[:20]).tolist()
        with mp.get_context("fork").Pool(2) as pool:
            for mine, twins in pool.map(child, [0, 1]):
                assert mine == net.predict(X[:20]).tolist() == twins
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, OMP_NUM_THREADS="2"))
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


@pytest.mark.slow
def test_onednn_products_start_no_threads_of_their_own():
    # oneDNN runs each product on the calling thread (onednn.hpp): with one fnn thread, no other
    # thread may appear, whichever OpenMP runtime oneDNN was linked with — a repaired wheel vendors
    # a renamed libgomp for fnn's engine while oneDNN keeps the system's (the wheel session of
    # noxfile.py runs this test against such a wheel).
    code = textwrap.dedent("""
        import os, numpy as np, fnn
        X = np.random.default_rng(0).random((2048, 64), dtype=np.float32)
        net = fnn.Network([64, 256, 10], dtype="bfloat16", seed=0, n_threads=1)
        net.forward(X[:2])  # oneDNN loaded
        before = len(os.listdir("/proc/self/task"))
        net.fit(X, np.arange(2048) % 10, batch_size=128, max_epochs=2, verbose=False)
        net.predict(X)
        print(before, len(os.listdir("/proc/self/task")))
    """)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    environment["OPENBLAS_NUM_THREADS"] = "1"  # (OpenBLAS's own pool, of no interest here)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env=environment)
    assert result.returncode == 0, result.stderr
    before, after = map(int, result.stdout.split())
    assert after == before, f"{after - before} thread(s) started by bfloat16 products on one fnn thread"
