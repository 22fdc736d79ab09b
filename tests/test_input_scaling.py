"""Inputs standardised inside the estimators (issue 11, part): raw data of any scale trains at
the defaults; the scaling is learned once, applied everywhere, and saved exactly.

Private pieces: the validation split (``training_loop.split``, with the targets' encoding
``_targets``) and the finiteness check (``all_finite``), counted.
"""

import io
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.model_selection import train_test_split

import fnn
from fnn.training.early_stopping import EarlyStopping
from fnn.io.model_file import ModelFileError
from fnn.training.training_loop import split

#: The chapter's per-sample SGD (the estimators' solver before Adam): the failures below are its own.
PLAIN_SGD = {"solver": "sgd", "momentum": 0.0, "learning_rate": 0.01, "batch_size": 1}


@pytest.mark.parametrize("loader, chance", [(load_breast_cancer, 0.63), (load_wine, 0.40)])
def test_defaults_on_raw_real_data_are_far_above_chance(loader, chance):
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    score = fnn.FNNClassifier(random_state=0).fit(X_train, y_train).score(X_test, y_test)
    assert score > 0.9, score  # without input scaling: 0.63 and 0.40, the majority class
    # Unscaled, the chapter's SGD ends at the majority class, or its ReLUs die: now a warning or an error.
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fnn.FNNClassifier(random_state=0, input_scaling=False, **PLAIN_SGD).fit(X_train, y_train)
        except fnn.TrainingDiverged as error:
            assert "died" in str(error)
        else:
            assert any(issubclass(w.category, fnn.FitWarning) and "chance level" in str(w.message) for w in caught)


def test_the_network_sees_standardised_inputs_and_constant_columns_are_only_centred():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(1e6, 1e5, 200), np.full(200, 7.0), rng.normal(0, 1e-3, 200)])
    y = (X[:, 0] > 1e6).astype(int)
    clf = fnn.FNNClassifier((8,), max_epochs=3, random_state=0).fit(X, y)
    scaler = clf.input_scaler_
    np.testing.assert_allclose(scaler.mean_, X.mean(axis=0))
    assert scaler.scale_[1] == 1.0  # constant: centred, not divided by 0
    X32 = X.astype(np.float32)
    np.testing.assert_allclose(scaler.transform(X32), (X - scaler.mean_) / scaler.scale_, rtol=1e-5, atol=1e-5)
    expected = clf.network_.forward(scaler.transform(X32))
    np.testing.assert_array_equal(clf.predict_proba(X32)[:, 1], expected[:, 0])
    with pytest.raises(fnn.TrainingDiverged, match="died"):  # unscaled inputs of 1e6 kill every ReLU (SGD)
        fnn.FNNClassifier((8,), max_epochs=3, random_state=0, input_scaling=False, **PLAIN_SGD).fit(X, y)
    off = fnn.FNNClassifier((8,), max_epochs=3, random_state=0, input_scaling=False).fit(X / 1e6, y)
    assert off.input_scaler_ is None


def test_partial_fit_keeps_the_scaling_of_its_first_call():
    rng = np.random.default_rng(1)
    X, y = rng.normal(50, 10, (100, 3)), rng.integers(0, 2, 100)
    clf = fnn.FNNClassifier((8,), random_state=0).partial_fit(X, y, classes=[0, 1])
    mean = clf.input_scaler_.mean_.copy()
    clf.partial_fit(X + 1, y)
    np.testing.assert_array_equal(clf.input_scaler_.mean_, mean)


@pytest.mark.parametrize("estimator", [fnn.FNNClassifier, fnn.FNNRegressor])
def test_the_scaling_round_trips_through_a_model_file_exactly(tmp_path, estimator):
    rng = np.random.default_rng(2)
    X = rng.normal(300, 40, (120, 4))
    y = (X[:, 0] > 300).astype(int) if estimator is fnn.FNNClassifier else X[:, 1] / 100
    model = estimator((8,), max_epochs=4, random_state=0).fit(X, y)
    model.save(tmp_path / "m.npz")
    loaded = fnn.load(tmp_path / "m.npz")
    for name in ("mean_", "scale_", "var_"):
        np.testing.assert_array_equal(getattr(loaded.input_scaler_, name), getattr(model.input_scaler_, name))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("name, value, match", [
    ("scale_", np.zeros(4), "non-positive"), ("mean_", np.zeros(3), "4 finite"), ("var_", np.full(4, np.nan), "finite"),
    ("n_samples_seen_", None, "incomplete"),
])
def test_corrupt_scaling_in_a_model_file_is_refused(tmp_path, name, value, match):
    rng = np.random.default_rng(3)
    X, y = rng.normal(0, 5, (60, 4)), rng.integers(0, 2, 60)
    fnn.FNNClassifier((4,), max_epochs=2, random_state=0).fit(X, y).save(tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "m.npz") as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist()}
    key = f"input_scaler/{name}.npy"
    if value is None:
        del files[key]
    else:
        buffer = io.BytesIO()
        np.save(buffer, value)
        files[key] = buffer.getvalue()
    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as archive:
        for entry, data in files.items():
            archive.writestr(entry, data)
    with pytest.raises(ModelFileError, match=match):
        fnn.load(tmp_path / "bad.npz")


def test_warnings_for_a_fit_cut_short_and_for_chance_level():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    with pytest.warns(fnn.FitWarning, match="max_epochs=2"):
        fnn.FNNClassifier((16,), max_epochs=2, random_state=0, **PLAIN_SGD).fit(X, y)
    with pytest.warns(fnn.FitWarning, match="chance level"):  # a learning rate too small to move
        fnn.FNNClassifier((16,), learning_rate=1e-9, max_epochs=3, random_state=0, early_stopping=False).fit(
            X, np.r_[np.zeros(150, int), np.ones(50, int)])
    with pytest.warns(fnn.FitWarning, match="mean"):
        fnn.FNNRegressor((16,), learning_rate=1e-9, max_epochs=2, random_state=0, early_stopping=False).fit(
            X, rng.normal(size=200))


def test_early_stopping_breaks_ties_of_the_error_rate_by_the_validation_loss():
    stopper = EarlyStopping(patience=2)
    params = {"w": np.zeros(1)}
    for epoch, (error, loss) in enumerate([(0.1, 0.9), (0.1, 0.5), (0.1, 0.6), (0.1, 0.4), (0.1, 0.45), (0.1, 0.5)], 1):
        params["w"][0] = epoch
        stop = stopper.update(error, epoch, params, loss)
    assert stopper.best_epoch == 4 and stop
    stopper.restore(params)
    assert params["w"][0] == 4
    assert not EarlyStopping(patience=1).update(0.2, 1, params, 0.1)  # a first epoch always improves
    # With a tolerance, a tie needs the loss to fall by more than it: a loss that creeps down
    # forever (separable data) does not keep training going to max_epochs.
    stopper = EarlyStopping(patience=3, tol=0.2)
    stops = [stopper.update(0.0, epoch, params, loss) for epoch, loss in enumerate([1.0, 0.95, 0.9, 0.85], 1)]
    assert stops == [False, False, False, True]
    assert stopper.best_epoch == 1


def test_the_validation_split_is_stratified_for_binary_and_multi_label_outputs():
    y = np.zeros(200, dtype=int)
    y[:20] = 1  # 10% positives
    for seed in range(10):
        net = fnn.Network([3, 4, 1], output="logistic", seed=seed)
        is_val = split(net, net._targets(y, 200), 0.1)
        assert is_val.sum() == 20 and y[is_val].sum() == 2
    labels = np.zeros((200, 2), dtype=int)
    labels[:40, 0] = 1
    labels[20:60, 1] = 1  # combinations (1,0) 20, (1,1) 20, (0,1) 20, (0,0) 140
    for seed in range(5):
        net = fnn.Network([3, 4, 2], output="logistic", seed=seed)
        is_val = split(net, net._targets(labels, 200), 0.1)
        combos = labels[is_val, 0] * 2 + labels[is_val, 1]
        assert sorted(np.bincount(combos, minlength=4)) == [2, 2, 2, 14]


def test_outputs_that_overflow_on_the_validation_samples_are_a_divergence_and_nothing_changes():
    """Finite weights whose validation outputs overflow float32 (iris at α = 3) diverged all the same:
    TrainingDiverged, not an error from evaluating them, and the estimator is left as it was."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    clf = fnn.FNNClassifier((64,), random_state=0, max_epochs=2, **PLAIN_SGD).fit(X, y)
    before = {name: p.copy() for name, p in clf.network_.parameters().items()}
    clf.set_params(learning_rate=3.0)
    with pytest.raises(fnn.TrainingDiverged, match="outputs on the validation samples overflowed"):
        clf.fit(X, y)
    assert all(np.array_equal(p, before[name]) for name, p in clf.network_.parameters().items())


def test_input_scaling_modes_and_a_bad_one():
    rng = np.random.default_rng(5)
    X = np.column_stack([rng.normal(0, 1, 120), rng.normal(0, 4, 120), rng.normal(0, 100, 120)])
    y = (X[:, 0] > 0).astype(int)
    comparable = fnn.FNNClassifier((4,), max_epochs=2, random_state=0).fit(X[:, :2], y).input_scaler_
    assert comparable.scale_[0] == comparable.scale_[1]  # spreads within 10x: one common scale
    apart = fnn.FNNClassifier((4,), max_epochs=2, random_state=0).fit(X, y).input_scaler_
    np.testing.assert_allclose(apart.scale_, X.std(axis=0))  # spreads 100x apart: each its own
    standard = fnn.FNNClassifier((4,), max_epochs=2, random_state=0, input_scaling="standard").fit(X[:, :2], y)
    np.testing.assert_allclose(standard.input_scaler_.scale_, X[:, :2].std(axis=0))
    assert fnn.FNNClassifier((4,), max_epochs=2, input_scaling="none").fit(X, y).input_scaler_ is None
    with pytest.raises(ValueError, match="input_scaling must be"):
        fnn.FNNClassifier(input_scaling="minmax").fit(X, y)


def test_zero_one_columns_are_left_as_they_are_by_auto_scaling():
    # One-hot columns standardised turn a rare category's 1 into a huge input (issue 23): "auto"
    # leaves columns of 0 and 1 unscaled, as scikit-learn's usual pipeline does; "standard" does not.
    rng = np.random.default_rng(6)
    rare = (np.arange(200) < 3).astype(float)  # a category of 3 rows in 200: 8.1 when standardised
    X = np.column_stack([rng.normal(50, 10, 200), rare, rng.integers(0, 2, 200), rng.normal(0, 3, 200)])
    y = X[:, 0] / 10 + rng.normal(size=200)
    scaler = fnn.FNNRegressor((4,), max_epochs=2, random_state=0).fit(X, y).input_scaler_
    assert list(scaler.mean_[1:3]) == [0.0, 0.0] and list(scaler.scale_[1:3]) == [1.0, 1.0]
    np.testing.assert_allclose(scaler.mean_[[0, 3]], X[:, [0, 3]].mean(axis=0))
    assert scaler.scale_[0] == scaler.scale_[3]  # the numbers' spreads are within 10x: one scale
    standard = fnn.FNNRegressor((4,), max_epochs=2, random_state=0, input_scaling="standard").fit(X, y)
    np.testing.assert_allclose(standard.input_scaler_.scale_, X.std(axis=0))


def test_overfitting_warns_and_names_a_setting_not_in_use():
    # 60 rows, 20 features, one of which carries half the variance of y: a wide network without L2
    # learns the noise of its 42 training rows (training R² 0.64, validation R² below 0.3).
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 20))
    y = X[:, 0] + rng.normal(size=60)
    noisy = dict(l2=0.0, learning_rate=0.01, validation_fraction=0.3, random_state=0)
    with pytest.warns(fnn.FitWarning, match=r"far better than the held-out.*l2=0\.001 \(now 0\).*now \(512,\)") \
            as caught:
        fnn.FNNRegressor((512,), **noisy).fit(X, y)
    assert not any("input_scaling" in str(w.message) for w in caught)  # 'auto' is in use already
    rng = np.random.default_rng(0)
    X, _ = rng.normal(size=(60, 20)), rng.normal(size=60)
    labels = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    with pytest.warns(fnn.FitWarning, match="training accuracy .* validation accuracy"):
        fnn.FNNClassifier((512,), **noisy).fit(X, labels)
    # A fit that generalises does not warn.
    X, y = load_breast_cancer(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fnn.FitWarning)
        fnn.FNNClassifier(random_state=0).fit(X, y)


def test_chance_level_advice_names_input_scaling_only_when_it_is_off():
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(100, 3)), np.r_[np.zeros(70, int), np.ones(30, int)]
    for scaling, advised in (("auto", False), ("none", True)):
        with pytest.warns(fnn.FitWarning, match="chance level") as caught:
            fnn.FNNClassifier((4,), learning_rate=1e-9, max_epochs=2, early_stopping=False, random_state=0,
                              input_scaling=scaling).fit(X, y)
        assert any("input_scaling='auto'" in str(w.message) for w in caught) == advised


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_estimator_fit_checks_X_once_and_copies_it_at_most_once(monkeypatch, dtype):
    # Issue 27: X was checked for finiteness 4 times and copied 2-3 times (StandardScaler.fit made
    # a float64 copy of it, predict for the post-fit checks two more). Now: one finiteness check,
    # one copy (the conversion to float32, or the scaled copy when none is needed).
    import tracemalloc

    import fnn.sklearn.estimator_base as estimator_base
    import fnn.core.validation

    X = np.random.default_rng(0).normal(size=(20_000, 50)).astype(dtype) * 3 + 1  # (float32 copy: 4 MB)
    y = (X[:, 0] > 1).astype(int)
    looked_at = []
    for module in (estimator_base, fnn.core.validation):
        original = module.all_finite
        monkeypatch.setattr(module, "all_finite",
                            lambda a, *args, original=original: looked_at.append(a.shape) or original(a, *args))
    tracemalloc.start()
    try:
        fnn.FNNClassifier((8,), max_epochs=1, random_state=0).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert looked_at.count(X.shape) == 1, looked_at
    copy = X.size * 4
    assert peak < copy + (3 << 20), (peak, copy)  # the one copy, and a few MB of blocks and buffers


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_prediction_scales_each_row_as_it_reads_it_with_numpys_arithmetic(dtype):
    """The engine applies the scaler's (x − mean) / scale to each row as it reads it: the same bits
    as the network's output for X scaled in NumPy first, for calls the per-sample products run
    (up to 512 rows), calls of BLAS products (more rows), rows picked by index, and bfloat16-free
    float32 and float64 models."""
    rng = np.random.default_rng(5)
    X = rng.normal(loc=50, scale=[1, 10, 1e3, 1e-2, 7] * 3, size=(1500, 15))
    y = (X[:, 0] - 50 > 0).astype(int) + (X[:, 2] - 50 > 0)
    model = fnn.FNNClassifier((20,), max_epochs=3, random_state=0, dtype=dtype).fit(X, y)
    network, scaler = model.network_, model.input_scaler_
    X_typed = X.astype(dtype)
    mean, scale = scaler.mean_.astype(dtype), scaler.scale_.astype(dtype)
    scaled = (X_typed - mean) / scale
    for rows in (1, 7, 512, 1500):
        np.testing.assert_array_equal(model.predict_proba(X_typed[:rows]), network._forward(scaled[:rows]),
                                      err_msg=str(rows))
    for picked in (rng.permutation(1500)[:300], rng.permutation(1500)[:700]):
        np.testing.assert_array_equal(network._forward(X_typed, picked, mean, scale), network._forward(scaled, picked))


def test_the_engines_input_scaling_is_checked():
    net = fnn.Network([3, 4, 2], seed=0)
    core, X, out = net._core(), np.ones((2, 3), np.float32), np.empty((2, 2), np.float32)
    good = np.ones(3, np.float32)
    assert core.predict(X, out, 512, 1, None, good, good) is True
    with pytest.raises(ValueError, match="input_mean and input_scale go together"):
        core.predict(X, out, 512, 1, None, good, None)
    with pytest.raises(ValueError, match="input_scale must be 1-D, C-contiguous, with 3 entries"):
        core.predict(X, out, 512, 1, None, good, np.ones(4, np.float32))
    with pytest.raises(TypeError, match="input_mean must be a NumPy array of float32"):
        core.predict(X, out, 512, 1, None, np.ones(3), good)
