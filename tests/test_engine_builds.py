"""The engine is compiled for several instruction sets; the best one this CPU supports is used,
and every build computes the same network.

The engine builds (``fnn._engine``, ``fnn._core*``) are the piece under test.
"""


import numpy as np
import pytest

import fnn
from fnn import _core as baseline
from fnn import _engine
from fnn.network import engine_for
from reference import sgd_settings

VARIANTS = {"fnn._core": 1, "fnn._core_x86_64_v3": 3, "fnn._core_x86_64_v4": 4}


def built_variants():
    """Every engine build that was compiled; each must load beside the others (a build that is
    present but fails to import would silently leave the slower baseline in use)."""
    import importlib.util

    return [importlib.import_module(name) for name in VARIANTS if importlib.util.find_spec(name) is not None]


def test_the_best_supported_build_is_in_use():
    level = baseline.cpu_level()
    assert level in (1, 3, 4)
    usable = [m for m in built_variants() if VARIANTS[m.__name__] <= level]
    best = max(usable, key=lambda m: VARIANTS[m.__name__])
    assert _engine.core is best


@pytest.mark.parametrize("batch", [1, 8])
def test_every_build_trains_the_same_network(batch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 12)).astype(np.float32)
    y = rng.integers(0, 3, size=64)
    level = baseline.cpu_level()
    results = []
    for module in built_variants():
        if VARIANTS[module.__name__] > level:
            continue  # this CPU cannot run it
        net = fnn.Network([12, 16, 3], "tanh", seed=0, n_threads=1)
        engine = engine_for(module, net)
        engine.train_epoch(X, net._targets(y, 64), np.arange(64), sgd_settings(0.05, 0.0, batch, module), 1)
        out = np.empty((64, 3), dtype=np.float32)
        engine.predict(X, out, 16, 1)
        results.append(out)
    for out in results[1:]:
        np.testing.assert_allclose(out, results[0], rtol=1e-4, atol=1e-6)


engine_of = engine_for  # `module`'s engine viewing `net`'s parameters, as Network._core builds it


# Widths that give the per-sample kernel partial blocks of rows, columns past the last whole
# packet, an output layer wider than a packet (softmax without the one-packet path) and layers
# split unevenly between two threads (the last shape is large enough to be trained on two).
SHAPES = [[37, 21, 10], [64, 32, 10], [20, 18, 17], [9, 40, 35, 3], [401, 134, 37, 3]]


@pytest.mark.parametrize("widths", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_build_matches_the_reference_in_per_sample_sgd(widths, dtype):
    from reference import Reference, one_hot

    rng = np.random.default_rng(1)
    n, classes = 40, widths[-1]
    X = rng.normal(size=(n, widths[0]))
    y = rng.integers(0, classes, size=n)
    order = rng.permutation(n)
    start = fnn.Network(widths, "relu", seed=2, dtype="float64")
    ref = Reference.of(start)
    ref.sgd_epoch(X, one_hot(y, classes), order, lr=0.05, l2=0.01, batch=1)
    tolerance = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-4, atol=2e-5)
    level = baseline.cpu_level()
    for module in built_variants():
        if VARIANTS[module.__name__] > level:
            continue
        trained = []
        for threads in (1, 2):
            net = start.astype(dtype)
            engine = engine_of(module, net)
            X_typed = X.astype(dtype)
            engine.train_epoch(X_typed, net._targets(y, n), order, sgd_settings(0.05, 0.01, 1, module), threads)
            trained.append(net.parameters())
            for l, layer in enumerate(ref.layers, start=1):
                np.testing.assert_allclose(net.parameters()[f"weights_{l}"], layer["W"], **tolerance,
                                           err_msg=f"{module.__name__}, {threads} threads, layer {l}")
                np.testing.assert_allclose(net.parameters()[f"biases_{l}"], layer["b"], **tolerance,
                                           err_msg=f"{module.__name__}, {threads} threads, layer {l}")
        for name in trained[0]:  # and one thread or two change nothing, bit for bit
            np.testing.assert_array_equal(trained[0][name], trained[1][name], err_msg=f"{module.__name__} {name}")


@pytest.mark.determinism
@pytest.mark.parametrize("widths", SHAPES + [[300, 64, 40, 5]], ids=str)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_builds_prediction_matches_the_reference_and_not_the_rows_beside_it(widths, dtype):
    """Prediction (sample_forward.hpp: blocks of W's rows met by passes of samples, `together` at a
    time) on every build: the reference's forward pass, and a row's output the same alone, in a
    call of 512 rows (offered two threads) or picked by index — for networks above
    8,192 parameters on the AVX-512 build only (the others take OpenBLAS products for them)."""
    from reference import Reference

    rng = np.random.default_rng(3)
    X = rng.normal(size=(512, widths[0]))
    net = fnn.Network(widths, "tanh", seed=4, dtype="float64")
    expected = Reference.of(net).forward(X)[1][-1]
    tolerance = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=1e-4, atol=1e-5)
    typed, X_typed = net.astype(dtype), X.astype(dtype)
    for module in built_variants():
        if VARIANTS[module.__name__] > baseline.cpu_level():
            continue
        engine = engine_of(module, typed)
        full = np.empty((512, widths[-1]), dtype=dtype)
        engine.predict(X_typed, full, 512, 2)
        np.testing.assert_allclose(full, expected, **tolerance, err_msg=module.__name__)
        if net.n_parameters > 8192 and VARIANTS[module.__name__] < 4:
            continue  # (without AVX-512 such a network takes OpenBLAS products: training.hpp, exact_evaluation)
        for first, rows in ((0, 1), (5, 1), (3, 4), (7, 61), (100, 412)):
            part = np.empty((rows, widths[-1]), dtype=dtype)
            engine.predict(X_typed[first:first + rows], part, 512, 1)
            np.testing.assert_array_equal(part, full[first:first + rows], err_msg=f"{module.__name__} {first}+{rows}")
        picked = rng.permutation(512)[:300]
        part = np.empty((300, widths[-1]), dtype=dtype)
        engine.predict(X_typed, part, 512, 2, picked)
        np.testing.assert_array_equal(part, full[picked], err_msg=module.__name__)
