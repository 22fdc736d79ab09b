"""The command line at its defaults on every built-in data set, and the mistakes a user makes
with flags and output paths: each is named by its flag, before any training.

Private: the optimiser state (``_optimiser_state``) that the command line's settings made.
"""

import pytest

from fnn.cli import main
from fnn.io.data_files import BUILT_IN


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_every_built_in_data_set_trains_at_its_defaults(capsys, tmp_path, name):
    status, out, err = run(capsys, "train", name, "-o", tmp_path / "m.npz", "-q")
    assert status == 0, err
    assert "model saved" in out and (tmp_path / "m.npz").exists()


def test_too_few_samples_for_early_stopping_train_without_it_unless_asked(capsys, tmp_path):
    status, out, _ = run(capsys, "train", "xor", "-o", tmp_path / "m.npz", "-q")
    assert status == 0 and "--validation-fraction 0" in out
    status, _, err = run(capsys, "train", "xor", "-o", tmp_path / "m.npz", "--validation-fraction", "0.1")
    assert status == 2 and "--validation-fraction 0.1 of 4 samples" in err


@pytest.mark.parametrize("hidden", [["16,8"], ["16", "8"], ["16,8", "4"]])
def test_hidden_widths_with_commas_or_spaces(capsys, tmp_path, hidden):
    status, out, err = run(capsys, "train", "iris", "-o", tmp_path / "m.npz", "-q", "--hidden", *hidden)
    assert status == 0, err
    expected = [4, *[int(w) for h in hidden for w in h.split(",")], 3]
    assert f"network {expected}" in out


def test_bad_hidden_widths_are_a_usage_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "iris", "-o", str(tmp_path / "m.npz"), "--hidden", "4,x"])
    assert exit_.value.code == 2
    assert "comma-separated" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["-o", "--curve"])
def test_output_paths_are_checked_before_training(capsys, tmp_path, flag):
    argv = ["train", "digits", "-o", tmp_path / "m.npz", flag, tmp_path / "nodir" / "out"]
    status, out, err = run(capsys, *argv)
    assert status == 2 and err.startswith(f"fnn: error: {flag} ") and "does not exist" in err
    assert "trained" not in out and "samples ×" not in out  # nothing was read or trained


def test_errors_name_the_flag_not_the_python_parameter(capsys, tmp_path):
    status, _, err = run(capsys, "train", "iris", "-o", tmp_path / "m.npz", "--learning-rate", "-1")
    assert status == 2 and "--learning-rate must be > 0" in err and "learning_rate" not in err


def test_fit_warnings_are_printed_with_the_flag_to_change(capsys, tmp_path):
    status, _, err = run(capsys, "train", "breast-cancer", "-o", tmp_path / "m.npz", "-q", "--max-epochs", "2")
    assert status == 0
    assert "fnn: warning: training reached --max-epochs 2 while the validation score was still improving" in err


def test_relus_killed_by_the_learning_rate_are_an_error_naming_the_flag(capsys, tmp_path):
    status, _, err = run(capsys, "train", "iris", "-o", tmp_path / "m.npz", "-q", "--learning-rate", "3",
                         "--solver", "sgd", "--momentum", "0")  # the chapter's SGD: Adam's steps are bounded
    assert status == 2 and err.startswith("fnn: error:") and "--learning-rate" in err
    assert not (tmp_path / "m.npz").exists()


def test_solver_momentum_and_schedule_from_flags_and_from_a_settings_file(capsys, tmp_path):
    import fnn

    status, _, err = run(capsys, "train", "iris", "-o", tmp_path / "a.npz", "-q", "--solver", "sgd", "--momentum",
                         "0.5", "--schedule", "cosine", "--learning-rate", "0.01")
    assert status == 0, err
    estimator = fnn.load(tmp_path / "a.npz").steps[-1][1]
    assert (estimator.solver, estimator.momentum, estimator.schedule) == ("sgd", 0.5, "cosine")
    assert estimator.network_._optimiser_state.name == "nesterov"
    (tmp_path / "s.toml").write_text('solver = "rmsprop"\nschedule = "step"\n')
    status, _, err = run(capsys, "train", "iris", "-o", tmp_path / "b.npz", "-q", "--config", tmp_path / "s.toml")
    assert status == 0, err
    estimator = fnn.load(tmp_path / "b.npz").steps[-1][1]
    assert (estimator.solver, estimator.schedule) == ("rmsprop", "step")
    with pytest.raises(SystemExit) as exit:  # argparse's own usage error
        run(capsys, "train", "iris", "-o", tmp_path / "c.npz", "--solver", "lbfgs")
    assert exit.value.code == 2 and "--solver" in capsys.readouterr().err and not (tmp_path / "c.npz").exists()
    (tmp_path / "bad.toml").write_text('schedule = "sometimes"\n')
    status, _, err = run(capsys, "train", "iris", "-o", tmp_path / "c.npz", "--config", tmp_path / "bad.toml")
    assert status == 2 and "--schedule" in err and "sometimes" in err and not (tmp_path / "c.npz").exists()
