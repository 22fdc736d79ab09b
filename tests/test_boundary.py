"""The C++/Python boundary: shared memory, no silent copies, clear errors, nothing changed.

The boundary is private: the engine (``_core``) and the generator (``_rng``), whose untouched state
is what a rejected call promises.
"""

import numpy as np
import pytest

import fnn
from fnn._engine import core as _core


def make(**kwargs):
    return fnn.Network([3, 4, 2], "relu", seed=0, **kwargs)


def state(net):
    return {k: v.copy() for k, v in net.parameters().items()}, net._rng.bit_generator.state


def assert_unchanged(net, saved):
    params, rng = saved
    for k, v in net.parameters().items():
        np.testing.assert_array_equal(v, params[k])
    assert net._rng.bit_generator.state == rng


def test_parameters_are_shared_with_the_engine():
    net = make()
    p = net.parameters()
    X = np.random.default_rng(0).normal(size=(50, 3))
    y = (X[:, 0] > 0).astype(int)
    before = p["weights_1"].copy()
    net.fit(X, y, max_epochs=2, validation_fraction=0)
    after = net.parameters()
    for name in p:
        assert after[name] is p[name]
        assert np.shares_memory(after[name], p[name])
    assert not np.array_equal(before, p["weights_1"])  # updated in place
    # Writing into the arrays changes what the engine computes.
    for name in p:
        p[name][...] = 0
    np.testing.assert_allclose(net.predict_proba(X), 0.5)


def test_shapes_and_names_follow_the_chapter():
    net = fnn.Network([5, 4, 3, 2], [fnn.PReLU(), fnn.Maxout(3)], seed=0)
    shapes = {k: v.shape for k, v in net.parameters().items()}
    assert shapes == {"weights_1": (4, 5), "biases_1": (4,), "slopes_1": (4,),
                      "weights_2": (3, 3, 4), "biases_2": (3, 3),
                      "weights_3": (2, 3), "biases_3": (2,)}
    assert net.n_parameters == sum(np.prod(s) for s in shapes.values())
    assert fnn.Network([5, 2], output="softmax").n_layers == 1


def test_engine_refuses_to_copy_silently():
    net = fnn.Network([3, 2], seed=0)  # float32
    engine = net._core()
    out = np.empty((4, 2), dtype=np.float32)
    with pytest.raises(TypeError):
        engine.predict(np.zeros((4, 3), dtype=np.float64), out, 16, 1)
    with pytest.raises(TypeError):
        engine.predict(np.zeros((3, 4), dtype=np.float32).T, out, 16, 1)  # Fortran order
    engine.predict(np.zeros((4, 3), dtype=np.float32), out, 16, 1)


def layer(weights, biases, activation=_core.Activation.identity):
    return _core.LayerSpec(activation=activation, gamma=0.0, pieces=1, weights=weights, biases=biases)


def test_engine_rejects_foreign_parameter_arrays():
    w = np.zeros((2, 3), dtype=np.float64)
    softmax = _core.Output.softmax
    with pytest.raises(TypeError, match="dtype"):
        _core.Engine32([layer(w, np.zeros(2, np.float32))], softmax)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.Engine64([layer(np.zeros((3, 2)).T, np.zeros(2))], softmax)
    with pytest.raises(ValueError, match="elements"):
        _core.Engine64([layer(w, np.zeros(3))], softmax)
    with pytest.raises(TypeError):  # the boundary takes the engine's own enums, not names
        _core.Engine64([layer(w, np.zeros(2))], "softmax")
    with pytest.raises(TypeError):
        _core.LayerSpec(activation="swish", gamma=0.0, pieces=1, weights=w, biases=np.zeros(2))
    with pytest.raises(ValueError, match="the output layer's activation"):
        _core.Engine64([layer(w, np.zeros(2), _core.Activation.relu)], softmax)


def test_input_of_another_dtype_is_converted_at_the_python_boundary():
    net = make()
    X = np.random.default_rng(0).normal(size=(10, 3))  # float64 into a float32 network
    assert net.predict(X.tolist()).shape == (10,)
    np.testing.assert_array_equal(net.forward(X), net.forward(X.astype(np.float32)))
    np.testing.assert_array_equal(net.forward(np.asfortranarray(X)), net.forward(X))


def bad_calls():
    good_X = np.ones((4, 3))
    good_y = np.array([0, 1, 0, 1])
    return [
        ("fit", (np.ones((4, 2)), good_y), {}, ValueError, "has 2 features, but the network expects 3"),
        ("fit", (np.ones(3), good_y), {}, ValueError, "must be 2-D"),
        ("fit", (np.ones((0, 3)), good_y[:0]), {}, ValueError, "empty"),
        ("fit", (np.array([[1, 2, np.nan]] * 4), good_y), {}, ValueError, "NaN or infinity"),
        ("fit", (np.array([[1, 2, np.inf]] * 4), good_y), {}, ValueError, "NaN or infinity"),
        ("fit", (np.array([["a", "b", "c"]] * 4), good_y), {}, TypeError, "must hold numbers"),
        ("fit", (good_X, np.array([0, 1, 2, 1])), {}, ValueError, "label 2, outside 0..1"),
        ("fit", (good_X, np.array([0, 1, -1, 1])), {}, ValueError, "label -1"),
        ("fit", (good_X, np.array([0, 1, 0.5, 1])), {}, ValueError, "non-integer"),
        ("fit", (good_X, np.array(["a", "b", "a", "b"])), {}, TypeError, "integer class labels"),
        ("fit", (good_X, np.array([0, 1, 0])), {}, ValueError, "X has 4 samples but y has 3"),
        ("fit", (good_X, good_y), {"learning_rate": 0}, ValueError, "learning_rate must be > 0"),
        ("fit", (good_X, good_y), {"learning_rate": -1}, ValueError, "learning_rate must be > 0"),
        ("fit", (good_X, good_y), {"learning_rate": float("nan")}, ValueError, "finite"),
        ("fit", (good_X, good_y), {"l2": -0.1}, ValueError, "l2 must be >= 0"),
        ("fit", (good_X, good_y), {"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ("fit", (good_X, good_y), {"batch_size": 2.5}, TypeError, "batch_size must be an integer"),
        ("fit", (good_X, good_y), {"max_epochs": 0}, ValueError, "max_epochs"),
        ("fit", (good_X, good_y), {"patience": 0}, ValueError, "patience"),
        ("fit", (good_X, good_y), {"validation_fraction": 1.0}, ValueError, "validation_fraction must be < 1"),
        ("fit", (good_X, good_y), {"validation_fraction": 0.01}, ValueError, "empty training or validation"),
        ("fit", (good_X, good_y), {"validation_data": (np.ones((2, 4)), [0, 1])}, ValueError, "X_val has 4 features"),
        ("fit", (good_X, good_y), {"validation_data": (np.ones((2, 3)), [0, 5])}, ValueError, "y_val has label 5"),
        ("fit", (good_X, good_y), {"validation_data": np.ones(3)}, TypeError, "validation_data must be a tuple"),
        ("predict", (np.ones((4, 5)),), {}, ValueError, "has 5 features"),
        ("score", (good_X, np.array([0, 1])), {}, ValueError, "X has 4 samples but y has 2"),
        ("loss_and_gradients", (good_X, good_y), {"l2": -1}, ValueError, "l2 must be >= 0"),
    ]


@pytest.mark.parametrize("method,args,kwargs,error,message", bad_calls(), ids=lambda v: v if isinstance(v, str) else "")
def test_bad_input_raises_and_changes_nothing(method, args, kwargs, error, message):
    net = make()
    saved = state(net)
    with pytest.raises(error, match=message):
        getattr(net, method)(*args, **kwargs)
    assert_unchanged(net, saved)
    assert net.history_ is None


@pytest.mark.parametrize("kwargs,error,message", [
    ({"widths": [3]}, ValueError, "at least the input and output"),
    ({"widths": [3, 0, 2]}, ValueError, r"widths\[1\] must be >= 1"),
    ({"widths": [3, -4, 2]}, ValueError, "must be >= 1"),
    ({"widths": [3, 2.5, 2]}, TypeError, "must be an integer"),
    ({"widths": "3,4"}, TypeError, "sequence of layer widths"),
    ({"widths": [3, 4, 2], "activations": "swish"}, ValueError, "unknown activation"),
    ({"widths": [3, 4, 2], "activations": ["relu", "tanh"]}, ValueError, "2 activations given for 1 hidden"),
    ({"widths": [3, 4, 1]}, ValueError, "softmax output needs at least 2"),
    ({"widths": [3, 4, 2], "output": "sigmoid"}, ValueError, "unknown output"),
    ({"widths": [3, 4, 2], "dtype": "float16"}, ValueError, "float32, float64 or bfloat16"),
    ({"widths": [3, 4, 2], "init": "xavier"}, ValueError, "unknown init"),
    ({"widths": [3, 4, 2], "n_threads": 0}, ValueError, "n_threads must be >= 1"),
])
def test_bad_construction_is_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        fnn.Network(**kwargs)


def test_targets_for_other_outputs_are_checked():
    X = np.ones((3, 2))
    logistic = fnn.Network([2, 1], output="logistic")
    with pytest.raises(ValueError, match="only 0 and 1"):
        logistic.fit(X, [0, 2, 1])
    regression = fnn.Network([2, 2], output="identity")
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        regression.fit(X, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        regression.fit(X, np.full((3, 2), np.nan))
    with pytest.raises(TypeError, match="predict_proba needs a classification output"):
        regression.predict_proba(X)


def test_pickle_round_trip_keeps_predictions():
    import pickle

    net = make()
    X = np.random.default_rng(0).normal(size=(10, 3))
    twin = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(twin.forward(X), net.forward(X))
