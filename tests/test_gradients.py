"""Backpropagation (4.59)-(4.62) against central differences (4.64), in float64."""

import numpy as np
import pytest

import fnn

HIDDEN = [
    "logistic", "tanh", "hard_logistic", "hard_tanh", "relu", fnn.LeakyReLU(0.1), fnn.PReLU(),
    fnn.PReLU(init=0.1, shared=True), fnn.ELU(0.7), "softplus", fnn.Maxout(3), "identity",
]


def problem(output, n=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    if output == "softmax":
        return X, rng.integers(0, 3, size=n), 3
    if output == "logistic":
        return X, rng.integers(0, 2, size=(n, 2)), 2
    return X, rng.normal(size=(n, 2)), 2


@pytest.mark.parametrize("output", ["softmax", "logistic", "identity"])
@pytest.mark.parametrize("hidden", HIDDEN, ids=str)
def test_gradients_match_central_differences(hidden, output):
    X, y, m = problem(output)
    net = fnn.Network([4, 5, 4, m], hidden, output, dtype="float64", seed=1)
    # Move biases off zero so piecewise units do not sit on a kink.
    for name, p in net.parameters().items():
        if name.startswith("biases"):
            p[...] = np.random.default_rng(2).uniform(-0.5, 0.5, size=p.shape)
    errors = fnn.check_gradients(net, X, y, l2=0.03)
    assert set(errors) == set(net.parameters())
    assert max(errors.values()) < 1e-5, errors


def test_single_logistic_output_and_float32_network():
    X, _, _ = problem("softmax")
    y = (X[:, 0] > 0).astype(int)
    net = fnn.Network([4, 3, 1], "tanh", "logistic", seed=0)  # float32: checked in a float64 copy
    before = {k: v.copy() for k, v in net.parameters().items()}
    errors = fnn.check_gradients(net, X, y, l2=0.1)
    assert max(errors.values()) < 1e-5
    for k, v in net.parameters().items():
        assert v.dtype == np.float32 and np.array_equal(v, before[k])


def test_check_gradients_detects_a_wrong_gradient(monkeypatch):
    X, y, m = problem("softmax")
    net = fnn.Network([4, 3, m], "tanh", dtype="float64", seed=0)
    real = fnn.Network.loss_and_gradients

    def broken(self, *args, **kwargs):
        risk, grads = real(self, *args, **kwargs)
        grads["weights_1"][0, 0] *= 1.01
        return risk, grads

    monkeypatch.setattr(fnn.Network, "loss_and_gradients", broken)
    errors = fnn.check_gradients(net, X, y)
    assert errors["weights_1"] > 1e-3
    assert errors["weights_2"] < 1e-6


def test_worked_example_of_section_4_5_3():
    """f(x; w, b) = σ(wx + b) at x = 1, w = 0, b = 0 gives ∂f/∂w = ∂f/∂b = 0.25 (4.72).

    A 1-1-1 network with a logistic hidden unit and output weight 1 computes f; with squared
    error against target f − 1 the output error is 1, so ∂L/∂w and ∂L/∂b equal ∂f/∂w and ∂f/∂b.
    """
    net = fnn.Network([1, 1, 1], "logistic", "identity", init="zeros", dtype="float64")
    p = net.parameters()
    p["weights_2"][...] = 1.0
    x = np.array([[1.0]])
    f = net.forward(x)[0, 0]
    assert f == 0.5
    risk, grads = net.loss_and_gradients(x, np.array([f - 1]))
    assert risk == 0.5
    assert grads["weights_1"][0, 0] == 0.25
    assert grads["biases_1"][0] == 0.25


def test_l2_penalises_weights_but_never_biases_or_slopes():
    X, y, m = problem("softmax")
    net = fnn.Network([4, 3, m], fnn.PReLU(), dtype="float64", seed=0)
    p = net.parameters()
    p["biases_1"][...] = 5.0
    r0, g0 = net.loss_and_gradients(X, y, l2=0.0)
    r1, g1 = net.loss_and_gradients(X, y, l2=0.5)
    w_norm = sum((p[k] ** 2).sum() for k in p if k.startswith("weights"))
    assert r1 - r0 == pytest.approx(0.25 * w_norm, rel=1e-12)  # λ/2 ‖W‖², λ not divided by N
    for k in p:
        if k.startswith("weights"):
            np.testing.assert_allclose(g1[k] - g0[k], 0.5 * p[k], atol=1e-12)
        else:
            np.testing.assert_array_equal(g1[k], g0[k])
