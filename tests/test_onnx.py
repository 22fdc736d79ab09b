"""ONNX export (``fnn.to_onnx``, ``fnn export``, skl2onnx's converters): onnxruntime's outputs
against fnn's own predictions, for every activation × output × dtype, the estimators, pipelines
with text and missing values, models saved by the command line, and what cannot be exported."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install 'fnn[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the test extra brings it)")
pd = pytest.importorskip("pandas")

ACTIVATIONS = ["identity", "logistic", "tanh", "hard_logistic", "hard_tanh", "relu", fnn.LeakyReLU(0.1), fnn.PReLU(),
               fnn.PReLU(shared=True), fnn.ELU(0.7), "softplus", fnn.Maxout(3)]
OUTPUTS = [("softmax", 4), ("logistic", 3), ("identity", 2)]
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


def run(proto, feed):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feed)


def perturbed_network(widths, activation, output, dtype, seed=0):
    """A network whose biases and slopes are not at their initial values (zeros, 0.25) either."""
    net = fnn.Network(widths, activations=activation, output=output, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    for array in net.parameters().values():
        array += rng.normal(scale=0.3, size=array.shape).astype(array.dtype)
    return net


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output,width", OUTPUTS, ids=[o for o, _ in OUTPUTS])
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=repr)
def test_every_activation_output_and_dtype_predicts_as_fnn(activation, output, width, dtype):
    net = perturbed_network([6, 9, 7, width], activation, output, dtype)
    X = np.random.default_rng(1).normal(scale=2.0, size=(257, 6)).astype(dtype)
    proto = fnn.to_onnx(net)
    onnx.checker.check_model(proto, full_check=True)
    (y_hat,) = run(proto, {"X": X})
    assert y_hat.dtype == np.dtype(dtype) and y_hat.shape == (257, width)
    np.testing.assert_allclose(y_hat, net.forward(X), rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("opset", [13, 17, 18, None])
def test_each_supported_opset_runs_the_same_network(opset):
    # Opset 18 moved ReduceMax's axes (maxout) from an attribute to an input.
    net = perturbed_network([5, 8, 6, 3], [fnn.Maxout(2), fnn.PReLU()], "softmax", "float32")
    X = np.random.default_rng(2).normal(size=(40, 5)).astype(np.float32)
    proto = fnn.to_onnx(net, opset=opset)
    assert proto.opset_import[0].version == (opset or 17)
    # The file format of the opset, not the onnx package's newest (which older runtimes refuse).
    assert proto.ir_version == onnx.helper.find_min_ir_version_for(list(proto.opset_import)) < onnx.IR_VERSION
    np.testing.assert_allclose(run(proto, {"X": X})[0], net.forward(X), atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(widths=st.lists(st.integers(1, 12), min_size=2, max_size=5),
       activation=st.sampled_from(ACTIVATIONS), output=st.sampled_from(["softmax", "logistic", "identity"]),
       seed=st.integers(0, 2**16), rows=st.integers(1, 50))
def test_any_network_shape_exports_and_predicts_as_fnn(widths, activation, output, seed, rows):
    if output == "softmax" and widths[-1] < 2:
        widths = widths[:-1] + [2]
    net = perturbed_network(widths, activation, output, "float64", seed)
    X = np.random.default_rng(seed).normal(scale=3.0, size=(rows, widths[0]))
    np.testing.assert_allclose(run(fnn.to_onnx(net), {"X": X})[0], net.forward(X), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ estimators


def quiet_fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (FitWarning: few epochs on purpose)
        return model.fit(X, y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("labels", ["binary int", "multiclass text", "multiclass float", "multi-label"])
def test_classifier_labels_and_probabilities_as_fnn(labels, dtype):
    X, y = _digits()
    y = {"binary int": (y >= 5).astype(int) * 3 + 1, "multiclass text": np.array([f"digit {d}" for d in y]),
         "multiclass float": (y % 3).astype(float), "multi-label": np.stack([y % 2, y >= 5, y == 0], axis=1)
         .astype(int)}[labels]
    model = quiet_fit(fnn.FNNClassifier(max_epochs=8, dtype=dtype, random_state=0), X, y)
    Xq = X.astype(dtype)
    label, probabilities = run(fnn.to_onnx(model), fnn.onnx_inputs(model, X))
    np.testing.assert_array_equal(label, model.predict(Xq))
    np.testing.assert_allclose(probabilities, model.predict_proba(Xq), atol=TOLERANCE[dtype])


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X, y  # raw pixels 0–16: the estimator's input scaling is part of the export


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("targets", [1, 3])
def test_regressor_predictions_in_the_targets_units(targets, dtype):
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    y = y if targets == 1 else np.stack([y, -y / 7, y * 100 + 5], axis=1)
    model = quiet_fit(fnn.FNNRegressor(max_epochs=20, dtype=dtype, random_state=0), X, y)
    (variable,) = run(fnn.to_onnx(model), fnn.onnx_inputs(model, X))
    expected = model.predict(X.astype(dtype)).reshape(len(X), targets)
    np.testing.assert_allclose(variable, expected, rtol=TOLERANCE[dtype] * 10, atol=TOLERANCE[dtype] * 1e3)


def test_an_estimator_at_its_defaults_on_raw_real_data():
    X, y = _digits()
    model = fnn.FNNClassifier(random_state=0).fit(X, y)
    label, probabilities = run(fnn.to_onnx(model), {"X": X.astype(np.float32)})
    assert (label == model.predict(X)).all()
    np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=1e-5)


# ------------------------------------------------------------------ pipelines


def mixed_table(n=400, seed=0):
    """Numbers with missing values and a stray word, text with missing values, numeric codes."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"area m²": rng.normal(80, 30, n), "district": rng.choice(["north", "south", None, "east"], n),
                          "zip": rng.choice([94110, 10001, 60601], n), "rooms": rng.integers(1, 6, n).astype(object)})
    frame.loc[rng.choice(n, 40, replace=False), "area m²"] = np.nan
    frame.loc[7, "rooms"] = "several"
    price = frame["area m²"].fillna(80) * 3 + (frame["district"] == "south") * 50 + rng.normal(0, 5, n)
    return frame, price.to_numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_pipeline_with_text_and_missing_values_takes_one_input_per_column(dtype):
    frame, price = mixed_table()
    labels = np.where(price > np.median(price), "dear", "cheap")
    model = quiet_fit(fnn.with_preprocessing(fnn.FNNClassifier(max_epochs=10, dtype=dtype, random_state=0),
                                             categorical=["zip"], numeric=["rooms"]), frame, labels)
    proto = fnn.to_onnx(model)
    kinds = {i.name: i.type.tensor_type.elem_type for i in proto.graph.input}
    assert kinds == {"area m²": onnx.TensorProto.DOUBLE, "district": onnx.TensorProto.STRING,
                     "zip": onnx.TensorProto.STRING, "rooms": onnx.TensorProto.DOUBLE}
    # New rows: a category not seen in training and a missing district among them.
    test = frame.iloc[:50].copy()
    test.loc[test.index[0], "district"] = "west"
    test.loc[test.index[1], "district"] = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (fnn's ColumnWarning about "west" and "several")
        expected_label, expected_p = model.predict(test), model.predict_proba(test)
        feed = fnn.onnx_inputs(model, test)
    label, probabilities = run(proto, feed)
    np.testing.assert_array_equal(label, expected_label)
    np.testing.assert_allclose(probabilities, expected_p, atol=TOLERANCE[dtype])


def test_a_regression_pipeline_saved_and_loaded_exports_the_same(tmp_path):
    frame, price = mixed_table(seed=1)
    model = quiet_fit(fnn.with_preprocessing(fnn.FNNRegressor(max_epochs=30, random_state=0)), frame, price)
    fnn.save(model, tmp_path / "model.npz")
    loaded = fnn.load(tmp_path / "model.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (variable,) = run(fnn.to_onnx(loaded), fnn.onnx_inputs(loaded, frame))
        np.testing.assert_allclose(variable[:, 0], model.predict(frame), rtol=1e-5, atol=1e-3)


def test_a_scikit_learn_pipeline_goes_through_skl2onnx():
    pytest.importorskip("skl2onnx")
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _digits()
    pipeline = quiet_fit(make_pipeline(StandardScaler(), PCA(20, random_state=0),
                                       fnn.FNNClassifier(max_epochs=8, random_state=0)), X, y)
    X32 = X.astype(np.float32)
    label, probabilities = run(fnn.to_onnx(pipeline), {"X": X32})
    assert (label == pipeline.predict(X32)).mean() > 0.99  # (PCA in float32 in ONNX, float64 in scikit-learn)
    np.testing.assert_allclose(probabilities, pipeline.predict_proba(X32), atol=1e-3)


@pytest.mark.parametrize("zipmap", [True, False])
def test_skl2onnx_to_onnx_converts_a_pipeline_ending_in_fnn(zipmap):
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    X, y = _digits()
    classifier = fnn.FNNClassifier(max_epochs=8, random_state=0)
    pipeline = quiet_fit(make_pipeline(MinMaxScaler(), classifier), X, y)
    fnn.register_onnx_converters()
    proto = skl2onnx.to_onnx(pipeline, X[:1].astype(np.float32), options={id(classifier): {"zipmap": zipmap}})
    label, probabilities = run(proto, {"X": X.astype(np.float32)})
    np.testing.assert_array_equal(label, pipeline.predict(X.astype(np.float32)))
    if zipmap:  # a list of {label: probability}, as for scikit-learn's classifiers
        probabilities = np.array([[row[c] for c in classifier.classes_] for row in probabilities])
    np.testing.assert_allclose(probabilities, pipeline.predict_proba(X.astype(np.float32)), atol=1e-5)

    regressor = make_pipeline(MinMaxScaler(), fnn.FNNRegressor(max_epochs=8, random_state=0, dtype="float64"))
    quiet_fit(regressor, X, y.astype(float))
    (variable,) = run(skl2onnx.to_onnx(regressor, X[:1]), {"X": X})
    np.testing.assert_allclose(variable[:, 0], regressor.predict(X), rtol=1e-9, atol=1e-9)


@pytest.mark.slow
def test_the_command_line_exports_a_model_it_trained(tmp_path):
    frame, price = mixed_table(seed=2)
    frame["price"] = price
    frame.to_csv(tmp_path / "flats.csv", index=False)
    fnn_cli = [sys.executable, "-m", "fnn"]
    subprocess.run(fnn_cli + ["train", str(tmp_path / "flats.csv"), "--target", "price", "-q", "--max-epochs", "20",
                              "--numeric", "rooms", "--categorical", "zip",
                              "-o", str(tmp_path / "model.npz")], check=True, capture_output=True)
    done = subprocess.run(fnn_cli + ["export", str(tmp_path / "model.npz"), str(tmp_path / "model.onnx")],
                          check=True, capture_output=True, text=True)
    assert "inputs area m², district, zip, rooms" in done.stdout and "outputs variable" in done.stdout
    model = fnn.load(tmp_path / "model.npz")
    table = frame.drop(columns="price")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (variable,) = run(onnx.load(tmp_path / "model.onnx"), fnn.onnx_inputs(model, table))
        np.testing.assert_allclose(variable[:, 0], model.predict(table), rtol=1e-5, atol=1e-3)
    failed = subprocess.run(fnn_cli + ["export", str(tmp_path / "model.npz"), str(tmp_path / "x.onnx"), "--opset",
                                       "7"], capture_output=True, text=True)
    assert failed.returncode == 2 and "opset must be an integer from 13" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_a_bfloat16_network_exports_its_float32_weights():
    if not fnn.bfloat16_available():
        pytest.skip("bfloat16 products need oneDNN and a CPU with AVX512-BF16 or AMX")
    net = perturbed_network([6, 9, 3], "relu", "softmax", "bfloat16")
    twin = net.astype("float32")
    X = np.random.default_rng(3).normal(size=(64, 6)).astype(np.float32)
    np.testing.assert_allclose(run(fnn.to_onnx(net), {"X": X})[0], twin.forward(X), atol=1e-5)


# ------------------------------------------------------------------ what cannot be exported


def test_what_onnx_cannot_express_is_refused_by_name():
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(NotFittedError, match="not fitted yet"):
        fnn.to_onnx(fnn.FNNClassifier())
    with pytest.raises(TypeError, match="not LogisticRegression"):
        fnn.to_onnx(LogisticRegression())
    with pytest.raises(ValueError, match="opset must be an integer from 13"):
        fnn.to_onnx(fnn.Network([2, 2]), opset=12)


def test_missing_text_and_the_empty_string_in_one_column_are_refused():
    frame = pd.DataFrame({"x": np.arange(30.0), "t": ["", None, "a"] * 10})
    model = quiet_fit(fnn.with_preprocessing(fnn.FNNRegressor(max_epochs=2)), frame, np.arange(30.0))
    with pytest.raises(ValueError, match="column 't' has both missing values and the empty string"):
        fnn.to_onnx(model)


def test_skl2onnx_refuses_what_its_layout_cannot_hold():
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
    fnn.register_onnx_converters()
    floats = quiet_fit(make_pipeline(StandardScaler(), fnn.FNNClassifier(max_epochs=2)), X, (X[:, 0] > 0).astype(float))
    with pytest.raises(ValueError, match="classes_ are floating-point numbers"):
        skl2onnx.to_onnx(floats, X[:1])
    # (fnn.to_onnx of the classifier alone labels with doubles: test_classifier_labels_and_probabilities_as_fnn)
    multilabel = quiet_fit(make_pipeline(StandardScaler(), fnn.FNNClassifier(max_epochs=2)), X, X > 0)
    with pytest.raises(ValueError, match="multi-label FNNClassifier with fnn.to_onnx"):
        skl2onnx.to_onnx(multilabel, X[:1])


def test_without_the_onnx_package_one_line_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'fnn\[onnx\]'"):
        fnn.to_onnx(fnn.Network([2, 2]))
