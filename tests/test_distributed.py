"""Data-parallel training over MPI (fnn.scale.distributed), run under ``mpiexec -n 2`` and ``-n 3`` from
the MPI wheel of the ``mpi`` extra; the scenarios are in tests/mpi_scenarios.py."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.mpi, pytest.mark.slow]  # MPI ranks as subprocesses

pytest.importorskip("mpi4py", reason="the mpi extra (mpi4py and an MPI wheel) is not installed")

SCENARIOS = Path(__file__).with_name("mpi_scenarios.py")
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
if MPIEXEC is None:
    pytest.skip("no mpiexec beside the Python or on PATH (pip install 'fnn[mpi]')", allow_module_level=True)


def run(ranks, *args, timeout=120, check=True):
    """Run a scenario on `ranks` ranks; the RESULT of every rank, and the finished process."""
    env = dict(os.environ, OMP_NUM_THREADS="1")  # one thread per rank: the machine has two cores
    started = time.monotonic()
    done = subprocess.run([MPIEXEC, "-n", str(ranks), sys.executable, str(SCENARIOS), *args], capture_output=True,
                          text=True, timeout=timeout, env=env)
    done.seconds = time.monotonic() - started
    if check:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = [json.loads(line[len("RESULT "):]) for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    return results, done


@pytest.mark.parametrize("ranks", [2, 3])
def test_mini_batch_steps_equal_one_process_and_agree_on_every_rank(ranks):
    results, _ = run(ranks, "equal_to_one_process")
    assert len(results) == ranks
    for optimiser, result in results[0].items():
        assert result["difference"] < 1e-5, optimiser  # float64, after two epochs
        assert np.allclose(result["risk"], result["risk_one"], rtol=1e-9), optimiser
        for other in results[1:]:  # bit for bit the same weights on every rank
            assert other[optimiser]["digest"] == result["digest"]
    again, _ = run(ranks, "equal_to_one_process")
    assert again[0] == results[0]  # and from run to run


def test_early_stopping_is_decided_once_for_all_ranks():
    results, done = run(3, "early_stopping_float32")
    assert len(results) == 3 and all(r == results[0] for r in results)
    first = results[0]
    assert first["stopped_early"] and first["best_epoch"] < first["epochs"]
    assert first["accuracy"] > 0.85
    assert done.stdout.count("epoch    1") == 1  # rank 0 alone prints


def test_per_sample_local_sgd_averages_the_weights():
    results, _ = run(2, "local_sgd")
    assert len(results) == 2 and results[0] == results[1]
    assert results[0]["risk"][-1] < results[0]["risk"][0] and results[0]["accuracy"] > 0.85


@pytest.mark.parametrize("args, message", [
    (["bad_rank"], "failed on 1 of 3 ranks: rank 1: ValueError: X contains NaN"),
    (["bad_rank", "features"], "rank 1: ValueError: X has 11 features, but the network expects 12"),
    (["too_many_ranks"], "rank 2: ValueError: X is empty"),
])
def test_bad_input_on_one_rank_is_a_clear_error_on_every_rank(args, message):
    results, _ = run(3, *args)
    assert len(results) == 3 and all(message in r["error"] for r in results)


def test_divergence_is_raised_on_every_rank_with_the_weights_restored():
    results, _ = run(2, "diverges")
    assert len(results) == 2
    assert all("restored on every rank" in r["error"] and r["finite"] and not r["changed"] for r in results)


def test_an_error_on_one_rank_ends_every_rank():
    _, done = run(3, "one_rank_raises", timeout=60, check=False)
    assert done.returncode != 0
    assert "rank 0 of 3 failed, ending all ranks: RuntimeError: the callback failed on purpose" in done.stderr


def test_a_killed_rank_ends_the_others():
    _, done = run(3, "killed", timeout=60, check=False)
    assert done.returncode != 0 and done.seconds < 60  # the others would train for 100000 epochs otherwise


def test_the_readme_example_trains_digits_on_two_ranks(tmp_path):
    example = Path(__file__).resolve().parent.parent / "examples" / "mpi_train.py"
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(example), str(tmp_path / "model.npz")],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-3000:]
    line = done.stdout.strip().splitlines()
    assert len(line) == 1 and line[0].startswith("2 ranks: ")  # rank 0 alone reports
    assert float(line[0].rsplit(" ", 1)[1]) > 0.95
    import fnn

    assert fnn.load(tmp_path / "model.npz").widths == [64, 128, 10]


def test_estimators_fitted_on_shards_pool_their_statistics():
    results, _ = run(3, "estimators")
    assert len(results) == 3 and all(r == results[0] for r in results)
    first = results[0]
    assert len(first["classes"]) == 10  # "nine" from ranks 0 and 2 only
    assert first["accuracy"] > 0.9 and first["r2"] > 0.4
    assert first["scaler_mean_error"] < 1e-12
    assert first["target_mean_error"] < 1e-9 and first["target_scale_error"] < 1e-9


def test_fnn_train_distributed_reads_each_rank_s_rows_and_saves_once(tmp_path):
    import pandas as pd
    from sklearn.datasets import load_digits

    import fnn

    X, y = load_digits(return_X_y=True)
    np.save(tmp_path / "digits.npy", np.column_stack([X, y]))
    pd.DataFrame(X).add_prefix("p").assign(digit=y).to_csv(tmp_path / "digits.csv", index=False)
    lines = (tmp_path / "digits.csv").read_text().splitlines()
    lines[1500] = lines[1500].replace(",", ",x", 1)  # text in rank 1's rows only
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    fnn_command = [sys.executable, "-m", "fnn", "train"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for data, ranks, extra in [("digits.npy", 2, []), ("digits.csv", 3, ["--target", "digit"])]:
        done = subprocess.run([MPIEXEC, "-n", str(ranks), *fnn_command, str(tmp_path / data), "--distributed", "-q",
                               "--batch-size", "32", "-o", str(tmp_path / f"{data}.npz"), *extra],
                              capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.count("model saved to") == 1  # rank 0 alone prints and saves
        assert f"1797 samples × 64 features on {ranks} ranks, classification" in done.stdout
        accuracy = float(done.stdout.split("training accuracy: ")[1].split()[0])
        model = fnn.load(tmp_path / f"{data}.npz")
        assert accuracy > 0.95 and model.score(X, y) == pytest.approx(accuracy, abs=5e-5)  # (printed to 4 places)
    done = subprocess.run([MPIEXEC, "-n", "2", *fnn_command, str(tmp_path / "bad.csv"), "--distributed", "-q",
                           "-o", str(tmp_path / "bad.npz")], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2 and not (tmp_path / "bad.npz").exists()
    assert done.stderr.count("fnn: error:") == 1
    assert "rank 1: " in done.stderr and "columns ['p1'] hold text" in done.stderr


def test_ctrl_c_ends_every_rank():
    import signal

    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen([MPIEXEC, "-n", "3", sys.executable, str(SCENARIOS), "trains_long"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # Every rank is training once each has said so (mpiexec may join two ranks' lines into one).
        started, seen = 0, []
        while started < 3:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            started += line.count("started")
        assert started == 3, (seen, process.stderr.read() if process.poll() is not None else "(running)")
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends mpiexec
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode != 0 and "KeyboardInterrupt" in err
