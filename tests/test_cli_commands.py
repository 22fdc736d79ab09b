"""`fnn train | predict | evaluate | info` end to end on a small CSV: outputs, files, exit codes."""

import subprocess
import sys

import numpy as np
import pytest

import fnn
from fnn.cli import main


@pytest.fixture
def csv_file(tmp_path):
    """Three well-separated species with text labels, a header, and a label column in the middle."""
    rng = np.random.default_rng(0)
    centres = {"setosa": (0, 0, 0), "versicolor": (3, 3, 0), "virginica": (0, 3, 3)}
    lines = ["length,width,species,depth"]
    for name, centre in centres.items():
        for row in rng.normal(centre, 0.5, size=(40, 3)):
            lines.append(f"{row[0]:.4f},{row[1]:.4f},{name},{row[2]:.4f}")
    path = tmp_path / "flowers.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_train_predict_evaluate_info(tmp_path, csv_file, capsys):
    model, curve = tmp_path / "flowers.npz", tmp_path / "curve.png"
    config = tmp_path / "settings.toml"
    config.write_text('[train]\nhidden = [16]\nlearning_rate = 0.05\nmax_epochs = 40\npatience = 40\nseed = 3\n'
                      'target = "species"\n')
    status, out, err = run(capsys, "train", csv_file, "--config", config, "--max-epochs", "30", "-o", model,
                           "--curve", curve)
    assert status == 0, err
    assert "120 samples × 3 features, classification, target column 'species'" in out
    assert "trained 30 epochs (max epochs)" in out  # the flag overrode the file's 40
    assert float(out.split("training accuracy: ")[1].split()[0]) > 0.95
    # Captured output is not a terminal: one plain progress line per epoch, on stderr.
    progress = [line for line in err.splitlines() if line.startswith("epoch")]
    assert len(progress) == 30 and "samples/s" in progress[0] and "ETA" in progress[0] and "\r" not in err

    assert curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    image = matplotlib.image.imread(curve)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100

    loaded = fnn.load(model)  # the network behind the command line's preprocessing
    assert isinstance(loaded[-1], fnn.FNNClassifier) and loaded[-1].hidden_layer_sizes == (16,)
    assert loaded[-1].learning_rate == 0.05 and loaded[-1].n_iter_ == 30
    assert list(loaded.feature_names_in_) == ["length", "width", "depth"] and loaded[-1].target_name_ == "species"

    predictions = tmp_path / "predictions.csv"
    status, out, err = run(capsys, "predict", model, csv_file, "--target", "species", "-o", predictions)
    assert status == 0, err
    rows = predictions.read_text().splitlines()
    assert rows[0] == "prediction" and len(rows) == 121 and set(rows[1:]) <= {"setosa", "versicolor", "virginica"}

    status, out, err = run(capsys, "predict", model, csv_file, "--target", "2", "--proba")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "p(setosa),p(versicolor),p(virginica)"
    assert abs(sum(float(v) for v in lines[1].split(",")) - 1) < 1e-5

    status, out, err = run(capsys, "evaluate", model, csv_file, "--target", "species")
    assert status == 0, err
    assert "120 samples" in out and float(out.split("accuracy: ")[1].split()[0]) > 0.95
    assert "mean cross-entropy" in out

    status, out, err = run(capsys, "info", model)
    assert status == 0, err
    assert "FNNClassifier" in out and "widths [3, 16, 3]" in out and "parameters: 115" in out
    assert "classes (3): ['setosa', 'versicolor', 'virginica']" in out and "learning_rate=0.05" in out


def test_regression_and_npz_input(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    y = 50 * X[:, 0] - 20 * X[:, 1] + 7
    data = tmp_path / "data.npz"
    np.savez(data, X=X, y=y)
    status, out, err = run(capsys, "train", data, "-o", tmp_path / "r.npz", "-q", "--seed", "0")
    assert status == 0, err
    assert "regression" in out and err == ""  # --quiet: no progress
    status, out, err = run(capsys, "evaluate", tmp_path / "r.npz", data)
    assert status == 0 and float(out.split("R²: ")[1].split()[0]) > 0.95


def test_built_in_data_set(tmp_path, capsys):
    status, out, err = run(capsys, "train", "wine", "-o", tmp_path / "w.npz", "--max-epochs", "3", "-q",
                           "--test-fraction", "0.25")
    assert status == 0, err
    assert "wine, 133 samples × 13 features, classification" in out and "test accuracy" in out


@pytest.mark.parametrize("setup,argv,message", [
    (None, ["train", "missing.csv"], "no such file, and not a built-in data set"),
    ("bad_cell", ["train", "{csv}"], "line 3, column 'b': 'oops' is not a number"),
    ("ragged", ["train", "{csv}"], "line 3: 4 columns, but the header has 3"),
    ("good", ["train", "{csv}", "--target", "nope"], "no column 'nope' (columns: a, b, label)"),
    ("good", ["train", "{csv}", "--target", "label", "--task", "regression"], "holds text labels"),
    ("continuous", ["train", "{csv}", "--task", "classification"], "Unknown label type"),
    ("good", ["train", "{csv}", "--config", "{dir}/absent.toml"], "no such settings file"),
    ("bad_toml", ["train", "{csv}", "--config", "{dir}/bad.toml"], "unknown setting(s) speed"),
    ("good", ["train", "{csv}", "--learning-rate", "-1"], "--learning-rate must be > 0"),
    ("empty", ["train", "{csv}"], "the file is empty"),
    ("good", ["predict", "{dir}/absent.npz", "{csv}"], "no model file"),
    ("not_a_model", ["info", "{csv}"], "not an fnn model file"),
    ("model", ["predict", "{dir}/m.npz", "{dir}/other_labels.csv", "--drop", "b"],
     "no column 'b', which the model needs (it was trained on 'a', 'b')"),
    ("model", ["evaluate", "{dir}/m.npz", "{dir}/other_labels.csv"], "labels ['z'] that the model was not trained on"),
])
def test_bad_input_gives_one_line_and_exit_code_2(tmp_path, capsys, setup, argv, message):
    csv = tmp_path / "data.csv"
    contents = {
        "good": "a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n1,1,x\n2,2,y\n3,3,x\n4,4,y\n5,5,x\n6,6,y\n",
        "bad_cell": "a,b,label\n1,2,x\n3,oops,y\n",
        "ragged": "a,b,label\n1,2,x\n3,4,y,5\n",
        "continuous": "a,b,t\n" + "".join(f"{i},{i % 3},{i * 0.37:.2f}\n" for i in range(20)),
        "empty": "",
    }
    csv.write_text(contents.get(setup, contents["good"]))
    if setup == "bad_toml":
        (tmp_path / "bad.toml").write_text("speed = 3\n")
    if setup == "not_a_model":
        argv = ["info", str(csv)]
    if setup == "model":
        assert main(["train", str(csv), "-q", "-o", str(tmp_path / "m.npz"), "--max-epochs", "2"]) == 0
        (tmp_path / "other_labels.csv").write_text("a,b,label\n1,2,x\n3,4,z\n")
        capsys.readouterr()
    argv = [a.format(csv=csv, dir=tmp_path) for a in argv]
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fnn: error: "), err
    assert message in lines[0]


@pytest.mark.slow
def test_console_entry_point_reports_errors_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,x\n")
    result = subprocess.run([sys.executable, "-m", "fnn", "train", str(bad)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.startswith("fnn: error:")


def test_progress_redraws_one_line_on_a_terminal_and_prints_lines_otherwise():
    import io

    from fnn.cli.progress import EpochProgress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    history = fnn.History(train_risk=[0.5, 0.25], validation_error=[0.2, 0.1], epoch_time=[0.1, 0.1])
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = EpochProgress(max_epochs=4, n_samples=1000, stream=stream, width=8)
        bar(history)
        bar.close()
    assert terminal.getvalue() == ("\r\033[Kepoch 2/4  [####....]  risk 0.2500  val error 0.1000  "
                                   "10,000 samples/s  ETA 0.2s\n")
    assert pipe.getvalue() == "epoch 2/4  risk 0.2500  val error 0.1000  10,000 samples/s  ETA 0.2s\n"


def test_the_eta_counts_the_epochs_early_stopping_would_still_run():
    import io

    from fnn.cli.progress import EpochProgress

    # Best at epoch 2 (epoch 3 ties its error with a higher loss): with patience 3, training stops
    # after epoch 5 unless the score improves, so 2 more epochs of 0.1 s; at most 97 more (max 100).
    history = fnn.History(train_risk=[0.5, 0.3, 0.2], validation_error=[0.2, 0.1, 0.1],
                          validation_loss=[0.9, 0.5, 0.6], epoch_time=[0.1, 0.1, 0.1])
    pipe = io.StringIO()
    EpochProgress(max_epochs=100, n_samples=1000, stream=pipe, patience=3)(history)
    assert pipe.getvalue().rstrip().endswith("ETA 0.2s–9.7s")
    pipe = io.StringIO()
    EpochProgress(max_epochs=100, n_samples=1000, stream=pipe)(history)  # no early stopping
    assert pipe.getvalue().rstrip().endswith("ETA 9.7s")


def test_distributed_training_without_mpi_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "data.npy", np.column_stack([np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2]))
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as if the mpi extra were not installed
    assert main(["train", str(tmp_path / "data.npy"), "--distributed", "-o", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'fnn[mpi]'" in err and not (tmp_path / "m.npz").exists()


def test_the_target_column_is_named_and_a_file_without_it_says_so(tmp_path, csv_file, capsys):
    # Issue 23: train says which column it took; evaluate on a file lacking the model's target
    # names it (it once took the last column as the target and complained of a missing feature);
    # predict needs no target.
    text = csv_file.read_text().splitlines()
    moved = tmp_path / "last.csv"  # the label as the last column, no --target
    moved.write_text("\n".join(",".join(np.array(line.split(","))[[0, 1, 3, 2]]) for line in text) + "\n")
    model = tmp_path / "model.npz"
    status, out, err = run(capsys, "train", moved, "--max-epochs", "3", "--quiet", "-o", model)
    assert status == 0, err
    assert "target column 'species' (the last column; name another with --target)" in out
    features_only = tmp_path / "features.csv"
    features_only.write_text("\n".join(",".join(line.split(",")[:2] + [line.split(",")[3]]) for line in text) + "\n")
    status, out, err = run(capsys, "evaluate", model, features_only)
    assert status != 0
    assert "no column 'species', the target the model was trained to predict" in err
    status, out, err = run(capsys, "predict", model, features_only)
    assert status == 0, err
    assert len(out.splitlines()) == 121


def test_batch_size_auto_and_a_bad_batch_size_on_the_command_line(tmp_path, csv_file, capsys):
    status, out, err = run(capsys, "train", csv_file, "--target", "species", "--batch-size", "auto",
                           "--max-epochs", "2", "--quiet", "-o", tmp_path / "m.npz")
    assert status == 0, err
    with pytest.raises(SystemExit):
        main(["train", str(csv_file), "--batch-size", "many"])
    assert "a batch size is a positive integer or 'auto'" in capsys.readouterr().err


def test_a_mistyped_command_is_one_line_that_suggests_the_right_one(capsys):
    from fnn.cli import main

    assert main(["playgroud"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'playgroud'; did you mean 'playground'?" in err and len(err.strip().splitlines()) == 1
    assert main(["bogus", "--seed", "1"]) == 2
    assert "did you mean" not in capsys.readouterr().err
