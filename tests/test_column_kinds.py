"""Column kinds a user declares (issue 23): codes that look like numbers one-hot encoded, numbers
with stray words read as numbers, categories first met by predict encoded as zeros with one
warning naming them; saved in model files; the same on the command line."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.cli import main
from fnn.sklearn.column_kinds import AsNumbers, Categories, ColumnWarning, as_text


def table(n=240, seed=0):
    """A price that depends on a ZIP code (numbers that are categories), a cylinder count with the
    word 'rotary' in one row (a number column read as text), a colour with missing values."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "size": rng.normal(100, 20, n),
        "zip": rng.choice([94110, 10001, 60601], n),
        "cylinders": rng.choice(["4", "6", "8"], n).astype(object),
        "colour": rng.choice(np.array(["red", "blue", None], dtype=object), n),
    })
    frame.loc[7, "cylinders"] = "rotary"
    price = frame["size"] / 10 + 5 * (frame["zip"] == 94110) + rng.normal(0, 0.3, n)
    return frame, price


def recorded(function):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function()
    return result, [str(w.message) for w in caught if issubclass(w.category, ColumnWarning)]


def test_declared_kinds_choose_the_encoding_and_round_trip_through_a_model_file(tmp_path):
    frame, price = table()
    model, messages = recorded(lambda: fnn.with_preprocessing(
        fnn.FNNRegressor((16,), max_epochs=30, random_state=0), categorical=["zip"], numeric=["cylinders"]).fit(
            frame, price))
    assert messages == ["values that are not numbers, read as missing (then imputed) in the numeric column(s) "
                        "'cylinders': 'rotary'"]
    chosen = model[0].named_transformers_
    assert list(chosen["numbers"].feature_names_in_) == ["size", "cylinders"]
    assert list(chosen["text"].feature_names_in_) == ["zip", "colour"]
    encoder = model[0].named_transformers_["text"]
    assert list(encoder.categories_[0]) == ["10001", "60601", "94110"]  # codes, as text
    assert recorded(lambda: model.score(frame, price))[0] > 0.9
    fnn.save(model, tmp_path / "model.npz")
    loaded = fnn.load(tmp_path / "model.npz")
    later = frame.copy()
    later.loc[0, "zip"], later.loc[1, "colour"], later.loc[2, "colour"] = 99999, "green", "mauve"
    for fitted in (model, loaded):
        predictions, messages = recorded(lambda fitted=fitted: fitted.predict(later))
        assert "categories not seen in training, encoded as zeros, in column(s) 'zip': '99999'; 'colour': 'green', " \
               "'mauve'" in messages
    np.testing.assert_array_equal(recorded(lambda: model.predict(later.iloc[3:]))[0],
                                  recorded(lambda: loaded.predict(later.iloc[3:]))[0])


def test_without_declarations_a_code_column_is_a_number_and_with_them_it_is_not():
    frame, price = table()
    by_dtype = fnn.with_preprocessing(fnn.FNNRegressor((8,), max_epochs=3, random_state=0)).fit(
        frame.drop(columns="cylinders"), price)
    assert "zip" in by_dtype[0].named_transformers_["numbers"].feature_names_in_
    declared = fnn.with_preprocessing(fnn.FNNRegressor((8,), max_epochs=3, random_state=0), categorical=[1]).fit(
        frame.drop(columns="cylinders"), price)  # by position
    assert "zip" in declared[0].named_transformers_["text"].feature_names_in_


@pytest.mark.parametrize("declared, match", [
    ({"categorical": ["zipp"]}, "no column 'zipp'"), ({"numeric": [9]}, "no column 9"),
    ({"categorical": ["zip"], "numeric": ["zip"]}, "both categorical and numeric"),
])
def test_bad_declarations_are_named(declared, match):
    frame, price = table()
    with pytest.raises(ValueError, match=match):
        fnn.with_preprocessing(fnn.FNNRegressor((4,), max_epochs=1), **declared).fit(frame, price)


def test_as_text_makes_one_category_of_a_code_however_it_was_read():
    column = np.array([94110, 94110.0, "94110", np.int64(94110), 2.5, None, np.nan, True], dtype=object)
    assert as_text(column)[:5].tolist() == ["94110"] * 4 + ["2.5"]
    assert all(v != v for v in as_text(column)[5:7]) and as_text(column)[7] == "True"


cells = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=False, width=32), st.integers(-10**6, 10**6),
                  st.text(max_size=6), st.sampled_from(["1e3", " 7 ", "rotary", "", "NaN", "-0"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(cells, min_size=2, max_size=2), min_size=1, max_size=30))
def test_any_cells_become_numbers_or_missing_and_categories_never_fail(rows):
    frame = pd.DataFrame(rows, columns=["a", "b"], dtype=object)
    numbers, _ = recorded(lambda: AsNumbers().fit(frame).transform(frame))
    assert numbers.dtype == np.float64 and numbers.shape == (len(rows), 2)
    expected = pd.to_numeric(frame["a"], errors="coerce").to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(numbers[:, 0], expected)
    encoder = Categories().fit(frame)
    encoded, _ = recorded(lambda: encoder.transform(frame[::-1]))
    assert encoded.shape[0] == len(rows) and set(np.unique(encoded)) <= {0.0, 1.0}
    assert (encoded.sum(axis=1) == 2).all()  # every row one category per column, missing included


def test_command_line_declarations(tmp_path, capsys):
    frame, price = table()
    frame["price"] = price
    path = tmp_path / "cars.csv"
    frame.to_csv(path, index=False)
    model = tmp_path / "model.npz"
    status = main(["train", str(path), "--categorical", "zip", "--numeric", "cylinders", "--max-epochs", "5",
                   "--quiet", "-o", str(model)])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "categorical columns, one-hot encoded: zip, colour" in out
    assert "declared numeric: cylinders" in out
    assert "'cylinders': 'rotary'" in err  # the warning, on stderr
    assert list(fnn.load(model)[0].named_transformers_["text"].categories_[0]) == ["10001", "60601", "94110"]
    status = main(["train", str(path), "--categorical", "zipcode", "--numeric", "cylinders", "-o",
                   str(tmp_path / "x.npz")])
    out, err = capsys.readouterr()
    assert status != 0 and "--categorical names no feature column 'zipcode'" in err and "did you mean 'zip'" in err


def test_a_saved_model_reads_a_stray_word_at_predict_time_as_missing_with_a_warning(tmp_path, capsys):
    frame, price = table()
    frame = frame.drop(columns="cylinders")
    frame["price"] = price
    frame.to_csv(tmp_path / "train.csv", index=False)
    model = tmp_path / "model.npz"
    assert main(["train", str(tmp_path / "train.csv"), "--max-epochs", "2", "--quiet", "-o", str(model)]) == 0
    later = frame.drop(columns="price").astype({"size": object})
    later.loc[3, "size"] = "large"  # in training, a word among numbers is an error; here one warning
    later.to_csv(tmp_path / "later.csv", index=False)
    capsys.readouterr()
    assert main(["predict", str(model), str(tmp_path / "later.csv")]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == len(later) + 1
    assert "fnn: warning: values that are not numbers, read as missing (then imputed) in the numeric column(s) " \
           "'size': 'large'" in err


def test_columns_given_by_position_are_positions_in_a_dataframe_too():
    # As scikit-learn takes integers: position 0 is the first column, whatever its label.
    frame, price = table()
    frame = frame.drop(columns="cylinders")
    model = fnn.with_preprocessing(fnn.FNNRegressor((4,), max_epochs=2, random_state=0),
                                   numeric_columns=[0, 1], text_columns=[2]).fit(frame, price)
    chosen = model[0].named_transformers_
    assert list(chosen["numbers"].feature_names_in_) == list(frame.columns[:2])
    assert list(chosen["text"].feature_names_in_) == [frame.columns[2]]
