"""Bad input as careless users and attackers give it, and the message each gets (issue 25): the
exception type, and that the message names the row / column / value / path and what to do."""

import numpy as np
import pandas as pd
import pytest

import fnn
from fnn.io.model_file import ModelFileError

rng = np.random.default_rng(0)
X = rng.normal(size=(50, 3))
y = rng.normal(size=50)
labels = (y > 0).astype(int)
frame = pd.DataFrame(X, columns=["price", "area", "rooms"])


def with_entry(array, index, value):
    array = np.array(array, dtype=np.float64)
    array[index] = value
    return array


# (what is given, the call, the exception, what the message must say)
CASES = [
    ("an infinite target", lambda: fnn.FNNRegressor().fit(X, with_entry(y, 3, np.inf)),
     ValueError, r"y contains NaN or infinity \(first: row 3, value \[inf\]\).*drop those rows"),
    ("a missing label", lambda: fnn.FNNClassifier().fit(X, with_entry(labels, 5, np.nan)),
     ValueError, r"row 5, value \[nan\]"),
    ("targets near float64's largest", lambda: fnn.FNNRegressor().fit(X, y * 1e300),
     ValueError, r"targets up to .*e\+300 \(row \d+\).*divide the target"),
    ("an infinite cell of a DataFrame",
     lambda: fnn.FNNRegressor().fit(frame.assign(area=with_entry(X[:, 1], 7, -np.inf)), y),
     ValueError, r"X contains NaN or infinity \(first: row 7, column 'area': -inf\).*impute"),
    ("a missing cell of an array", lambda: fnn.FNNClassifier().fit(with_entry(X, (4, 2), np.nan), labels),
     ValueError, r"row 4, column 2: nan\).*fnn.with_preprocessing"),
    ("a column beyond float32's range", lambda: fnn.FNNRegressor().fit(frame.assign(price=X[:, 0] * 1e300), y),
     ValueError, r"beyond the range of float32 \(first: row 0, column 'price': .*e\+29\d\).*dtype='float64'"),
    ("a weight of 1e300", lambda: fnn.FNNRegressor().fit(X, y, sample_weight=with_entry(np.ones(50), 0, 1e300)),
     ValueError, r"sample_weight spans too wide a range for float32: sample_weight\[0\] = 1e\+300 makes "
                 r"sample_weight\[1\] = 1 \(and 48 more\) vanish.*clip the weights"),
    ("an infinite weight", lambda: fnn.FNNClassifier().fit(X, labels, sample_weight=with_entry(np.ones(50), 9, np.inf)),
     ValueError, r"sample_weight\[9\] is inf: weights must be finite numbers >= 0"),
    ("a negative weight", lambda: fnn.Network([3, 2]).fit(X, labels, sample_weight=with_entry(np.ones(50), 2, -1)),
     ValueError, r"sample_weight\[2\] = -1"),
    ("an infinite class weight", lambda: fnn.FNNClassifier(class_weight={0: np.inf, 1: 1}).fit(X, labels),
     ValueError, r"class_weight\[0\] is inf"),
    ("class weights 1e300 apart", lambda: fnn.FNNClassifier(class_weight={0: 1e300, 1: 1}).fit(X, labels),
     ValueError, r"class_weight spans 1 to 1e\+300"),
    ("a missing cell in Network.fit", lambda: fnn.Network([3, 2]).fit(with_entry(X, (6, 1), np.nan), labels),
     ValueError, r"X\[6, 1\] = nan.*impute or drop"),
    ("pandas' nullable Float64 with a missing value, in Network.fit",
     lambda: fnn.Network([3, 2]).fit(frame.astype("Float64").mask(frame == frame.iloc[2, 0]), labels),
     ValueError, r"X\[2, 0\] = nan"),
    ("a model saved into a missing directory", lambda: fnn.Network([3, 2]).save("/nonexistent/models/m.npz"),
     ModelFileError, r"cannot save to /nonexistent/models/m.npz: directory /nonexistent/models does not exist"),
]


@pytest.mark.parametrize("given, call, error, message", CASES, ids=[case[0] for case in CASES])
def test_bad_input_gets_a_message_naming_it(given, call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_pandas_nullable_columns_train_a_network_as_the_estimators_do():
    plain = frame.assign(rooms=np.arange(50) % 4)
    nullable = plain.astype({"price": "Float64", "rooms": "Int64"})
    net, same = fnn.Network([3, 2], seed=0), fnn.Network([3, 2], seed=0)
    net.fit(nullable, labels, max_epochs=2)
    same.fit(plain.to_numpy(), labels, max_epochs=2)
    for name, array in net.parameters().items():
        np.testing.assert_array_equal(array, same.parameters()[name])


def test_a_model_file_that_cannot_be_written_leaves_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    fnn.Network([3, 2], seed=0).save(path)
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(ModelFileError, match=r"cannot save to .*m.npz: No space left on device; the previous file"):
        fnn.Network([3, 2], seed=1).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left behind
