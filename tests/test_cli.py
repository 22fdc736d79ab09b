"""`python -m fnn`: the newcomer's main job."""

import subprocess
import sys

import pytest

from fnn.cli import main


def test_main_job_trains_on_digits_and_reports(capsys):
    assert main(["--max-epochs", "5", "--hidden", "32"]) == 0
    out = capsys.readouterr().out
    assert "digits, 1437 training and 360 test samples" in out
    assert "network [64, 32, 10]" in out
    accuracy = float(out.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.85


def test_bad_setting_gives_one_line_and_exit_code_2(capsys):
    assert main(["--learning-rate", "-1", "--max-epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "fnn: error: --learning-rate must be > 0, got -1.0"


@pytest.mark.slow
def test_python_dash_m_fnn_runs():
    result = subprocess.run([sys.executable, "-m", "fnn", "--max-epochs", "2", "--threads", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
