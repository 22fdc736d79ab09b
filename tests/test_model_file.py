"""Model files: exact round trips, atomic writes, and a clear error for every bad file."""

import json
import os
import zipfile

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import fnn
from fnn.io import model_file


@pytest.fixture
def data():
    X, y = make_blobs(n_samples=200, centers=3, n_features=4, random_state=1)
    return X.astype(np.float32), y


def test_network_round_trip_predicts_and_trains_bit_identically(tmp_path, data):
    X, y = data
    net = fnn.Network([4, 8, 3], fnn.LeakyReLU(0.1), seed=3)
    net.fit(X, y, max_epochs=3, l2=1e-4)
    path = tmp_path / "net.npz"
    net.save(path)
    twin = fnn.load(path)
    assert isinstance(twin, fnn.Network) and twin.activations == net.activations
    np.testing.assert_array_equal(twin.forward(X), net.forward(X))
    assert twin.training_settings_ == net.training_settings_
    assert twin.history_.train_risk == net.history_.train_risk
    # The generator state travels too: the next fit shuffles the same way on both.
    net.fit(X, y, max_epochs=2)
    twin.fit(X, y, max_epochs=2)
    for name, array in net.parameters().items():
        np.testing.assert_array_equal(twin.parameters()[name], array)


@pytest.mark.parametrize("activation", ["tanh", fnn.PReLU(shared=True), fnn.Maxout(3), fnn.ELU(0.5)], ids=str)
def test_every_parameter_kind_round_trips(tmp_path, data, activation):
    X, y = data
    net = fnn.Network([4, 6, 5, 3], activation, dtype="float64", seed=0)
    net.fit(X, y, max_epochs=2)
    net.save(tmp_path / "m.npz")
    twin = fnn.load(tmp_path / "m.npz")
    assert twin.dtype == np.float64 and set(twin.parameters()) == set(net.parameters())
    np.testing.assert_array_equal(twin.forward(X), net.forward(X))


def test_classifier_and_regressor_round_trip(tmp_path, data):
    X, y = data
    labels = np.array(["a", "b", "c"], dtype=object)[y]
    clf = fnn.FNNClassifier((8,), activation=fnn.ELU(), random_state=0, class_weight={"a": 2.0, "b": 1.0, "c": 1.0})
    clf.fit(X, labels)
    clf.save(tmp_path / "clf.npz")
    twin = fnn.load(tmp_path / "clf.npz")
    assert type(twin) is fnn.FNNClassifier and twin.get_params() == clf.get_params()
    np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(twin.predict(X), clf.predict(X))
    assert twin.classes_.dtype == object and twin.loss_curve_ == clf.loss_curve_
    assert (twin.n_iter_, twin.best_epoch_) == (clf.n_iter_, clf.best_epoch_)

    reg = fnn.FNNRegressor((8,), random_state=0, max_epochs=5).fit(X, np.c_[X[:, 0] * 30, X[:, 1]])
    reg.save(tmp_path / "reg.npz")
    twin = fnn.load(tmp_path / "reg.npz")
    np.testing.assert_array_equal(twin.predict(X), reg.predict(X))
    np.testing.assert_array_equal(twin.target_scale_, reg.target_scale_)


def test_unfitted_estimator_and_unsaveable_parameters_are_refused(tmp_path, data):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        fnn.FNNClassifier().save(tmp_path / "x.npz")
    X, y = data
    clf = fnn.FNNClassifier((4,), random_state=np.random.RandomState(0), max_epochs=2).fit(X, y)
    with pytest.raises(fnn.ModelFileError, match="random_state"):
        clf.save(tmp_path / "x.npz")
    assert not list(tmp_path.iterdir())


@pytest.fixture
def saved(tmp_path, data):
    X, y = data
    net = fnn.Network([4, 8, 3], seed=0)
    net.fit(X, y, max_epochs=2)
    path = tmp_path / "model.npz"
    net.save(path)
    return path


def test_truncated_file(saved):
    content = saved.read_bytes()
    saved.write_bytes(content[: len(content) // 2])
    with pytest.raises(fnn.ModelFileError, match="not an fnn model file|truncated|corrupted"):
        fnn.load(saved)


def test_corrupted_byte_is_caught_by_the_checksums(saved):
    content = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("weights_1.npy")
    # Flip a byte in the middle of the weights' stored data (after the local header).
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    content[offset] ^= 0xFF
    saved.write_bytes(bytes(content))
    with pytest.raises(fnn.ModelFileError, match="corrupted"):
        fnn.load(saved)


def test_foreign_files(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(fnn.ModelFileError, match="not an fnn model file"):
        fnn.load(text)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.arange(3))
    with pytest.raises(fnn.ModelFileError, match="not an fnn model file"):
        fnn.load(plain)
    with pytest.raises(FileNotFoundError, match="no model file"):
        fnn.load(tmp_path / "missing.npz")
    with pytest.raises(fnn.ModelFileError, match="directory"):
        fnn.load(tmp_path)


def rewrite(path, change_header=None, extra=None, drop=None):
    with np.load(path, allow_pickle=False) as archive:
        entries = {name: archive[name] for name in archive.files}
    header = json.loads(entries["__metadata__"].tobytes())
    if change_header:
        change_header(header)
    entries["__metadata__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    entries.update(extra or {})
    for name in drop or ():
        del entries[name]
    with open(path, "wb") as stream:
        np.savez(stream, **entries)


def test_files_of_format_version_1_with_curves_as_json_still_load(tmp_path, data):
    # Version 1 held the curves in the metadata; version 2 stores them as arrays. The same model,
    # written the old way, loads to the same curves and predictions.
    X, y = data
    clf = fnn.FNNClassifier((8,), random_state=0, max_epochs=4).fit(X, y)
    path = tmp_path / "clf.npz"
    clf.save(path)
    with np.load(path, allow_pickle=False) as archive:
        curves = {name: archive[name].tolist() for name in archive.files if "history/" in name or "fitted/" in name}
    assert {"fitted/loss_curve_", "network/history/train_risk"} <= set(curves)

    def as_version_1(header):
        header["format_version"] = 1
        for name, values in curves.items():
            owner = header["fitted"] if name.startswith("fitted/") else header["network"]["history"]
            owner[name.rsplit("/", 1)[1]] = values

    rewrite(path, as_version_1, drop=curves)
    twin = fnn.load(path)
    assert twin.loss_curve_ == clf.loss_curve_ and twin.validation_scores_ == clf.validation_scores_
    assert twin.history_.train_risk == clf.history_.train_risk and twin.history_.epoch_time == clf.history_.epoch_time
    np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))


def test_a_curve_stored_both_ways_is_refused(tmp_path, data):
    X, y = data
    path = tmp_path / "clf.npz"
    fnn.FNNClassifier((8,), random_state=0, max_epochs=2).fit(X, y).save(path)
    rewrite(path, lambda h: h["fitted"].update(loss_curve_=[1.0, 2.0]))
    with pytest.raises(fnn.ModelFileError, match="loss_curve_ is stored twice"):
        fnn.load(path)
    rewrite(path, lambda h: h["fitted"].pop("loss_curve_"), extra={"fitted/loss_curve_": np.zeros((2, 2))})
    with pytest.raises(fnn.ModelFileError, match="loss_curve_ must be a 1-D float64 array"):
        fnn.load(path)


def test_newer_format_version_asks_for_an_upgrade(saved):
    rewrite(saved, lambda h: h.update(format_version=model_file.FORMAT_VERSION + 1))
    with pytest.raises(fnn.ModelFileError, match="upgrade fnn"):
        fnn.load(saved)


def test_unknown_kind_and_other_formats(saved):
    rewrite(saved, lambda h: h.update(kind="Transformer"))
    with pytest.raises(fnn.ModelFileError, match="Transformer"):
        fnn.load(saved)
    rewrite(saved, lambda h: h.update(format="other-tool"))
    with pytest.raises(fnn.ModelFileError, match="not an fnn model file"):
        fnn.load(saved)


def test_missing_or_misshapen_arrays(saved):
    rewrite(saved, drop=["biases_1"])
    with pytest.raises(fnn.ModelFileError, match="biases_1 is missing"):
        fnn.load(saved)
    rewrite(saved, extra={"biases_1": np.zeros(5, dtype=np.float32)})
    with pytest.raises(fnn.ModelFileError, match="biases_1 has shape"):
        fnn.load(saved)


def test_pickled_object_arrays_are_never_loaded(saved, tmp_path):
    # An object array is stored as a pickle; loading must refuse it rather than run it.
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with np.load(saved, allow_pickle=False) as archive:
        entries = {name: archive[name] for name in archive.files}
    entries["weights_1"] = np.array([Payload()], dtype=object)
    with open(saved, "wb") as stream:
        np.savez(stream, **entries)
    with pytest.raises(fnn.ModelFileError):
        fnn.load(saved)
    assert not marker.exists()


def test_a_failed_write_leaves_the_old_file_intact(saved, monkeypatch, data):
    before = saved.read_bytes()
    X, y = data
    other = fnn.Network([4, 16, 3], seed=1)

    def crash(stream, **entries):
        stream.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(model_file.np, "savez", crash)
    with pytest.raises(model_file.ModelFileError, match="disk full; the previous file is unchanged"):
        other.save(saved)
    assert saved.read_bytes() == before
    assert sorted(os.listdir(saved.parent)) == [saved.name]  # no temporary file left behind
    monkeypatch.undo()
    assert fnn.load(saved).widths == [4, 8, 3]


def test_feature_names_of_a_dataframe_round_trip(tmp_path, data):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = fnn.FNNClassifier((4,), random_state=0, max_epochs=3).fit(frame, y)
    clf.save(tmp_path / "f.npz")
    twin = fnn.load(tmp_path / "f.npz")
    assert list(twin.feature_names_in_) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(twin.predict_proba(frame), clf.predict_proba(frame))
