"""Property-based checks of the public API: any array layout or dtype of the same numbers gives
the same answer, and bad arguments raise TypeError or ValueError, never anything else.

Private: the generator's state (``_rng``), which a rejected call leaves untouched.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fnn

NET = fnn.Network([4, 6, 3], "tanh", seed=0)
SETTINGS = settings(max_examples=40, deadline=None)


@SETTINGS
@given(X=hnp.arrays(np.float64, st.tuples(st.integers(1, 20), st.just(4)), elements=st.floats(-10, 10)),
       layout=st.sampled_from(["C", "F", "strided", "float32", "int", "list"]))
def test_every_layout_of_the_same_numbers_predicts_the_same(X, layout):
    X = np.round(X) if layout == "int" else X
    reference = NET.forward(np.ascontiguousarray(X, dtype=np.float32))
    if layout == "F":
        given_X = np.asfortranarray(X)
    elif layout == "strided":
        given_X = np.repeat(X, 2, axis=0)[::2]
    elif layout == "float32":
        given_X = X.astype(np.float32)
    elif layout == "int":
        given_X = X.astype(np.int64)
    elif layout == "list":
        given_X = X.tolist()
    else:
        given_X = X
    np.testing.assert_array_equal(NET.forward(given_X), reference)


ANY = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=3),
                st.lists(st.integers(-2, 2), max_size=3))


@SETTINGS
@given(learning_rate=ANY, l2=ANY, batch_size=ANY, max_epochs=ANY, validation_fraction=ANY, sample_weight=ANY)
def test_bad_fit_arguments_raise_type_or_value_errors_and_change_nothing(learning_rate, l2, batch_size, max_epochs,
                                                                        validation_fraction, sample_weight):
    net = fnn.Network([4, 6, 3], "tanh", seed=1)
    before = {k: v.copy() for k, v in net.parameters().items()}
    state = net._rng.bit_generator.state
    X = np.random.default_rng(0).normal(size=(30, 4))
    y = np.arange(30) % 3
    kwargs = dict(learning_rate=learning_rate, l2=l2, batch_size=batch_size, max_epochs=max_epochs,
                  validation_fraction=validation_fraction, sample_weight=sample_weight)
    try:
        net.fit(X, y, **kwargs)
    except (TypeError, ValueError):
        assert net._rng.bit_generator.state == state
        for name, value in before.items():
            np.testing.assert_array_equal(net.parameters()[name], value)
    except fnn.TrainingDiverged:
        pass  # a huge learning rate is a valid argument
    else:
        assert net.history_ is not None


@SETTINGS
@given(shape=st.tuples(st.integers(0, 3), st.integers(0, 6)),
       dtype=st.sampled_from([np.float32, np.int8, bool, object, str]))
def test_bad_inputs_raise_type_or_value_errors(shape, dtype):
    X = np.zeros(shape, dtype=dtype)
    if X.shape == (X.shape[0], 4) and X.shape[0] > 0 and dtype in (np.float32, np.int8, bool):
        assert NET.predict(X).shape == (X.shape[0],)
        return
    with pytest.raises((TypeError, ValueError)):
        NET.predict(X)
