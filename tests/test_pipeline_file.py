"""Pipelines of scikit-learn transformers and an fnn estimator in model files: exact round trips,
refusals of what the format cannot hold, corrupt preprocessing state refused, fnn predict on them."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler

import fnn
from fnn.cli import main
from fnn.io.model_file import ModelFileError, read_model, write_model


def mixed_frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "income": rng.lognormal(11, 1, n),
        "colour": rng.choice(["red", "green", "blue"], n).astype(object),
        "age": rng.integers(18, 90, n).astype(np.float64),
        "code": rng.choice([3, 7, 11], n),
        "city": rng.choice(["Oslo", "Lima", "Pune", "Kyiv"], n).astype(object),
    })
    frame.loc[::9, "income"] = np.nan
    frame.loc[::13, "colour"] = np.nan
    y = np.where((frame["colour"] == "red") | (frame["age"] > 60), "high", "low")
    return frame, y


def full_pipeline(**estimator):
    numbers = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    text = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore",
                                                                                  sparse_output=False))
    columns = ColumnTransformer([
        ("numbers", numbers, ["income", "age"]),
        ("text", text, make_column_selector(dtype_exclude="number")),
        ("code", OneHotEncoder(sparse_output=False, drop="first"), ["code"]),
    ], remainder="drop", sparse_threshold=0)
    return Pipeline([("columns", columns), ("scale", MinMaxScaler()),
                     ("net", fnn.FNNClassifier((8,), random_state=0, max_epochs=5, **estimator))])


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_pipeline_round_trips_exactly(tmp_path):
    frame, y = mixed_frame()
    pipeline = full_pipeline().fit(frame, y)
    fnn.save(pipeline, tmp_path / "p.npz")
    loaded = fnn.load(tmp_path / "p.npz")
    test, _ = mixed_frame(seed=1)
    test.loc[0, "city"] = "Nairobi"  # unknown category: ignored, as handle_unknown="ignore" does
    test.loc[1, "colour"] = "purple"
    assert np.array_equal(loaded.predict_proba(test), pipeline.predict_proba(test))
    assert np.array_equal(loaded[:-1].transform(test), pipeline[:-1].transform(test))
    assert list(loaded[0].get_feature_names_out()) == list(pipeline[0].get_feature_names_out())
    assert loaded[0].output_indices_ == pipeline[0].output_indices_
    assert list(loaded.feature_names_in_) == list(frame.columns)
    # Columns in another order are matched by name, as by the original.
    assert np.array_equal(loaded.predict(test[test.columns[::-1]]), pipeline.predict(test))
    # And saving the loaded pipeline writes the same state again.
    fnn.save(loaded, tmp_path / "q.npz")
    _, first, a = read_model(tmp_path / "p.npz")
    _, second, b = read_model(tmp_path / "q.npz")
    first.pop("fnn_version"), second.pop("fnn_version")
    assert first == second and a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_a_regressor_pipeline_fitted_on_arrays(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(150, 3)) * [1, 1000, 0.01]
    y = X[:, 0] + X[:, 1] / 1000
    pipeline = make_pipeline(MinMaxScaler(), fnn.FNNRegressor((8,), random_state=0, max_epochs=20)).fit(X, y)
    fnn.save(pipeline, tmp_path / "r.npz")
    loaded = fnn.load(tmp_path / "r.npz")
    assert np.array_equal(loaded.predict(X), pipeline.predict(X))
    assert not hasattr(loaded, "feature_names_in_")


@pytest.mark.parametrize("make,message", [
    (lambda: make_pipeline(FunctionTransformer(np.log1p), fnn.FNNClassifier((4,), max_epochs=2)),
     "cannot save a FunctionTransformer"),
    (lambda: make_pipeline(OneHotEncoder(min_frequency=3, sparse_output=False), fnn.FNNClassifier((4,), max_epochs=2)),
     "infrequent categories"),
    (lambda: make_pipeline(SimpleImputer(add_indicator=True), fnn.FNNClassifier((4,), max_epochs=2)),
     "add_indicator"),
    (lambda: make_pipeline(StandardScaler()), "its last step must be an FNNClassifier or FNNRegressor"),
])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_what_the_format_cannot_hold_is_refused_and_nothing_is_written(tmp_path, make, message):
    X = np.random.default_rng(0).integers(0, 5, size=(40, 2)).astype(np.float64)
    y = np.arange(40) % 2
    pipeline = make().fit(X, y)
    with pytest.raises(ModelFileError, match=message):
        fnn.save(pipeline, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_save_refuses_what_is_not_a_model(tmp_path):
    with pytest.raises(ModelFileError, match="cannot save a dict"):
        fnn.save({}, tmp_path / "x.npz")


def _corrupted(tmp_path, change):
    frame, y = mixed_frame()
    pipeline = full_pipeline().fit(frame, y)
    fnn.save(pipeline, tmp_path / "p.npz")
    kind, header, arrays = read_model(tmp_path / "p.npz")
    header = {k: v for k, v in header.items() if k not in ("format", "format_version", "fnn_version", "kind")}
    change(header, arrays)
    write_model(tmp_path / "bad.npz", kind, header, arrays)
    return tmp_path / "bad.npz"


def _statistics(header, arrays):
    key = next(k for k in arrays if k.endswith("statistics_"))
    arrays[key] = arrays[key][:-1] if arrays[key].size > 1 else np.zeros(3)


def _categories(header, arrays):
    key = next(k for k in arrays if "categories_/" in k and not k.endswith("#missing"))
    arrays[key] = arrays[key][::-1].copy()  # unsorted categories: not what the encoder learnt


def _unknown_kind(header, arrays):
    header["steps"][1]["step"]["kind"] = "PolynomialFeatures"


def _missing_mask(header, arrays):
    del arrays[next(k for k in arrays if k.endswith("#missing"))]


def _scale(header, arrays):
    key = next(k for k in arrays if k.endswith("scale_") and "input_scaler" not in k)
    arrays[key] = -arrays[key]


@pytest.mark.parametrize("change", [_statistics, _categories, _unknown_kind, _missing_mask, _scale])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_corrupt_preprocessing_state_is_refused(tmp_path, change):
    bad = _corrupted(tmp_path, change)
    with pytest.raises(ModelFileError):
        fnn.load(bad)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fnn_predict_uses_a_users_saved_pipeline(tmp_path, capsys):
    frame, y = mixed_frame()
    pipeline = full_pipeline().fit(frame, pd.Series(y, name="band"))
    fnn.save(pipeline, tmp_path / "p.npz")
    frame.assign(band=y).to_csv(tmp_path / "data.csv", index=False)
    assert main(["predict", str(tmp_path / "p.npz"), str(tmp_path / "data.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "prediction" and out[1:] == list(pipeline.predict(frame))
    assert main(["evaluate", str(tmp_path / "p.npz"), str(tmp_path / "data.csv")]) == 0
    assert f"accuracy: {pipeline.score(frame, y):.4f}" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "p.npz")]) == 0
    info = capsys.readouterr().out
    assert "preprocessing step 'columns': ColumnTransformer" in info and "model step 'net': FNNClassifier" in info


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_with_preprocessing_takes_a_raw_dataframe_and_round_trips(tmp_path):
    frame, y = mixed_frame()
    frame["city"] = frame["city"].astype("category")  # pandas categoricals are text columns too
    frame.loc[3, "colour"] = None  # None stays a value of its own for scikit-learn (NaN is imputed)
    frame["member"] = np.arange(len(frame)) % 3 == 0  # booleans are numbers
    with pytest.raises(ValueError, match=r"text column\(s\) \['colour', 'city'\].*fnn.with_preprocessing"):
        fnn.FNNClassifier().fit(frame, y)
    model = fnn.with_preprocessing(fnn.FNNClassifier((8,), max_epochs=20, random_state=0)).fit(frame, y)
    assert model.score(frame, y) > 0.8
    columns = {name: list(step.feature_names_in_) for name, step in model[0].named_transformers_.items()
               if name != "remainder"}
    assert columns["numbers"] == ["income", "age", "code", "member"] and columns["text"] == ["colour", "city"]
    fnn.save(model, tmp_path / "m.npz")
    loaded = fnn.load(tmp_path / "m.npz")
    assert np.array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
