"""FNNClassifier and FNNRegressor in scikit-learn's conventions: its own estimator checks, and
the tools people combine them with.

Private names: ``network_._threads()`` (the thread count an estimator hands down) and
``_checked_array`` (predict's fast path, switched off to compare with the full checks).
"""

import itertools
import pickle

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_multilabel_classification, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import fnn

# Scikit-learn's checks that cannot pass, with the reason. SGD visits each sample once per epoch
# in shuffled order and holds out a validation split, so a sample of weight 2 is not the same as
# two copies of it (they are two steps at different times, and may land on different sides of
# the split); the weighted risk itself is what the engine tests check against the reference.
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data":
        "stochastic gradient descent at the defaults: weight 2 is one scaled step, not two steps; the "
        "batch size (chosen from the number of rows), the shuffled order and the validation split differ "
        "between the two fits (with one batch per epoch and no validation split, the check passes: "
        "test_a_weight_of_k_is_k_copies_when_each_epoch_is_one_batch)",
}


@parametrize_with_checks(
    # Both at their defaults (random_state=None included), as users construct them.
    [fnn.FNNClassifier(), fnn.FNNRegressor()],
    expected_failed_checks=lambda estimator: EXPECTED_FAILURES,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def blobs(n=300, dtype=np.float64):
    X, y = make_blobs(n_samples=n, centers=3, n_features=5, random_state=0)
    return StandardScaler().fit_transform(X).astype(dtype), y


def test_classifier_learns_and_reports_its_fit():
    X, y = blobs()
    clf = fnn.FNNClassifier((32,), random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95
    assert list(clf.classes_) == [0, 1, 2] and clf.n_features_in_ == 5
    assert clf.n_iter_ == len(clf.loss_curve_) == len(clf.validation_scores_) == len(clf.validation_loss_curve_)
    assert 1 <= clf.best_epoch_ <= clf.n_iter_
    assert clf.validation_scores_[clf.best_epoch_ - 1] == max(clf.validation_scores_)
    p = clf.predict_proba(X)
    assert p.shape == (300, 3) and np.allclose(p.sum(axis=1), 1, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[p.argmax(axis=1)])


def test_string_labels_binary_uses_one_logistic_unit():
    X, y = blobs()
    labels = np.array(["cat", "dog"])[(y == 0).astype(int)]
    clf = fnn.FNNClassifier((8,), random_state=0).fit(X, labels)
    assert clf.network_.output == "logistic" and clf.network_.widths[-1] == 1
    assert set(clf.predict(X)) <= {"cat", "dog"} and clf.score(X, labels) > 0.95
    assert clf.predict_proba(X).shape == (300, 2)


def test_float32_input_stays_float32_and_float64_gives_float64():
    X, y = blobs(dtype=np.float32)
    clf = fnn.FNNClassifier((8,), random_state=0, max_epochs=5).fit(X, y)
    assert clf.predict_proba(X).dtype == np.float32
    assert clf.predict_proba(X.astype(np.float64)).dtype == np.float64
    reg = fnn.FNNRegressor((8,), random_state=0, max_epochs=5).fit(X, X[:, 0] * 2)
    assert reg.predict(X).dtype == np.float32


def test_multilabel_targets_use_one_logistic_unit_per_label():
    X, Y = make_multilabel_classification(n_samples=300, n_features=10, n_classes=4, random_state=0)
    X = StandardScaler().fit_transform(X)
    clf = fnn.FNNClassifier((32,), random_state=0).fit(X, Y)
    assert clf.network_.output == "logistic" and clf.network_.widths[-1] == 4
    assert clf.predict(X).shape == (300, 4) and set(np.unique(clf.predict(X))) <= {0, 1}
    assert clf.predict_proba(X).shape == (300, 4)
    assert np.mean(clf.predict(X) == Y) > 0.8  # per-label accuracy


def test_regressor_multi_output_and_target_scaling():
    X, Y = make_regression(n_samples=300, n_features=6, n_targets=2, noise=1.0, random_state=0)
    reg = fnn.FNNRegressor((32,), random_state=0).fit(X, Y * 100 + 500)  # targets in the thousands
    assert reg.predict(X).shape == (300, 2)
    assert reg.score(X, Y * 100 + 500) > 0.95
    np.testing.assert_allclose(reg.target_mean_, (Y * 100 + 500).mean(axis=0))
    # The chapter's SGD at α = 0.01 diverges on targets in the thousands.
    unscaled = fnn.FNNRegressor((32,), random_state=0, target_scaling=False, solver="sgd", momentum=0.0,
                                learning_rate=0.01)
    with pytest.raises(fnn.TrainingDiverged):
        unscaled.fit(X, Y * 100 + 500)


def test_sample_weight_and_class_weight_shift_the_decision():
    # Two overlapping classes: weighting class 1 up must move predictions towards class 1.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-0.5, 1, size=(200, 2)), rng.normal(0.5, 1, size=(200, 2))])
    y = np.repeat([0, 1], 200)
    base = fnn.FNNClassifier((8,), random_state=0).fit(X, y)
    by_class = fnn.FNNClassifier((8,), random_state=0, class_weight={0: 1, 1: 10}).fit(X, y)
    by_sample = fnn.FNNClassifier((8,), random_state=0).fit(X, y, sample_weight=np.where(y == 1, 10.0, 1.0))

    def share(clf):
        return np.mean(clf.predict(X) == 1)

    assert share(by_class) > share(base) + 0.15
    assert share(by_sample) > share(base) + 0.15
    balanced = fnn.FNNClassifier((8,), random_state=0, class_weight="balanced").fit(X[:220], y[:220])
    assert 0 < share(balanced) < 1


def test_partial_fit_and_warm_start_continue_training():
    X, y = blobs()
    clf = fnn.FNNClassifier((16,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    for _ in range(3):
        clf.partial_fit(X[:150], y[:150], classes=[0, 1, 2])
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        clf.partial_fit(X, y + 1)

    warm = fnn.FNNClassifier((16,), random_state=0, max_epochs=3, early_stopping=False, warm_start=True)
    warm.fit(X, y)
    weights = warm.network_.parameters()["weights_1"]
    before = weights.copy()
    warm.fit(X, y)
    assert warm.n_iter_ == 6 and len(warm.loss_curve_) == 6
    assert np.shares_memory(warm.network_.parameters()["weights_1"], weights)  # the same network went on
    assert not np.array_equal(weights, before)
    cold = clone(warm).set_params(warm_start=False).fit(X, y)
    assert cold.n_iter_ == 3


def test_pipeline_grid_search_cross_validation_and_clone():
    X, y = blobs(n=150)
    pipe = make_pipeline(StandardScaler(), fnn.FNNClassifier((8,), random_state=0, max_epochs=30))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8
    search = GridSearchCV(pipe, {"fnnclassifier__hidden_layer_sizes": [(4,), (16,)],
                                 "fnnclassifier__learning_rate": [0.01, 0.05]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.8 and set(search.best_params_) == {"fnnclassifier__hidden_layer_sizes",
                                                                      "fnnclassifier__learning_rate"}
    twin = clone(search.best_estimator_)
    assert twin.get_params()["fnnclassifier__learning_rate"] == search.best_params_["fnnclassifier__learning_rate"]


def test_same_random_state_gives_the_same_weights():
    X, y = blobs()
    a = fnn.FNNClassifier((16,), random_state=7, n_threads=1).fit(X, y)
    b = fnn.FNNClassifier((16,), random_state=7, n_threads=1).fit(X, y)
    for name, array in a.network_.parameters().items():
        np.testing.assert_array_equal(array, b.network_.parameters()[name])


def test_pickle_round_trip_is_exact():
    X, y = blobs()
    clf = fnn.FNNClassifier((16,), random_state=0).fit(X, y)
    twin = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))
    assert twin.loss_curve_ == clf.loss_curve_


def test_threads_follow_n_threads_and_threadpoolctl():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X, y = blobs()
    clf = fnn.FNNClassifier((16,), random_state=0, max_epochs=2).fit(X, y)
    with threadpoolctl.threadpool_limits(limits=1):
        assert clf.network_._threads() == 1
    assert clf.network_._threads() == min(fnn.network.default_threads(), fnn._engine.core.openmp_thread_limit())
    explicit = fnn.FNNClassifier((16,), n_threads=1, random_state=0, max_epochs=2).fit(X, y)
    assert explicit.network_._threads() == 1
    libraries = {info["internal_api"] for info in threadpoolctl.threadpool_info()}
    assert "openmp" in libraries or not fnn._engine.core.openmp


@pytest.mark.parametrize("bad,error,message", [
    (dict(hidden_layer_sizes=(0,)), ValueError, "hidden_layer_sizes"),
    (dict(hidden_layer_sizes="ab"), TypeError, "hidden_layer_sizes"),
    (dict(learning_rate=-1), ValueError, "learning_rate"),
    (dict(activation="nope"), ValueError, "unknown activation"),
    (dict(dtype="int8"), ValueError, "dtype"),
    (dict(batch_size=0), ValueError, "batch_size"),
])
def test_bad_parameters_raise_at_fit_with_the_name(bad, error, message):
    X, y = blobs(n=30)
    with pytest.raises(error, match=message):
        fnn.FNNClassifier(**bad).fit(X, y)


def test_regression_targets_are_refused_by_the_classifier():
    X, _ = blobs(n=30)
    with pytest.raises(ValueError, match="Unknown label type"):
        fnn.FNNClassifier().fit(X, np.linspace(0, 1, 30))


def test_a_rejected_or_failed_fit_leaves_the_fitted_estimator_unchanged():
    X, y = blobs()
    clf = fnn.FNNClassifier((8,), random_state=0, max_epochs=3).fit(X, y)
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(clf).items() if k.endswith("_")}
    weights = clf.network_.parameters()["weights_1"].copy()
    with pytest.raises(ValueError, match="only 1 class with positive weight"):
        clf.fit(X, np.where(y == 0, "a", "b"), sample_weight=(y == 0).astype(float))
    with pytest.raises(fnn.TrainingDiverged):
        clf.set_params(learning_rate=1e30).fit(X * 1e10, y)
    assert list(clf.classes_) == [0, 1, 2] and clf.n_iter_ == state["n_iter_"]
    assert clf.loss_curve_ == state["loss_curve_"]
    np.testing.assert_array_equal(clf.network_.parameters()["weights_1"], weights)


@pytest.mark.determinism
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_regressors_prediction_does_not_depend_on_the_rows_predicted_with_it(dtype):
    """A call of up to 512 rows of a network of up to 8,192 parameters is evaluated one sample at a
    time by the per-sample kernel's products, so a sample's prediction is the same alone, in a
    batch of any such size, or among all of them (scikit-learn's subset invariance), bit for bit,
    on every CPU and BLAS kernel."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 7)).astype(dtype)
    reg = fnn.FNNRegressor((50, 20), activation="tanh", max_epochs=3, random_state=0, dtype=dtype)
    reg.fit(X, X[:, 0] - 2 * X[:, 1])
    full = reg.predict(X)
    clf = fnn.FNNClassifier((30, 20), max_epochs=3, random_state=0, dtype=dtype)
    clf.fit(X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0))
    probabilities = clf.predict_proba(X)
    for batch in (1, 2, 3, 17, 100, 499):
        parts = np.concatenate([reg.predict(X[i:i + batch]) for i in range(0, len(X), batch)])
        assert np.array_equal(parts, full), batch
        parts = np.concatenate([clf.predict_proba(X[i:i + batch]) for i in range(0, len(X), batch)])
        assert np.array_equal(parts, probabilities), batch


def _rows_starting_at(X, offset_bytes):
    """A copy of X whose first row starts `offset_bytes` past a 64-byte boundary."""
    buffer = np.zeros(X.size * X.itemsize + 128, np.uint8)
    start = (-buffer.ctypes.data) % 64 + offset_bytes
    copy = buffer[start:start + X.size * X.itemsize].view(X.dtype).reshape(X.shape)
    copy[...] = X
    assert copy.ctypes.data % 64 == offset_bytes
    return copy


@pytest.mark.determinism
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("scaled", [False, True], ids=["raw", "scaled"])
def test_a_prediction_does_not_depend_on_where_the_rows_lie_in_memory(dtype, scaled):
    """Rows that do not start a cache line (NumPy's large arrays start 16 bytes into one) are
    copied to aligned rows before the per-sample products: the same outputs, bit for bit, as rows
    read in place, for a classifier at its defaults (its inputs scaled) and a bare network."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 64)).astype(dtype)
    if scaled:
        model = fnn.FNNClassifier(max_epochs=2, random_state=0, dtype=dtype).fit(X * 50, (X[:, 0] > 0).astype(int))
        predict = model.predict_proba
        X = X * 50
    else:
        predict = fnn.Network([64, 40, 3], "relu", "softmax", seed=0, dtype=dtype).forward
    expected = predict(_rows_starting_at(X, 0))
    for offset in (8, 16, 32, 48):
        for rows in (1, 31, 200):
            assert np.array_equal(predict(_rows_starting_at(X[:rows], offset)), expected[:rows]), (offset, rows)


@pytest.mark.determinism
@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus", fnn.PReLU(), fnn.Maxout(3), fnn.ELU()], ids=repr)
@pytest.mark.parametrize("output,width", [("softmax", 5), ("logistic", 3), ("identity", 2)])
def test_a_networks_output_for_a_row_is_the_same_in_every_call(activation, output, width):
    """The same for every activation and output, for rows read in place or picked by index (the
    validation split's path), in float32 and float64, in calls of 1 to 512 rows offered two
    threads; with the AVX-512 engine for a network above 8,192 parameters too."""
    rng = np.random.default_rng(1)
    from fnn._engine import core

    sizes = ([40, 30], [200, 100]) if core.__name__.endswith("_x86_64_v4") else ([40, 30],)  # (training.hpp)
    for dtype, hidden in itertools.product(("float32", "float64"), sizes):
        X = rng.normal(size=(512, 9)).astype(dtype)
        net = fnn.Network([9, *hidden, width], activation, output, seed=0, dtype=dtype, n_threads=2)
        full = net.forward(X)
        for i in (0, 1, 3, 5, 511):
            assert np.array_equal(net.forward(X[i:i + 1]), full[i:i + 1])
            assert np.array_equal(net.forward(X[i:i + 7]), full[i:i + 7])
        picked = rng.permutation(512)[:300]
        assert np.array_equal(net._forward(X, picked), full[picked])


@pytest.mark.parametrize("input_scaling", ["auto", None])
def test_predicting_an_array_skips_no_check_and_changes_nothing(input_scaling):
    """NumPy arrays take a short path through the input checks (one-row prediction of a served
    model); it predicts exactly what scikit-learn's checks would pass on, and every other input,
    or an array that fails a check, goes through scikit-learn's checks and their messages."""
    from sklearn.datasets import load_digits

    from fnn.sklearn.estimator_base import FNNEstimator

    X, y = load_digits(return_X_y=True)
    model = fnn.FNNClassifier((16,), max_epochs=3, random_state=0, input_scaling=input_scaling,
                              early_stopping=False).fit(X, y)
    inputs = [X, X[:1], X.astype(np.float32), X.astype(np.int64), X.astype(np.uint8), X.astype(np.float16),
              np.asfortranarray(X), X.tolist()]
    short = [model.predict_proba(x) for x in inputs]
    checked = FNNEstimator._checked_array
    try:
        FNNEstimator._checked_array = lambda self, X: None  # every input through validate_data
        full = [model.predict_proba(x) for x in inputs]
    finally:
        FNNEstimator._checked_array = checked
    for a, b in zip(short, full):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    with pytest.raises(ValueError, match="X has 63 features, but FNNClassifier is expecting 64 features as input"):
        model.predict(X[:2, :63])
    bad = X[:2].copy()
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.predict(bad)
    with pytest.raises(ValueError, match="infinity or a value too large for dtype"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scikit-learn's cast overflows, then it says so
        model.predict(np.full((1, 64), 1e300))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        fnn.FNNClassifier().predict(X[:1])


def test_prediction_follows_a_scaler_whose_arrays_are_replaced():
    """The scaler's mean and scale are cast to the network's dtype once (fnn.sklearn.estimator_base,
    _cast_scaling); arrays put in their place are used from the next prediction on."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    model = fnn.FNNClassifier((16,), max_epochs=2, random_state=0, early_stopping=False).fit(X, y)
    before = model.predict_proba(X[:5])
    scaler = model.input_scaler_
    network_view = model.network_.forward(((X[:5] - scaler.mean_ - 1) / scaler.scale_).astype(np.float32))
    scaler.mean_ = scaler.mean_ + 1
    after = model.predict_proba(X[:5])
    assert not np.array_equal(before, after)
    np.testing.assert_allclose(after, network_view, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [fnn.FNNClassifier, fnn.FNNRegressor])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_weight_of_k_is_k_copies_when_each_epoch_is_one_batch(make, dtype):
    # The weighted risk is a weighted mean and the statistics taken from the data (input scaling,
    # the regressor's target standardisation) are weighted, so where the algorithm allows it (one
    # batch per epoch, no validation split, no shuffling that matters) a weight of k is k copies.
    from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

    estimator = make(batch_size=100_000, early_stopping=False, max_epochs=30, dtype=dtype)
    if dtype == "float64":
        check_sample_weight_equivalence_on_dense_data(make.__name__, estimator)
    else:  # float32 sums of other lengths round differently: equal to float32's precision
        rng = np.random.default_rng(0)
        X, y = rng.normal(size=(30, 4)), rng.integers(0, 3, 30)
        weights = rng.integers(0, 3, 30)
        weighted = clone(estimator).set_params(random_state=0).fit(X, y, sample_weight=weights)
        copied = clone(estimator).set_params(random_state=0).fit(np.repeat(X, weights, axis=0),
                                                                  np.repeat(y, weights))
        predict = "predict_proba" if make is fnn.FNNClassifier else "predict"
        np.testing.assert_allclose(getattr(weighted, predict)(X), getattr(copied, predict)(X), rtol=1e-4, atol=1e-5)
