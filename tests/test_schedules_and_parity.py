"""Learning-rate schedules, and the estimators' scikit-learn names, attributes and errors.

Private pieces: the optimiser state a network keeps (``_optimiser_state``), which warm starts
continue, and its generator (``_rng``).
"""

import math

import numpy as np
import pytest

import fnn


def data(n=120, features=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)), rng.integers(0, classes, size=n)


# ---------------------------------------------------------------------- schedules


@pytest.mark.parametrize("schedule,settings,expected", [
    ("constant", {}, lambda a, e, t: a),
    ("invscaling", {"power_t": 0.25}, lambda a, e, t: a / (t + 1) ** 0.25),
    ("step", {"step_epochs": 3, "step_factor": 0.1}, lambda a, e, t: a * 0.1 ** (e // 3)),
    ("cosine", {}, lambda a, e, t: a * 0.5 * (1 + math.cos(math.pi * e / 8))),
])
def test_each_epoch_gets_the_rate_of_its_schedule(schedule, settings, expected):
    X, y = data()
    history = fnn.Network([4, 6, 3], seed=0).fit(X, y, learning_rate=0.05, max_epochs=8, validation_fraction=0,
                                                 schedule=schedule, **settings)
    assert history.learning_rate == pytest.approx([expected(0.05, e, 120 * e) for e in range(8)], rel=1e-12)


def test_the_schedule_is_what_the_kernels_use():
    # A step schedule's epochs equal epochs run one at a time with those rates.
    X, y = data()
    scheduled = fnn.Network([4, 6, 3], seed=0)
    scheduled.fit(X, y, learning_rate=0.1, max_epochs=4, validation_fraction=0, schedule="step", step_epochs=2,
                  optimiser="momentum")
    by_hand = fnn.Network([4, 6, 3], seed=0)
    for rate in (0.1, 0.1, 0.05, 0.05):
        by_hand.fit(X, y, learning_rate=rate, max_epochs=1, validation_fraction=0, optimiser="momentum")
    for key, p in scheduled.parameters().items():
        np.testing.assert_array_equal(p, by_hand.parameters()[key])


def test_adaptive_divides_by_five_on_a_plateau_then_stops_at_its_floor():
    # tol = 10: no epoch counts as an improvement of the training loss after the first.
    X, y = data()
    history = fnn.Network([4, 6, 3], seed=0).fit(X, y, learning_rate=0.01, max_epochs=100, validation_fraction=0,
                                                 schedule="adaptive", patience=2, tol=10.0)
    rates = history.learning_rate
    assert rates[:3] == [0.01] * 3 and rates[3:5] == pytest.approx([0.002] * 2)
    assert min(rates) / 5 < 1e-6 <= min(rates)  # stopped at the floor, not at max_epochs
    assert history.n_epochs < 100


def test_adaptive_with_validation_divides_instead_of_stopping():
    X, y = data(200)
    history = fnn.Network([4, 6, 3], seed=0).fit(X, y, learning_rate=0.01, max_epochs=30, patience=2, tol=10.0,
                                                 schedule="adaptive")
    rates = sorted(set(history.learning_rate), reverse=True)
    assert rates == pytest.approx([0.01 / 5 ** k for k in range(len(rates))]) and len(rates) > 1
    assert history.n_epochs < 30  # stopped at the floor


def test_without_validation_training_stops_on_the_training_loss_when_asked():
    X, y = data()
    net = fnn.Network([4, 6, 3], seed=0)
    assert net.fit(X, y, max_epochs=50, validation_fraction=0, tol=10.0).n_epochs == 50
    history = net.fit(X, y, max_epochs=50, validation_fraction=0, tol=10.0, patience=3, stop_on_training_loss=True)
    assert history.n_epochs == 4 and history.best_epoch == 4  # the last epoch's weights are kept


def test_shuffle_false_trains_on_the_samples_in_their_order():
    X, y = data()
    nets = [fnn.Network([4, 6, 3], seed=0) for _ in range(2)]
    nets[1]._rng = np.random.default_rng(99)  # another generator: it draws no order
    for net in nets:
        net.fit(X, y, max_epochs=3, validation_fraction=0, shuffle=False, optimiser="adam")
    for key, p in nets[0].parameters().items():
        np.testing.assert_array_equal(p, nets[1].parameters()[key])
    shuffled = fnn.Network([4, 6, 3], seed=0)
    shuffled.fit(X, y, max_epochs=3, validation_fraction=0, optimiser="adam")
    assert not np.array_equal(shuffled.parameters()["weights_1"], nets[0].parameters()["weights_1"])


# ---------------------------------------------------------------------- the estimators' scikit-learn names


@pytest.mark.parametrize("params,optimiser", [
    ({"solver": "sgd", "momentum": 0.0}, None), ({"solver": "sgd", "momentum": 0.9}, "nesterov"),
    ({"solver": "sgd", "momentum": 0.5, "nesterovs_momentum": False}, "momentum"), ({"solver": "adam"}, "adam"),
    ({"solver": "adamw"}, "adamw"), ({"solver": "adagrad"}, "adagrad"), ({"solver": "rmsprop"}, "rmsprop"),
])
def test_solver_momentum_and_nesterovs_momentum_mean_what_they_mean_in_scikit_learn(params, optimiser):
    X, y = data()
    model = fnn.FNNClassifier((8,), random_state=0, max_epochs=3, **params).fit(X, y)
    state = model.network_._optimiser_state
    assert (state.name if state else None) == optimiser
    assert model.network_.training_settings_["optimiser"] == (optimiser or "sgd")


@pytest.mark.parametrize("params,message", [
    ({"solver": "lbfgs"}, "solver='lbfgs' is not available"), ({"solver": "newton"}, "unknown solver 'newton'"),
    ({"momentum": -1.0, "solver": "sgd"}, "momentum must be >= 0"), ({"beta_1": 1.0}, "beta_1 must be < 1"),
    ({"beta_2": 2.0}, "beta_2 must be < 1"), ({"epsilon": -1.0}, "epsilon must be > 0"),
    ({"schedule": "invscale"}, "unknown schedule 'invscale'"),
])
def test_bad_estimator_settings_are_named_before_any_work(params, message):
    X, y = data()
    model = fnn.FNNClassifier((8,), random_state=0, max_epochs=2).fit(X, y)
    before = {k: v.copy() for k, v in model.network_.parameters().items()}
    with pytest.raises(ValueError, match=message):
        model.set_params(warm_start=True, **params).fit(X, y)
    for key, p in model.network_.parameters().items():
        np.testing.assert_array_equal(p, before[key])


def test_scikit_learn_attributes():
    X, y = data(200)
    model = fnn.FNNClassifier((8, 5), random_state=0, max_epochs=20).fit(X, y)
    assert model.n_layers_ == 4 and model.out_activation_ == "softmax"
    assert [w.shape for w in model.coefs_] == [(4, 8), (8, 5), (5, 3)]
    assert [b.shape for b in model.intercepts_] == [(8,), (5,), (3,)]
    assert model.best_loss_ is None and model.best_validation_score_ == max(model.validation_scores_)
    # scikit-learn's forward pass with these attributes gives the model's probabilities.
    a = model.input_scaler_.transform(X)
    for W, b in zip(model.coefs_[:-1], model.intercepts_[:-1]):
        a = np.maximum(a @ W + b, 0)
    z = a @ model.coefs_[-1] + model.intercepts_[-1]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p / p.sum(axis=1, keepdims=True), model.predict_proba(X), rtol=1e-4, atol=1e-5)
    off = fnn.FNNRegressor((8,), random_state=0, max_epochs=20, early_stopping=False).fit(X, y.astype(float))
    assert off.best_validation_score_ is None and off.best_loss_ == min(off.loss_curve_)
    assert off.out_activation_ == "identity" and off.n_layers_ == 3


def test_early_stopping_off_stops_on_the_training_loss_as_scikit_learn_does():
    X, y = data()
    model = fnn.FNNClassifier((8,), random_state=0, early_stopping=False, tol=10.0, patience=4).fit(X, y)
    assert model.n_iter_ == 5


def test_partial_fit_classes_must_stay_the_same():
    X, y = data()
    model = fnn.FNNClassifier((8,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="is not the same as on last call to partial_fit"):
        model.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        model.partial_fit(X, np.full(len(y), 7))
    model.partial_fit(X[y < 2], y[y < 2])  # a batch without some classes is fine


def test_a_warm_start_needs_the_same_classes():
    X, y = data()
    model = fnn.FNNClassifier((8,), random_state=0, warm_start=True, max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same classes"):
        model.fit(X[y < 2], y[y < 2])


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_and_warm_start_continue_the_optimiser(tmp_path, solver):
    X, y = data()
    model = fnn.FNNClassifier((8,), random_state=0, solver=solver, momentum=0.9, learning_rate=0.001)
    for _ in range(3):
        model.partial_fit(X, y, classes=[0, 1, 2])
    state = model.network_._optimiser_state
    assert state.step == 3 * 120
    model.save(tmp_path / "m.fnn")
    loaded = fnn.load(tmp_path / "m.fnn")
    for m in (model, loaded):
        m.partial_fit(X, y)
    for key, p in model.network_.parameters().items():
        np.testing.assert_array_equal(p, loaded.network_.parameters()[key])
    assert loaded.best_loss_ == model.best_loss_
