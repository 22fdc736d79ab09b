"""The output layers as objects (fnn.core.outputs): targets, decisions, scores and strata per kind."""

import numpy as np
import pytest

import fnn
from fnn.core.outputs import OUTPUT_LAYERS, output_layer


def test_each_network_output_is_its_layer_object_and_unknown_names_are_refused():
    for name in ("softmax", "logistic", "identity"):
        net = fnn.Network([3, 4, 2], output=name, seed=0)
        assert net.output_layer is OUTPUT_LAYERS[name] and net.output == name
    with pytest.raises(ValueError, match="output must be one of"):
        output_layer("sigmoid")
    with pytest.raises(ValueError, match="unknown output"):
        fnn.Network([3, 2], output=["softmax"])


def test_decisions_errors_and_probabilities_by_kind():
    y_hat = np.array([[0.2, 0.8], [0.7, 0.3]])
    softmax, logistic, identity = (output_layer(n) for n in ("softmax", "logistic", "identity"))
    assert softmax.decide(y_hat).tolist() == [1, 0]
    assert softmax.error_rate(y_hat, np.array([[0.0, 1.0], [0.0, 1.0]])) == 0.5
    assert logistic.decide(y_hat).tolist() == [[0, 1], [1, 0]]
    assert logistic.probabilities(np.array([[0.25]])).tolist() == [[0.75, 0.25]]  # (4.36)
    assert identity.decide(np.array([[1.5], [2.5]])).tolist() == [1.5, 2.5]
    assert identity.score(np.array([[1.0], [2.0]]), np.array([[1.0], [2.0]])) == 1.0
    with pytest.raises(TypeError, match="classification output"):
        identity.probabilities(y_hat)


def test_strata_follow_classes_labels_and_label_combinations():
    rows = np.arange(4)
    one_hot = np.eye(3)[[0, 2, 1, 2]]
    stratum_of, count = output_layer("softmax").stratifier(one_hot)
    assert count == 3 and stratum_of(rows).tolist() == [0, 2, 1, 2]
    labels = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    stratum_of, count = output_layer("logistic").stratifier(labels)
    assert count == 3 and len(set(stratum_of(rows)[:2])) == 1 and len(set(stratum_of(rows).tolist())) == 3
    assert output_layer("identity").stratifier(np.zeros((4, 1))) is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", ["softmax", "logistic", "identity"])
def test_output_layers_at_extreme_net_inputs_in_both_prediction_paths(output, dtype):
    """ŷ from net inputs far into saturation (±1e30, ±800, −inf-like spreads) as the reference
    computes it, in calls the per-sample products run (whole-packet exponentials, any output width
    up to past a packet) and in calls of BLAS products (over 512 rows); NaN or infinite outputs
    are an error, never returned."""
    from reference import Reference

    big = 1e30
    for units in ((1, 3, 17) if output != "softmax" else (2, 3, 17)):
        net = fnn.Network([2, units], output=output, seed=0, dtype=dtype)
        p = net.parameters()
        p["weights_1"][...] = np.linspace(-1, 1, 2 * units).reshape(units, 2)
        p["biases_1"][...] = 0
        rows = np.array([[0.0, 0.0], [800.0, -800.0], [-800.0, 3.0], [big, 0.0], [0.0, -big], [1e-3, 5.0]])
        if output == "identity":
            rows = rows[np.abs(rows).max(axis=1) < 1e4]  # (identity returns z itself)
        X = np.resize(rows, (600, 2)).astype(dtype)
        with np.errstate(over="ignore"):  # (the reference's 1 / (1 + exp(−z)) at z = −1e30: exactly 0)
            expected = Reference.of(net.astype("float64")).forward(X.astype(np.float64))[1][-1]
        for n in (1, len(rows), 600):  # 600 rows: BLAS products
            got = net.forward(X[:n])
            assert np.isfinite(got).all()
            # (float32: z itself is rounded, by up to ~1e-4 of |z| ≈ 800 with these weights)
            np.testing.assert_allclose(got, expected[:n], rtol=2e-4 if dtype == "float32" else 1e-12, atol=1e-30)
    net = fnn.Network([2, 3], output=output, seed=0, dtype=dtype)
    huge = np.array([[np.finfo(dtype).max, np.finfo(dtype).max]])
    if output == "logistic":  # an infinite z saturates: 0 or 1
        assert set(net.forward(huge).ravel()) <= {0.0, 1.0}
    else:
        with pytest.raises(FloatingPointError, match="NaN or infinite"):
            net.forward(huge)
