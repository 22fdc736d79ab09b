"""The engine is compiled for several instruction sets; the best one this CPU supports is used,
and every build computes the same network."""

import importlib

import numpy as np
import pytest

import fnn
from fnn import _core as baseline
from fnn import _engine

VARIANTS = {"fnn._core": 1, "fnn._core_x86_64_v3": 3, "fnn._core_x86_64_v4": 4}


def built_variants():
    modules = []
    for name in VARIANTS:
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            pass
    return modules


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
        engine_class = module.Engine32
        p = net.parameters()
        engine = engine_class([("tanh", 0.0, 1, p["weights_1"], p["biases_1"], None),
                               ("identity", 0.0, 1, p["weights_2"], p["biases_2"], None)], "softmax")
        engine.train_epoch(X, net._targets(y, 64), np.arange(64), 0.05, 0.0, batch, 1)
        out = np.empty((64, 3), dtype=np.float32)
        engine.predict(X, out, 16, 1)
        results.append(out)
    for out in results[1:]:
        np.testing.assert_allclose(out, results[0], rtol=1e-4, atol=1e-6)
