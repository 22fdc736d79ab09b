"""One place for the training settings' defaults and checks (fnn.training.settings), used everywhere."""

import inspect

import pytest

import fnn
from fnn.training import settings
from fnn.cli.commands import _main_job_parser
from fnn.cli.config import DEFAULTS

NAMES = ["learning_rate", "l2", "batch_size", "max_epochs", "patience", "validation_fraction", "tol"]
ALL = list(settings.TrainingSettings.__dataclass_fields__)


def test_network_fit_and_the_estimators_take_their_defaults_from_fnn_settings():
    fit = inspect.signature(fnn.Network.fit).parameters
    assert {name: fit[name].default for name in ALL} == settings.NETWORK_FIT.as_dict()
    for estimator in (fnn.FNNClassifier(), fnn.FNNRegressor()):
        params = estimator.get_params()
        shared = [name for name in ALL if name in params]
        expected = {name: getattr(settings.ESTIMATOR, name) for name in shared}
        expected["batch_size"] = settings.ESTIMATOR_BATCH_SIZE  # "auto": chosen from the rows
        if isinstance(estimator, fnn.FNNRegressor):
            expected["l2"] = settings.REGRESSOR_L2
        assert {name: params[name] for name in shared} == expected
        # `solver` (scikit-learn's name) makes the optimiser; early_stopping=False the training-loss stop.
        assert set(ALL) - set(shared) == {"optimiser", "stop_on_training_loss"}
        assert settings.optimiser_of_solver(params["solver"], params["momentum"], params["nesterovs_momentum"]) \
            == settings.ESTIMATOR.optimiser


def test_the_command_lines_take_their_defaults_from_fnn_settings():
    same = [name for name in NAMES if name not in ("tol", "l2", "batch_size")]
    assert {name: DEFAULTS[name] for name in same} == {name: getattr(settings.ESTIMATOR, name) for name in same}
    # l2: None, the estimator's own (the classifier's and the regressor's differ).
    assert (DEFAULTS["l2"], DEFAULTS["batch_size"]) == (None, settings.ESTIMATOR_BATCH_SIZE)
    assert (DEFAULTS["solver"], DEFAULTS["momentum"], DEFAULTS["schedule"]) == \
        (settings.ESTIMATOR_SOLVER, settings.ESTIMATOR.momentum, settings.ESTIMATOR.schedule)
    job = vars(_main_job_parser().parse_args([]))
    assert {name: job[name] for name in ("learning_rate", "l2", "batch_size", "max_epochs", "patience")} == \
        {name: getattr(settings.MAIN_JOB, name) for name in ("learning_rate", "l2", "batch_size", "max_epochs",
                                                             "patience")}


@pytest.mark.parametrize("name, value, error", [
    ("learning_rate", 0, ValueError), ("learning_rate", "fast", TypeError), ("l2", -1e-3, ValueError),
    ("batch_size", 0, ValueError), ("batch_size", 2.5, TypeError), ("max_epochs", True, TypeError),
    ("patience", 0, ValueError), ("validation_fraction", 1.0, ValueError), ("tol", -1, ValueError),
])
def test_a_bad_setting_is_named_by_the_settings_network_fit_and_the_estimators(name, value, error):
    with pytest.raises(error, match=name):
        settings.TrainingSettings(**{name: value})
    import numpy as np

    X, y = np.zeros((10, 2)), np.arange(10) % 2
    net = fnn.Network([2, 3, 2], seed=0)
    before = {k: p.copy() for k, p in net.parameters().items()}
    with pytest.raises(error, match=name):
        net.fit(X, y, **{name: value})
    assert all(np.array_equal(p, before[k]) for k, p in net.parameters().items())
    with pytest.raises(error, match=name):
        fnn.FNNClassifier(**{name: value}).fit(X, y)


def test_settings_are_normalised_and_frozen():
    s = settings.TrainingSettings(learning_rate=1, batch_size=np_int())
    assert isinstance(s.learning_rate, float) and type(s.batch_size) is int
    with pytest.raises(AttributeError):
        s.learning_rate = 0.5


def np_int():
    import numpy as np

    return np.int64(4)


def test_infinite_patience_trains_max_epochs_keeps_the_best_and_saves(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(80, 3)), rng.integers(0, 2, 80)
    clf = fnn.FNNClassifier((8,), max_epochs=15, patience=np.inf, random_state=0).fit(X, y)
    assert clf.n_iter_ == 15 and not clf.history_.stopped_early
    assert clf.validation_scores_[clf.best_epoch_ - 1] == max(clf.validation_scores_)
    clf.save(tmp_path / "m.npz")
    assert fnn.load(tmp_path / "m.npz").patience == np.inf
    with pytest.raises(TypeError, match="patience"):
        settings.TrainingSettings(patience=-np.inf)


def test_estimators_choose_the_batch_size_from_the_training_rows():
    import numpy as np

    import fnn
    from fnn.training.settings import auto_batch_size

    assert fnn.FNNClassifier().batch_size == "auto" and fnn.FNNRegressor().batch_size == "auto"
    assert [auto_batch_size(n) for n in (0, 150, 199, 200, 2700, 54000)] == [1, 1, 1, 2, 27, 200]
    assert auto_batch_size(150, bfloat16=True) == 32 and auto_batch_size(10, bfloat16=True) == 10
    rng = np.random.default_rng(0)
    for rows, batch in ((150, 1), (3000, 27)):  # 10% held out for early stopping
        X, y = rng.normal(size=(rows, 4)), rng.integers(0, 2, rows)
        model = fnn.FNNClassifier((8,), max_epochs=1, random_state=0).fit(X, y)
        assert model.network_.training_settings_["batch_size"] == batch
    assert fnn.FNNClassifier((8,), max_epochs=1, early_stopping=False).fit(X, y).network_.training_settings_[
        "batch_size"] == 30
    with pytest.raises(ValueError, match="batch_size must be a positive integer or 'auto'"):
        fnn.FNNClassifier(batch_size="large").fit(X, y)


def test_the_regressor_defaults_to_a_stronger_l2_than_the_classifier():
    import fnn
    from fnn.training.settings import ESTIMATOR, REGRESSOR_L2

    assert fnn.FNNRegressor().l2 == REGRESSOR_L2 == 0.025 and fnn.FNNClassifier().l2 == ESTIMATOR.l2 == 1e-4
