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
