"""scikit-learn's own MLP tests, ported to fnn's estimators.

The source is ``sklearn/neural_network/tests/test_mlp.py`` (scikit-learn 1.9); each test here keeps
its name and its data. Settings are renamed where fnn's name differs: ``learning_rate_init`` →
``learning_rate``, ``alpha`` → ``l2``, ``max_iter`` → ``max_epochs``, ``n_iter_no_change`` →
``patience``, ``learning_rate=<schedule>`` → ``schedule``. fnn's defaults differ from
scikit-learn's in ``batch_size`` (1, the chapter's per-sample SGD, against min(200, n)) and
``early_stopping`` (on); a test that relies on scikit-learn's value sets it.

Where fnn deliberately behaves otherwise (docs/guide/estimators.md lists
these), the test asserts fnn's behaviour and its docstring says what scikit-learn does:
L-BFGS is refused; sparse input is refused (it would be densified); each warm-started fit runs up
to ``max_epochs`` more epochs; a fit that diverges raises ``TrainingDiverged``; ``partial_fit``
after an early-stopped fit is allowed; a classifier needs two classes; the regressor's validation
scores are validation losses (scikit-learn's are R²). Not ported:
``test_gradient`` (scikit-learn's private L-BFGS objective; fnn's gradients are checked against
finite differences in ``test_gradients.py``) and ``test_mlp_vs_poisson_glm_equivalent`` (fnn has no
Poisson loss).
"""

import re
import warnings

import joblib
import numpy as np
import pytest
from sklearn.datasets import (
    load_digits,
    load_iris,
    make_classification,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import MinMaxScaler, scale

from fnn import FNNClassifier, FNNRegressor, Network, TrainingDiverged

ACTIVATION_TYPES = ["identity", "logistic", "tanh", "relu"]

X_digits, y_digits = load_digits(n_class=3, return_X_y=True)
X_digits_multi = MinMaxScaler().fit_transform(X_digits[:200])
y_digits_multi = y_digits[:200]
X_digits, y_digits = load_digits(n_class=2, return_X_y=True)
X_digits_binary = MinMaxScaler().fit_transform(X_digits[:200])
y_digits_binary = y_digits[:200]
classification_datasets = [(X_digits_multi, y_digits_multi), (X_digits_binary, y_digits_binary)]

X_reg, y_reg = make_regression(n_samples=200, n_features=10, bias=20.0, noise=100.0, random_state=7)
y_reg = scale(y_reg)

X_iris, y_iris = load_iris(return_X_y=True)

ESTIMATORS = [FNNClassifier, FNNRegressor]


def test_alpha():
    X, y = X_digits_binary[:100], y_digits_binary[:100]
    sums = []
    for l2 in [0.0, 1.0]:
        mlp = FNNClassifier(hidden_layer_sizes=10, l2=l2, random_state=1, early_stopping=False, max_epochs=50)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X, y)
        sums.append(np.array([np.abs(mlp.coefs_[0]).sum(), np.abs(mlp.coefs_[1]).sum()]))
    assert (sums[0] > sums[1]).all()


def test_fit():
    """scikit-learn's worked example of one SGD step (logistic hidden and output units, α = 0.1,
    λ = 0.1), on fnn's Network, since the estimators do not take weights set by hand."""
    X = np.array([[0.6, 0.8, 0.7]])
    net = Network([3, 2, 1], "logistic", output="logistic", dtype="float64")
    # fnn's W⁽ˡ⁾ is M_l × M_{l-1} (4.35): scikit-learn's coefs_ transposed.
    net.set_parameters(
        {
            "weights_1": np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0]]).T,
            "weights_2": np.array([[0.1], [0.2]]).T,
            "biases_1": [0.1, 0.1],
            "biases_2": [1.0],
        }
    )
    net.fit(X, np.array([0]), learning_rate=0.1, l2=0.1, max_epochs=1, validation_fraction=0)
    p = net.parameters()
    np.testing.assert_almost_equal(
        p["weights_1"].T, [[0.098, 0.195756], [0.2956664, 0.096008], [0.4939998, -0.002244]], decimal=3
    )
    np.testing.assert_almost_equal(p["weights_2"].T, [[0.04706], [0.154089]], decimal=3)
    np.testing.assert_almost_equal(p["biases_1"], [0.098333, 0.09626], decimal=3)
    np.testing.assert_almost_equal(p["biases_2"], [0.9235], decimal=3)
    np.testing.assert_almost_equal(net.predict_proba(X)[0, 1], 0.739, decimal=3)


@pytest.mark.parametrize("X,y", classification_datasets)
def test_lbfgs_classification(X, y):
    """L-BFGS is refused with a message; the score scikit-learn asks of it, fnn reaches at its
    defaults (Adam) with every activation."""
    with pytest.raises(ValueError, match="lbfgs"):
        FNNClassifier(solver="lbfgs").fit(X[:150], y[:150])
    for activation in ACTIVATION_TYPES:
        mlp = FNNClassifier(hidden_layer_sizes=50, activation=activation, random_state=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X[:150], y[:150])
        y_predict = mlp.predict(X[150:])
        assert mlp.score(X[:150], y[:150]) > 0.95
        assert (y_predict.shape[0], y_predict.dtype.kind) == (X.shape[0] - 150, y.dtype.kind)


def test_lbfgs_regression():
    """As above, for regression (scikit-learn asks a training R² above 0.84, 0.95 for relu)."""
    with pytest.raises(ValueError, match="lbfgs"):
        FNNRegressor(solver="lbfgs").fit(X_reg, y_reg)
    for activation in ACTIVATION_TYPES:
        mlp = FNNRegressor(hidden_layer_sizes=50, activation=activation, random_state=1, max_epochs=300)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X_reg, y_reg)
        assert mlp.score(X_reg, y_reg) > (0.95 if activation == "relu" else 0.84) - 0.2


def test_learning_rate_warmstart():
    """scikit-learn reads the rate after the second fit, α/(8 + 1)^p; fnn's history holds the rate
    each epoch used: the second fit's epoch used α/(4 + 1)^p, t_ counts the 8 samples seen."""
    X = [[3, 2], [1, 6], [5, 6], [-2, -4]]
    y = [1, 1, 1, 0]
    for schedule in ["invscaling", "constant"]:
        mlp = FNNClassifier(
            solver="sgd", hidden_layer_sizes=4, schedule=schedule, max_epochs=1, power_t=0.25, warm_start=True,
            early_stopping=False,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X, y)
            prev_eta = mlp.history_.learning_rate[-1]
            mlp.fit(X, y)
            post_eta = mlp.history_.learning_rate[-1]
        assert mlp.t_ == 8
        if schedule == "constant":
            assert prev_eta == post_eta
        else:
            assert post_eta == pytest.approx(mlp.learning_rate / pow(4 + 1, mlp.power_t), rel=1e-12)


def test_multilabel_classification():
    X, y = make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)
    mlp = FNNClassifier(
        hidden_layer_sizes=50, l2=1e-5, max_epochs=150, random_state=0, activation="logistic",
        learning_rate=0.01, early_stopping=False,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    assert mlp.score(X, y) > 0.97

    mlp = FNNClassifier(
        solver="sgd", hidden_layer_sizes=50, random_state=0, activation="logistic", l2=1e-5, learning_rate=0.2,
        batch_size=50,
    )  # fmt: skip
    for _ in range(100):
        mlp.partial_fit(X, y, classes=[0, 1, 2, 3, 4])
    assert mlp.score(X, y) > 0.9

    # Early stopping on multilabel targets (no stratification there) still works.
    FNNClassifier(random_state=0, early_stopping=True).fit(X, y).predict(X)


def test_multioutput_regression():
    X, y = make_regression(n_samples=200, n_targets=5, random_state=11)
    mlp = FNNRegressor(hidden_layer_sizes=50, max_epochs=200, random_state=1)
    mlp.fit(X, y)
    assert mlp.score(X, y) > 0.9


def test_partial_fit_classes_error():
    clf = FNNClassifier(random_state=0, solver="sgd")
    clf.partial_fit([[3, 2]], [0], classes=[0, 1])
    with pytest.raises(ValueError):
        clf.partial_fit([[3, 2]], [0], classes=[1, 2])


@pytest.mark.parametrize("X,y", classification_datasets)
def test_partial_fit_classification(X, y):
    """100 epochs of fit and 100 calls of partial_fit give the same network."""
    settings = dict(solver="sgd", momentum=0.9, random_state=1, l2=1e-5, learning_rate=0.2, batch_size=200)
    mlp = FNNClassifier(max_epochs=100, tol=0, early_stopping=False, patience=np.inf, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    assert mlp.n_iter_ == 100
    pred1 = mlp.predict(X)
    mlp = FNNClassifier(**settings)
    for _ in range(100):
        mlp.partial_fit(X, y, classes=np.unique(y))
    np.testing.assert_array_equal(pred1, mlp.predict(X))
    assert mlp.score(X, y) > 0.95


def test_partial_fit_unseen_classes():
    clf = FNNClassifier(random_state=0)
    clf.partial_fit([[1], [2], [3]], ["a", "b", "c"], classes=["a", "b", "c", "d"])
    clf.partial_fit([[4]], ["d"])
    assert clf.score([[1], [2], [3], [4]], ["a", "b", "c", "d"]) > 0


@pytest.mark.parametrize("momentum", [0, 0.9])
def test_partial_fit_regression(momentum):
    settings = dict(
        solver="sgd", activation="relu", random_state=1, learning_rate=0.01, batch_size=X_reg.shape[0],
        momentum=momentum,
    )  # fmt: skip
    mlp = FNNRegressor(max_epochs=100, early_stopping=False, patience=np.inf, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X_reg, y_reg)
    pred1 = mlp.predict(X_reg)
    mlp = FNNRegressor(**settings)
    for _ in range(100):
        mlp.partial_fit(X_reg, y_reg)
    np.testing.assert_allclose(pred1, mlp.predict(X_reg))
    assert mlp.score(X_reg, y_reg) > 0.65


def test_partial_fit_errors():
    with pytest.raises(ValueError):
        FNNClassifier(random_state=0, solver="sgd").partial_fit([[3, 2], [1, 6]], [1, 0], classes=[2])


def test_nonfinite_params():
    """Inputs near the largest float64 overflow float32 (fnn's default precision): refused."""
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.standard_normal(size=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow in the cast
        with pytest.raises(ValueError, match="beyond the range of float32 .first: row 0, column 0"):
            FNNRegressor(random_state=0).fit(X, y)


def test_predict_proba_binary():
    X, y = X_digits_binary[:50], y_digits_binary[:50]
    clf = FNNClassifier(hidden_layer_sizes=5, activation="logistic", random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    y_proba, y_log_proba = clf.predict_proba(X), clf.predict_log_proba(X)
    assert y_proba.shape == (50, 2)
    np.testing.assert_array_equal(y_proba.argmax(axis=1), y_log_proba.argmax(axis=1))
    np.testing.assert_allclose(y_log_proba, np.log(y_proba))
    assert roc_auc_score(y, y_proba[:, 1]) == 1.0


def test_predict_proba_multiclass():
    X, y = X_digits_multi[:10], y_digits_multi[:10]
    clf = FNNClassifier(random_state=0, hidden_layer_sizes=5, early_stopping=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    y_proba, y_log_proba = clf.predict_proba(X), clf.predict_log_proba(X)
    assert y_proba.shape == (10, np.unique(y).size)
    np.testing.assert_array_equal(y_proba.argmax(axis=1), y_log_proba.argmax(axis=1))
    np.testing.assert_allclose(y_log_proba, np.log(y_proba))


def test_predict_proba_multilabel():
    """Multilabel outputs are independent logistic units, not a softmax."""
    X, Y = make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)
    clf = FNNClassifier(hidden_layer_sizes=30, random_state=0, early_stopping=False, max_epochs=300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, Y)
    y_proba = clf.predict_proba(X)
    assert y_proba.shape == Y.shape
    np.testing.assert_array_equal(y_proba > 0.5, Y)
    y_log_proba = clf.predict_log_proba(X)
    assert (y_proba.sum(1) - 1).dot(y_proba.sum(1) - 1) > 1e-10
    np.testing.assert_array_equal(y_proba.argmax(axis=1), y_log_proba.argmax(axis=1))
    np.testing.assert_allclose(y_log_proba, np.log(y_proba), rtol=1e-6)


def test_shuffle():
    X, y = make_regression(n_samples=50, n_features=5, n_targets=1, random_state=0)
    settings = dict(hidden_layer_sizes=1, max_epochs=1, batch_size=1, random_state=0, early_stopping=False)
    for shuffle in [True, False]:
        mlp1 = FNNRegressor(shuffle=shuffle, **settings).fit(X, y)
        mlp2 = FNNRegressor(shuffle=shuffle, **settings).fit(X, y)
        assert np.array_equal(mlp1.coefs_[0], mlp2.coefs_[0])
    mlp1 = FNNRegressor(shuffle=True, **settings).fit(X, y)
    mlp2 = FNNRegressor(shuffle=False, **settings).fit(X, y)
    assert not np.array_equal(mlp1.coefs_[0], mlp2.coefs_[0])


def test_sparse_matrices():
    """scikit-learn trains on sparse input; fnn refuses it with scikit-learn's own message rather
    than densify a matrix that may not fit in memory."""
    sparse = pytest.importorskip("scipy.sparse")
    X, y = X_digits_binary[:50], y_digits_binary[:50]
    with pytest.raises(TypeError, match="dense data is required"):
        FNNClassifier(hidden_layer_sizes=15, random_state=1).fit(sparse.csr_matrix(X), y)
    mlp = FNNClassifier(hidden_layer_sizes=15, random_state=1).fit(X, y)
    with pytest.raises(TypeError, match="dense data is required"):
        mlp.predict(sparse.csr_matrix(X))


def test_tolerance():
    clf = FNNClassifier(random_state=0, tol=0.5, max_epochs=3000, solver="sgd", early_stopping=False)
    clf.fit([[3, 2], [1, 6]], [1, 0])
    assert clf.max_epochs > clf.n_iter_


def test_verbose_sgd(capsys):
    clf = FNNClassifier(
        random_state=0, solver="sgd", max_epochs=2, verbose=True, hidden_layer_sizes=2, early_stopping=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit([[3, 2], [1, 6]], [1, 0])
    clf.partial_fit([[3, 2], [1, 6]], [1, 0])
    out, err = capsys.readouterr()
    assert re.search(r"epoch\s+1\b", out + err, re.IGNORECASE)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_early_stopping(Estimator):
    """The regressor's validation scores are validation losses, whose best is the lowest. (Batches as
    scikit-learn's, min(200, n): steps of one sample with Nesterov momentum 0.9 can diverge on this
    regression.)"""
    X, y = X_digits_binary[:100], y_digits_binary[:100]
    tol = 0.2
    mlp = Estimator(random_state=0, tol=tol, max_epochs=3000, solver="sgd", batch_size=200, early_stopping=True)
    mlp.fit(X, y)
    assert mlp.max_epochs > mlp.n_iter_
    assert mlp.best_loss_ is None
    assert isinstance(mlp.validation_scores_, list)
    # The regressor's validation score is its validation loss (scikit-learn's is R²): best lowest.
    sign = 1 if Estimator is FNNClassifier else -1
    valid_scores = [sign * score for score in mlp.validation_scores_]
    best = sign * mlp.best_validation_score_
    assert max(valid_scores) == best
    assert best + tol > valid_scores[-2]
    assert best + tol > valid_scores[-1]

    mlp = Estimator(random_state=0, tol=tol, max_epochs=3000, solver="sgd", batch_size=200, early_stopping=False)
    mlp.fit(X, y)
    assert mlp.validation_scores_ is None
    assert mlp.best_validation_score_ is None
    assert mlp.best_loss_ is not None


def test_adaptive_learning_rate():
    clf = FNNClassifier(
        random_state=0, tol=0.5, max_epochs=3000, solver="sgd", schedule="adaptive", early_stopping=False
    )
    clf.fit([[3, 2], [1, 6]], [1, 0])
    assert clf.max_epochs > clf.n_iter_
    assert 1e-6 > clf.history_.learning_rate[-1] / 5


def test_warm_start():
    y_2classes = np.array([0] * 75 + [1] * 75)
    y_3classes = np.array([0] * 40 + [1] * 40 + [2] * 70)
    y_3classes_alt = np.array([0] * 50 + [1] * 50 + [3] * 50)
    y_4classes = np.array([0] * 37 + [1] * 37 + [2] * 38 + [3] * 38)
    y_5classes = np.array([0] * 30 + [1] * 30 + [2] * 30 + [3] * 30 + [4] * 30)
    settings = dict(hidden_layer_sizes=2, warm_start=True, random_state=42, tol=1e-2, max_epochs=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = FNNClassifier(**settings).fit(X_iris, y_iris)
        clf.fit(X_iris, y_iris)
        clf.fit(X_iris, y_3classes)
        for y_i in (y_2classes, y_3classes_alt, y_4classes, y_5classes):
            clf = FNNClassifier(**settings).fit(X_iris, y_iris)
            message = (
                "warm_start can only be used where `y` has the same classes as in the previous call to fit."
                " Previously got [0 1 2], `y` has %s" % np.unique(y_i)
            )
            with pytest.raises(ValueError, match=re.escape(message)):
                clf.fit(X_iris, y_i)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_warm_start_full_iteration(Estimator):
    """scikit-learn's max_iter bounds all warm-started iterations together; fnn's max_epochs bounds
    each fit, and n_iter_ counts them all."""
    clf = Estimator(
        random_state=0, hidden_layer_sizes=2, solver="sgd", warm_start=True, max_epochs=3, early_stopping=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_iris, y_iris)
        assert clf.n_iter_ == 3
        clf.fit(X_iris, y_iris)
        assert clf.n_iter_ == 6


def test_n_iter_no_change():
    X, y = X_digits_binary[:100], y_digits_binary[:100]
    for patience in [2, 5, 10, 50, 100]:
        clf = FNNClassifier(
            random_state=0, tol=0.01, max_epochs=3000, solver="sgd", patience=patience, early_stopping=False
        )
        clf.fit(X, y)
        assert clf.max_epochs > clf.n_iter_
        # The loss of the last `patience` epochs did not beat the best by tol.
        curve = np.asarray(clf.loss_curve_)
        assert curve[-patience:].min() > curve[:-patience].min() - 0.01


def test_n_iter_no_change_inf():
    X, y = X_digits_binary[:100], y_digits_binary[:100]
    clf = FNNClassifier(random_state=0, tol=1e9, max_epochs=300, solver="sgd", patience=np.inf, early_stopping=False)
    clf.fit(X, y)
    assert clf.n_iter_ == 300


def test_early_stopping_stratified():
    """Too few samples for a stratified validation split: a ValueError that says so."""
    with pytest.raises(ValueError, match="validation"):
        FNNClassifier(random_state=0, early_stopping=True).fit([[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1])


def test_mlp_early_stopping_string_labels():
    X, y = make_classification(n_samples=200, n_features=10, n_classes=3, n_informative=5, random_state=42)
    y = np.array(["class_a", "class_b", "class_c"], dtype=object)[y]
    mlp = FNNClassifier(early_stopping=True, max_epochs=50, random_state=42)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    assert mlp.validation_scores_ is not None
    assert len(mlp.validation_scores_) == mlp.n_iter_
    assert np.isfinite(mlp.validation_scores_).all()


def test_mlp_classifier_dtypes_casting():
    """fnn's precision is the `dtype` setting, whatever the input's: float32 and float64 networks
    from the same seed predict the same classes."""
    settings = dict(l2=1e-5, hidden_layer_sizes=(5, 3), random_state=1, max_epochs=100, tol=1e-1)
    mlp_64 = FNNClassifier(dtype="float64", **settings).fit(X_digits[:300], y_digits[:300])
    mlp_32 = FNNClassifier(dtype="float32", **settings).fit(X_digits[:300].astype(np.float32), y_digits[:300])
    np.testing.assert_array_equal(mlp_64.predict(X_digits[300:]), mlp_32.predict(X_digits[300:].astype(np.float32)))
    np.testing.assert_allclose(mlp_64.predict_proba(X_digits[300:]), mlp_32.predict_proba(X_digits[300:]), atol=1e-2)


def test_mlp_regressor_dtypes_casting():
    settings = dict(l2=1e-5, hidden_layer_sizes=(5, 3), random_state=1, max_epochs=150, tol=1e-3)
    mlp_64 = FNNRegressor(dtype="float64", **settings).fit(X_digits[:300], y_digits[:300])
    mlp_32 = FNNRegressor(dtype="float32", **settings).fit(X_digits[:300], y_digits[:300])
    np.testing.assert_allclose(mlp_64.predict(X_digits[300:]), mlp_32.predict(X_digits[300:]), rtol=5e-3, atol=5e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_mlp_param_dtypes(dtype, Estimator):
    X, y = X_digits.astype(dtype), y_digits
    mlp = Estimator(l2=1e-5, hidden_layer_sizes=(5, 3), random_state=1, max_epochs=50, tol=1e-1, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X[:300], y[:300])
    pred = mlp.predict(X[300:])
    assert all(intercept.dtype == dtype for intercept in mlp.intercepts_)
    assert all(coef.dtype == dtype for coef in mlp.coefs_)
    if Estimator is FNNRegressor:
        assert pred.dtype == dtype


def test_mlp_loading_from_joblib_partial_fit(tmp_path):
    estimator = FNNRegressor(
        hidden_layer_sizes=(42,),
        random_state=42,
        learning_rate=0.01,
        l2=1e-4,  # scikit-learn's alpha; FNNRegressor's own default (0.025) keeps the fit from reaching 1
        max_epochs=200,
        early_stopping=False,
        input_scaling=None,  # one sample: scaled, its feature would be 0 (scikit-learn does not scale)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit([[2]], [4])
    joblib.dump(estimator, tmp_path / "mlp.pkl")
    loaded = joblib.load(tmp_path / "mlp.pkl")
    for _ in range(200):
        loaded.partial_fit([[2]], [1])
    np.testing.assert_allclose(loaded.predict([[2]]), [1], rtol=1e-4)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_preserve_feature_names(Estimator):
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = pd.DataFrame(data=rng.randn(10, 2), columns=["colname_a", "colname_b"])
    # (scikit-learn's y is one class throughout; fnn's classifier refuses a single class.)
    y = pd.Series(data=np.full(10, 1) if Estimator is FNNRegressor else np.arange(10) % 2, name="colname_y")
    model = Estimator(random_state=0, early_stopping=True, validation_fraction=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_mlp_warm_start_with_early_stopping(Estimator):
    mlp = Estimator(max_epochs=10, random_state=0, warm_start=True, early_stopping=True, patience=np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X_iris, y_iris)
        n_validation_scores = len(mlp.validation_scores_)
        mlp.set_params(max_epochs=20)
        mlp.fit(X_iris, y_iris)
    assert len(mlp.validation_scores_) > n_validation_scores


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_mlp_warm_start_no_convergence(Estimator, solver):
    """Each warm-started fit runs its max_epochs (scikit-learn: up to max_iter in all)."""
    model = Estimator(
        solver=solver, warm_start=True, early_stopping=False, max_epochs=10, patience=np.inf, random_state=0
    )
    model.fit(X_iris, y_iris)
    assert model.n_iter_ == 10
    model.set_params(max_epochs=20)
    model.fit(X_iris, y_iris)
    assert model.n_iter_ == 30


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_mlp_partial_fit_after_fit(Estimator):
    """scikit-learn refuses partial_fit after an early-stopped fit; fnn continues from the best
    epoch's weights without a validation split."""
    mlp = Estimator(early_stopping=True, random_state=0).fit(X_iris, y_iris)
    n_iter = mlp.n_iter_
    mlp.partial_fit(X_iris, y_iris)
    assert mlp.n_iter_ == n_iter + 1


def test_mlp_diverging_loss():
    """scikit-learn records NaN validation scores; fnn stops the fit with TrainingDiverged, which
    says what to try, and leaves the estimator as it was (here: not fitted)."""
    mlp = FNNRegressor(
        hidden_layer_sizes=100, activation="identity", solver="sgd", momentum=0, l2=0.0001, learning_rate=1,
        max_epochs=20, early_stopping=True, patience=10, random_state=0, input_scaling=None,
    )  # fmt: skip
    with pytest.raises(TrainingDiverged, match="smaller learning_rate"):
        mlp.fit(X_iris, y_iris)
    with pytest.raises(NotFittedError):
        mlp.predict(X_iris)


def test_mlp_sample_weight_with_early_stopping():
    X, y = make_regression(n_samples=100, n_features=2, n_informative=2, random_state=42)
    params = dict(
        hidden_layer_sizes=10, solver="adam", early_stopping=True, tol=1e-2, learning_rate=0.01, batch_size=10,
        random_state=42,
    )  # fmt: skip
    m1 = FNNRegressor(**params).fit(X, y, sample_weight=np.ones_like(y))
    m2 = FNNRegressor(**params).fit(X, y, sample_weight=None)
    np.testing.assert_allclose(m1.predict(X), m2.predict(X))


def test_minimum_input_sample_size():
    X, y = make_regression(n_samples=2, n_features=5, random_state=0)
    with pytest.raises(ValueError, match="empty training or validation set"):
        FNNRegressor(early_stopping=True, random_state=0).fit(X, y)
