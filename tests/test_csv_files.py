"""The command line on real CSV files: separators, missing values, text and date columns, column
matching by name, and files written by other programs."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fnn
from fnn.sklearn.column_kinds import ColumnWarning
from fnn.cli import main
from fnn.io.data_files import CsvOptions, DataError, read_features, read_table


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def penguins(n=240, seed=0):
    """A penguins-like table: text features, missing values of several spellings, text labels."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], n)
    bill = np.where(species == "Adelie", 38.0, np.where(species == "Gentoo", 47.0, 49.0)) + rng.normal(0, 1.5, n)
    flipper = np.where(species == "Gentoo", 217.0, 191.0) + rng.normal(0, 5, n)
    island = np.where(species == "Gentoo", "Biscoe", np.where(species == "Chinstrap", "Dream",
                                                              rng.choice(["Torgersen", "Biscoe", "Dream"], n)))
    mass = np.where(species == "Gentoo", 5000.0, 3700.0) + rng.normal(0, 300, n)
    frame = pd.DataFrame({"species": species, "island": island, "bill_length_mm": bill.round(1),
                          "flipper_length_mm": flipper.round(0), "body_mass_g": mass.round(0),
                          "sex": rng.choice(["male", "female"], n)})
    frame = frame.astype({"bill_length_mm": object, "sex": object})
    frame.loc[5, "bill_length_mm"] = "NA"
    frame.loc[17, "sex"] = None
    frame.loc[30, "flipper_length_mm"] = np.nan
    return frame


def test_a_penguins_file_with_text_columns_and_missing_values_trains_and_predicts(tmp_path, capsys):
    data = tmp_path / "penguins.csv"
    penguins().to_csv(data, index=False)
    model = tmp_path / "m.npz"
    status, out, err = run(capsys, "train", data, "--target", "species", "-q", "-o", model, "--seed", "1")
    assert status == 0, err
    assert "240 samples × 5 features, classification, target column 'species'" in out
    assert "categorical columns, one-hot encoded: island, sex" in out
    assert float(out.split("training accuracy: ")[1].split()[0]) > 0.9
    loaded = fnn.load(model)
    assert list(loaded.feature_names_in_) == ["island", "bill_length_mm", "flipper_length_mm", "body_mass_g", "sex"]

    # The same rows, columns in another order, the target still there, a new island and blanks.
    shuffled = penguins().iloc[:50]
    expected = loaded.predict(pd.read_csv(data).drop(columns="species").iloc[:50])
    shuffled = shuffled[["sex", "body_mass_g", "species", "flipper_length_mm", "island", "bill_length_mm"]]
    shuffled.to_csv(tmp_path / "reordered.csv", index=False)
    status, out, err = run(capsys, "predict", model, tmp_path / "reordered.csv")
    assert status == 0, err
    assert out.splitlines()[1:] == list(expected)

    unknown = shuffled.astype({"body_mass_g": object})
    unknown.loc[0, "island"] = "Atlantis"  # a category never seen: encoded as all zeros
    unknown.loc[1, "body_mass_g"] = ""
    unknown.to_csv(tmp_path / "unknown.csv", index=False)
    status, out, err = run(capsys, "predict", model, tmp_path / "unknown.csv", "--proba")
    assert status == 0, err
    assert "fnn: warning: categories not seen in training, encoded as zeros, in column(s) 'island': 'Atlantis'" in err
    rows = [list(map(float, line.split(","))) for line in out.splitlines()[1:]]
    frame = pd.read_csv(tmp_path / "unknown.csv").drop(columns="species")
    with pytest.warns(ColumnWarning, match="'island': 'Atlantis'"):
        assert np.allclose(rows, loaded.predict_proba(frame), atol=1e-8)

    status, out, err = run(capsys, "evaluate", model, tmp_path / "reordered.csv")
    assert status == 0, err
    assert "accuracy" in out


def test_a_missing_column_is_named_and_unused_columns_are_reported(tmp_path, capsys):
    data = tmp_path / "penguins.csv"
    penguins().to_csv(data, index=False)
    assert main(["train", str(data), "--target", "species", "-q", "-o", str(tmp_path / "m.npz"),
                 "--max-epochs", "3"]) == 0
    capsys.readouterr()
    penguins().drop(columns="sex").assign(colour="blue").to_csv(tmp_path / "less.csv", index=False)
    status, out, err = run(capsys, "predict", tmp_path / "m.npz", tmp_path / "less.csv")
    assert status == 2 and "no column 'sex', which the model needs" in err
    penguins().assign(colour="blue").to_csv(tmp_path / "more.csv", index=False)
    status, out, err = run(capsys, "predict", tmp_path / "m.npz", tmp_path / "more.csv")
    assert status == 0 and "column(s) 'colour' are not features of the model: left out" in err


@pytest.mark.parametrize("name,delimiter,decimal", [("data.csv", ";", ","), ("data.tsv", "\t", "."),
                                                    ("data.csv", "\t", "."), ("data.txt", ",", ".")])
def test_separators_and_decimal_marks_are_detected(tmp_path, name, delimiter, decimal):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3)) * 100
    label = np.where(X[:, 0] > 0, "yes", "no")
    frame = pd.DataFrame({"a": X[:, 0], "b b": X[:, 1], "c": X[:, 2], "label": label})
    path = tmp_path / name
    frame.to_csv(path, sep=delimiter, decimal=decimal, index=False)
    table = read_table(str(path))
    assert table.feature_names == ["a", "b b", "c"] and table.target_name == "label"
    assert np.allclose(table.X.to_numpy(), X) and list(table.y) == list(label)


def test_an_explicit_delimiter_and_missing_value_marks(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a|b|t\n1|?|x\n2|3|y\n-|4|x\n5|6|y\n")
    table = read_table(str(path), options=CsvOptions(delimiter="|", na_values=("?", "-")))
    assert np.array_equal(table.X.to_numpy(), [[1, np.nan], [2, 3], [np.nan, 4], [5, 6]], equal_nan=True)


def test_a_stray_cell_in_a_column_of_numbers_is_an_error_naming_line_column_and_flag(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("a,b,t\n1,2,x\n2,?,y\n3,4,x\n4,5,y\n")
    with pytest.raises(DataError, match=r"line 3, column 'b': '\?' is not a number .* add --na-values '\?'"):
        read_table(str(path))


def test_rows_without_a_target_are_left_out_and_said_so(tmp_path, capsys):
    path = tmp_path / "data.csv"
    rows = [f"{i},{i % 2 * 3 + 0.1 * i},{'ab'[i % 2]}" for i in range(40)]
    rows[3] = "3,3.3,"
    path.write_text("a,b,t\n" + "\n".join(rows) + "\n")
    status, out, err = run(capsys, "train", path, "-q", "-o", tmp_path / "m.npz", "--max-epochs", "2")
    assert status == 0, err
    assert "1 row(s) without a value in the target column 't' left out (line 5)" in out
    assert "39 samples" in out


def test_dates_become_days_and_an_index_column_is_warned_about(tmp_path, capsys):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=60, freq="D").strftime("%Y-%m-%d"),
                          "x": rng.normal(size=60)})
    frame["y"] = (frame["x"] > 0).astype(int)
    path = tmp_path / "dated.csv"
    frame.to_csv(path)  # pandas writes its index as an unnamed first column
    table = read_table(str(path))
    assert table.X["when"].iloc[0] == (pd.Timestamp("2024-01-01") - pd.Timestamp("1970-01-01")).days
    assert any("'when' holds dates" in note for note in table.notes)
    status, out, err = run(capsys, "train", path, "-q", "-o", tmp_path / "m.npz", "--max-epochs", "2")
    assert status == 0 and "column 'Unnamed: 0' counts the rows (0, 1, 2, …)" in err and "--drop 'Unnamed: 0'" in err
    status, out, err = run(capsys, "train", path, "-q", "-o", tmp_path / "m.npz", "--max-epochs", "2",
                           "--drop", "Unnamed: 0")
    assert status == 0 and "2 features" in out


def test_drop_and_features_select_columns_and_check_their_names(tmp_path, capsys):
    path = tmp_path / "data.csv"
    penguins().to_csv(path, index=False)
    table = read_table(str(path), "species", CsvOptions(features=("bill_length_mm", "island")))
    assert table.feature_names == ["bill_length_mm", "island"] and table.text_columns == ["island"]
    table = read_table(str(path), "species", CsvOptions(drop=("island", "sex")))
    assert table.feature_names == ["bill_length_mm", "flipper_length_mm", "body_mass_g"] and not table.text_columns
    status, out, err = run(capsys, "train", path, "--target", "species", "--drop", "beak")
    assert status == 2 and "--drop names no column 'beak'" in err
    status, out, err = run(capsys, "train", path, "--target", "speceis")
    assert status == 2 and "no column 'speceis' (did you mean 'species'?)" in err


def test_a_file_without_a_header_is_matched_by_position(tmp_path, capsys):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    named = tmp_path / "named.csv"
    pd.DataFrame({"u": X[:, 0], "v": X[:, 1], "y": y}).to_csv(named, index=False)
    assert main(["train", str(named), "-q", "-o", str(tmp_path / "m.npz"), "--max-epochs", "5"]) == 0
    capsys.readouterr()
    bare = tmp_path / "bare.csv"
    np.savetxt(bare, X, delimiter=",")
    status, out, err = run(capsys, "predict", tmp_path / "m.npz", bare)
    assert status == 0, err
    assert out.splitlines()[1:] == [f"{v:.9g}" for v in fnn.load(tmp_path / "m.npz").predict(
        pd.DataFrame(X, columns=["u", "v"]))]


def test_a_semicolon_file_is_not_mistaken_for_one_column(tmp_path, capsys):
    path = tmp_path / "european.csv"
    path.write_text("a;b;label\n" + "".join(f"{i},5;{i % 3},25;{'xy'[i % 2]}\n" for i in range(30)))
    table = read_table(str(path))
    assert table.X.shape == (30, 2) and table.X["a"].iloc[1] == 1.5


# ---------------------------------------------------------------------------------- errors

def test_an_unexpected_exception_keeps_its_traceback_and_asks_for_a_report(monkeypatch, capsys):
    import fnn.cli.commands as cli

    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "info", broken)
    status = main(["info", "whatever.npz"])
    err = capsys.readouterr().err
    assert status == cli.EXIT_BUG
    assert "Traceback" in err and "KeyError: 'a bug'" in err and "this is a bug in fnn" in err


def test_a_problem_in_the_data_is_not_reported_as_a_bug(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,x\n")  # one sample of one class
    status, out, err = run(capsys, "train", path, "-q")
    assert status == 2 and "Traceback" not in err and err.startswith("fnn: error:")


# ---------------------------------------------------------------------------------- property

_names = st.text(alphabet="abcdefghij_XYZ", min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_tables_written_by_pandas_read_back(tmp_path, data):
    n_rows = data.draw(st.integers(2, 12))
    n_numbers = data.draw(st.integers(1, 4))
    names = data.draw(st.lists(_names, min_size=n_numbers + 2, max_size=n_numbers + 2, unique=True))
    numbers = data.draw(st.lists(st.lists(st.one_of(st.floats(-1e9, 1e9, allow_nan=False), st.none()),
                                          min_size=n_numbers, max_size=n_numbers), min_size=n_rows, max_size=n_rows))
    words = data.draw(st.lists(st.sampled_from(["red", "green", "blue", "dark red"]), min_size=n_rows,
                               max_size=n_rows))
    labels = data.draw(st.lists(st.sampled_from(["a", "b"]), min_size=n_rows, max_size=n_rows))
    delimiter = data.draw(st.sampled_from([",", ";", "\t"]))
    frame = pd.DataFrame(np.array(numbers, dtype=np.float64), columns=names[:n_numbers])
    frame[names[n_numbers]] = words
    frame[names[n_numbers + 1]] = labels
    path = tmp_path / "table.csv"
    frame.to_csv(path, sep=delimiter, index=False)
    table = read_table(str(path))
    assert table.target_name == names[-1] and list(table.y) == labels
    assert table.feature_names == names[:-1]
    read_numbers = table.X[names[:n_numbers]]
    all_missing = frame[names[:n_numbers]].isna().all()
    assert np.array_equal(read_numbers.to_numpy(dtype=np.float64), frame[names[:n_numbers]].to_numpy(),
                          equal_nan=True), all_missing
    assert list(table.X[names[n_numbers]]) == words and table.text_columns == [names[n_numbers]]
    again = read_features(str(path), names[:-1][::-1], n_numbers + 1)
    assert list(again.X.columns) == names[:-1][::-1]


# ---------------------------------------------------------------------------------- wide files (issue 25)

@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_wide_file_of_numbers_reads_the_same_by_either_parser(tmp_path, monkeypatch, data):
    # NumPy's parser reads wide all-number files; anything else in them sends the file to pandas.
    import fnn.io.data_files

    width = data.draw(st.integers(2, 12))
    rows = data.draw(st.integers(1, 6))
    cells = data.draw(st.lists(st.lists(st.one_of(st.integers(-10 ** 6, 10 ** 6).map(str),
                                                  st.floats(-1e9, 1e9, allow_nan=False).map(repr),
                                                  st.sampled_from(["", "NA", "x", "1e400", " 7", "-0", "3#x"])),
                                        min_size=width, max_size=width), min_size=rows, max_size=rows))
    header = data.draw(st.booleans())
    delimiter = data.draw(st.sampled_from([",", ";", "\t"]))
    text = (delimiter.join(f"c{j}" for j in range(width)) + "\n" if header else "") + \
        "".join(delimiter.join(row) + "\n" for row in cells)
    path = tmp_path / "wide.csv"
    path.write_text(text)
    results = []
    for wide in (2, 10 ** 9):
        monkeypatch.setattr(fnn.io.data_files, "WIDE_COLUMNS", wide)
        try:
            table = read_table(str(path))
        except DataError as error:
            results.append(("error", str(error)))
            continue
        # (Values compared with ==: pandas reads a column of whole numbers as integers, so "-0" is 0
        # there and -0.0 in a column of decimals, NumPy's parser -0.0 always; they are equal.)
        results.append((list(table.X.columns), [[_comparable(v) for v in row] for row in table.X.to_numpy(object)],
                        [_comparable(v) for v in table.y], table.text_columns, table.notes))
    assert results[0] == results[1]


def _comparable(value):
    """A cell for comparing two readings: numbers as floats with −0 as 0, NaN as a marker."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return "NaN" if np.isnan(value) else float(value) + 0.0
    return value


def test_a_wide_file_trains_predicts_and_evaluates(tmp_path, capsys):
    rng = np.random.default_rng(0)
    width, rows = 3000, 30
    values = rng.integers(0, 5, (rows, width))
    values[:, 0] = values[:, 1] > 2  # the target follows a column
    path = tmp_path / "wide.csv"
    pd.DataFrame(values, columns=[f"c{j}" for j in range(width)]).to_csv(path, index=False)
    model = tmp_path / "m.npz"
    assert main(["train", str(path), "--target", "c0", "--max-epochs", "30", "--quiet", "-o", str(model)]) == 0
    capsys.readouterr()
    assert main(["predict", str(model), str(path)]) == 0
    predictions = capsys.readouterr().out.splitlines()
    assert len(predictions) == rows + 1
    assert main(["evaluate", str(model), str(path)]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_with_preprocessing_on_a_wide_frame_keeps_the_columns_by_name(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(40, 2000)), columns=[f"x{j}" for j in range(2000)])
    frame["colour"] = rng.choice(["red", "blue"], 40)
    y = (frame["x3"] > 0).astype(int)
    model = fnn.with_preprocessing(fnn.FNNClassifier((4,), max_epochs=3, random_state=0)).fit(frame, y)
    assert list(model[0].named_transformers_["text"].feature_names_in_) == ["colour"]
    fnn.save(model, tmp_path / "m.npz")
    loaded = fnn.load(tmp_path / "m.npz")
    shuffled = frame[list(frame.columns[::-1])]  # columns found by name, in any order
    np.testing.assert_array_equal(loaded.predict_proba(shuffled), model.predict_proba(frame))
