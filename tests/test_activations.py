"""Section 4.1 and table 4.2: each activation's value and derivative in the C++ engine."""

import numpy as np
import pytest
from reference import activation, derivative

import fnn

ELEMENTWISE = [
    fnn.Identity(), fnn.Logistic(), fnn.Tanh(), fnn.HardLogistic(), fnn.HardTanh(), fnn.ReLU(),
    fnn.LeakyReLU(), fnn.LeakyReLU(gamma=0.2), fnn.ELU(), fnn.ELU(gamma=0.5), fnn.Softplus(),
]

# Points away from the kinks (0, ±1, ±2) so central differences are valid everywhere.
Z = np.concatenate([np.linspace(-6, 6, 97) + 0.0371, [-30.3, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 30.3]])


@pytest.mark.parametrize("f", ELEMENTWISE, ids=repr)
def test_value_matches_the_chapters_formula(f):
    np.testing.assert_allclose(f(Z), activation(f.name, Z, f.gamma), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f", ELEMENTWISE, ids=repr)
def test_derivative_matches_central_differences(f):
    h = 1e-6
    numerical = (f(Z + h) - f(Z - h)) / (2 * h)
    np.testing.assert_allclose(f.derivative(Z), numerical, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f", ELEMENTWISE, ids=repr)
def test_derivative_matches_table_4_2(f):
    np.testing.assert_allclose(f.derivative(Z), derivative(f.name, Z, f.gamma), rtol=1e-12, atol=1e-12)


def test_hard_logistic_is_the_chapters_not_pytorchs():
    f = fnn.HardLogistic()
    # 0.25x + 0.5 clipped: reaches 1 at x = 2 (PyTorch's x/6 + 0.5 would give 0.8333 at 2).
    np.testing.assert_allclose(f(np.array([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0])),
                               [0, 0, 0.25, 0.5, 0.75, 1, 1])


def test_kink_conventions():
    z = np.array([0.0])
    assert fnn.ReLU().derivative(z)[0] == 0.0  # I(x > 0)
    assert fnn.LeakyReLU(0.1).derivative(z)[0] == pytest.approx(0.1)  # γ for x ≤ 0 (4.18)
    assert fnn.ELU(2.0).derivative(z)[0] == pytest.approx(2.0)  # γ·exp(0)


def test_vanishing_gradient_bounds_4_86_4_87():
    z = np.linspace(-20, 20, 4001)
    assert fnn.Logistic().derivative(z).max() == pytest.approx(0.25)
    assert fnn.Logistic().derivative(z).min() >= 0
    assert fnn.Tanh().derivative(z).max() == pytest.approx(1.0)
    assert fnn.Tanh().derivative(z).min() >= 0


def test_tanh_is_a_scaled_logistic_4_6():
    z = np.linspace(-5, 5, 101)
    np.testing.assert_allclose(fnn.Tanh()(z), 2 * fnn.Logistic()(2 * z) - 1, atol=1e-12)


def test_extreme_inputs_stay_finite():
    z = np.array([-1e4, -800.0, 800.0, 1e4])
    for f in ELEMENTWISE:
        assert np.isfinite(f(z)).all(), f
        assert np.isfinite(f.derivative(z)).all(), f
    np.testing.assert_allclose(fnn.Softplus()(z), [0, 0, 800, 1e4])
    np.testing.assert_allclose(fnn.Logistic()(z), [0, 0, 1, 1])


def test_resolve_names_and_errors():
    assert fnn.core.activations.resolve_activation("ReLU") == fnn.ReLU()
    assert fnn.core.activations.resolve_activation("sigmoid") == fnn.Logistic()
    assert fnn.core.activations.resolve_activation("leaky-relu") == fnn.LeakyReLU()
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        fnn.core.activations.resolve_activation("swish")
    with pytest.raises(TypeError):
        fnn.core.activations.resolve_activation(3)
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        fnn.ELU(gamma=-1)
    with pytest.raises(ValueError, match="pieces"):
        fnn.Maxout(pieces=0)
    assert repr(fnn.LeakyReLU(0.2)) == "LeakyReLU(gamma=0.2)"
