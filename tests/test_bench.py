"""The benchmark code, on tiny sizes so it cannot rot. Asserts correctness, never timing.

Private: ``fnn._bfloat16.instructions()`` (whether to run the bfloat16 bench) and the tabular
bench's ``_rows_of_table``.
"""

import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fnn
from bench import baseline_numpy, measure
from bench.run import markdown, run
from bench.workloads import WORKLOADS, scaled

pytestmark = pytest.mark.slow  # each runs a benchmark's command end to end

pytest.importorskip("matplotlib")


def tiny():
    return [scaled(w, 0.001) for w in WORKLOADS]


def test_each_workload_matches_the_numpy_baseline_after_an_epoch():
    for w in tiny():
        assert measure.check_same_epoch(w, n=3 * w.batch, threads=1) < 1e-4


def test_the_check_catches_a_baseline_that_differs(monkeypatch):
    w = tiny()[0]
    real = baseline_numpy.train_epoch

    def wrong_rate(weights, biases, X, y, order, learning_rate, l2, batch):
        real(weights, biases, X, y, order, learning_rate * 1.5, l2, batch)

    monkeypatch.setattr(baseline_numpy, "train_epoch", wrong_rate)
    with pytest.raises(AssertionError, match="differ"):
        measure.check_same_epoch(w, n=50, threads=1)


def test_float64_epoch_matches_too():
    w = tiny()[2]
    assert measure.check_same_epoch(w, n=2 * w.batch, threads=2, dtype="float64") < 1e-10


def test_one_command_writes_the_table_and_the_chart(tmp_path):
    report = run(tiny()[:2], threads=1, repeats=1, check_samples=8, baselines=True, extras=False, out=tmp_path,
                 log=lambda *_: None, scale=0.001, rounds=1)
    table = (tmp_path / "latest.md").read_text()
    assert "| P1 " in table and "| P2 " in table and "NumPy" in table
    png = (tmp_path / "latest.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    for row in report["rows"]:
        assert row["fnn"] > 0 and row["numpy"] > 0
    assert markdown(report) == table


def test_the_optimiser_benchmark_checks_fnn_against_torch_optim_and_writes_its_table(tmp_path):
    pytest.importorskip("torch")
    from bench import optimisers

    w = tiny()[1]
    for name in ("momentum", "adam", "rmsprop"):
        assert optimisers.check_same_epoch(w, name, threads=1, n=32) < 1e-6
    text = optimisers.run([w], ["adam"], threads=1, repeats=1, rounds=1, scale=0.001, out=tmp_path, log=lambda *_: None)
    assert "| adam |" in text and (tmp_path / "optimisers.md").read_text() == text


def test_a_benchmark_command_runs_without_the_openblas_overrides():
    """`python -m bench.…` restarts itself without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, so
    OpenBLAS picks the kernels users get (this test's own environment keeps what it was given)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, OPENBLAS_CORETYPE="Haswell", OPENBLAS_L2_SIZE="512")
    forced = subprocess.run([sys.executable, "-c", "import numpy, bench.environment as e; print(e.describe())"],
                            capture_output=True, text=True, env=env, cwd=root, check=True).stdout
    assert "OPENBLAS_CORETYPE=Haswell" in forced and "NumPy Haswell" in forced
    bench = subprocess.run([sys.executable, "-m", "bench.environment"], capture_output=True, text=True, env=env,
                           cwd=root, check=True).stdout
    assert "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset" in bench and "Haswell" not in bench


def test_the_inference_benchmark_checks_its_contenders_and_reports_each_network():
    from bench import inference

    lines = []
    rows = inference.run(rows=2000, rounds=1, repeats=1, log=lines.append)
    assert [row["widths"] for row in rows] == [list(w) for w in inference.WIDTHS]
    assert all(row["fnn"] > 0 and row["scikit-learn"] > 0 and 0 < row["fnn_gflops"] for row in rows)
    assert "one-thread sgemm roof" in lines[0] and len(lines) == 3


@pytest.mark.skipif(not fnn._bfloat16.instructions(), reason="no bfloat16 instructions on this CPU")
def test_the_bfloat16_benchmark_checks_its_contenders_and_reports_each_workload(monkeypatch):
    from bench import bfloat16
    from bench.workloads import Workload

    monkeypatch.setattr(bfloat16, "WORKLOADS", [Workload("B1", [64, 48, 10], 32, 1024, 1024)])
    lines = []
    report = bfloat16.run(threads=1, rounds=1, repeats=1, log=lines.append)
    row = report["rows"][0]
    assert row["fnn_bfloat16"] > 0 and row["fnn_float32"] > 0
    assert 0 < row["check"]["fnn_bfloat16"] < 0.25
    assert report["inference"]["bfloat16"] > 0 and len(lines) == 3
    assert re.search(r"oneDNN 3\.\d+\.\d+, \S+:\S+ for a dense", lines[0]), lines[0]  # e.g. brg:avx512_core_bf16
    # A contender that computes something else fails the check.
    real = bfloat16.fnn_epoch
    monkeypatch.setattr(bfloat16, "fnn_epoch", lambda net, X, y, batch, threads:
                        real(net, X, y, batch if net.bfloat16 else 2 * batch, threads))
    with pytest.raises(SystemExit, match="check failed"):
        bfloat16.check(bfloat16.WORKLOADS[0], 1, with_torch=False)


def test_the_activation_benchmark_checks_one_and_two_threads_and_reports_every_activation(monkeypatch):
    from bench import activations

    monkeypatch.setattr(activations, "SHAPES", {1: ([20, 16, 4], 256), 32: ([20, 64, 32, 4], 512)})
    lines = []
    rows = activations.run(rounds=1, repeats=1, log=lines.append)
    assert len(rows) == 4 and all(row[name] > 0 for row in rows for name in activations.ACTIVATIONS)
    assert all("goal" in line for line in lines)


def write_idx(path, array, code=0x08):
    """An IDX file as LeCun's format lays it out (what the Fashion-MNIST files are)."""
    import gzip
    import struct

    import numpy as np

    dtype = {0x08: np.uint8, 0x0C: ">i4", 0x0D: ">f4"}[code]
    raw = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    raw += np.asarray(array, dtype=dtype).tobytes()
    with (gzip.open if str(path).endswith(".gz") else open)(path, "wb") as f:
        f.write(raw)


def write_fashion_like(folder, train: int, test: int, gzipped_images: bool = False) -> None:
    """Fashion-MNIST's four IDX files with learnable images: each class lights its own rows."""
    import numpy as np

    rng = np.random.default_rng(0)
    for kind, n in (("train", train), ("t10k", test)):
        labels = rng.integers(0, 10, size=n)
        images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        for image, label in zip(images, labels):
            image[2 * label:2 * label + 3] += 150
        write_idx(folder / f"{kind}-images-idx3-ubyte{'.gz' if gzipped_images else ''}", images)
        write_idx(folder / f"{kind}-labels-idx1-ubyte", labels)


@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), code=st.sampled_from([0x08, 0x0C, 0x0D]),
       gzipped=st.booleans(), seed=st.integers(0, 2**16))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_idx_files_read_back_whatever_their_shape_and_type(tmp_path, shape, code, gzipped, seed):
    import numpy as np

    from bench.bfloat16_accuracy import read_idx

    array = np.random.default_rng(seed).integers(0, 256, size=shape)
    path = tmp_path / ("a.idx.gz" if gzipped else "a.idx")
    write_idx(path, array, code)
    np.testing.assert_array_equal(read_idx(path), array)


def test_idx_files_that_are_not_idx_are_refused(tmp_path):
    import numpy as np

    from bench.bfloat16_accuracy import read_idx

    (tmp_path / "text").write_bytes(b"label,pixel\n1,2\n")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "text")
    write_idx(tmp_path / "short", np.zeros((3, 4), np.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"11 values for the shape \(3, 4\)"):
        read_idx(tmp_path / "short")


@pytest.mark.skipif(not fnn.bfloat16_available(), reason="bfloat16 needs AVX512-BF16 and oneDNN")
def test_the_bfloat16_accuracy_benchmark_trains_both_and_reports_the_difference(tmp_path):
    from bench import bfloat16_accuracy

    write_fashion_like(tmp_path, train=256, test=64, gzipped_images=True)  # (the labels not gzipped)
    lines = []
    result = bfloat16_accuracy.run(tmp_path, seeds=[0], epochs=5, batch=32, threads=1, log=lines.append)
    row = result["rows"][0]
    assert row["float32"] > 0.5 and row["bfloat16"] > 0.5  # learnable: far above chance (0.1)
    assert result["mean_difference"] == row["bfloat16"] - row["float32"]
    assert lines[0].startswith(f"Fashion-MNIST from {tmp_path}: 256 training and 64 test images")
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(SystemExit, match="no t10k-labels-idx1-ubyte"):
        bfloat16_accuracy.run(tmp_path, seeds=[0], epochs=1, batch=32, threads=1)


def test_the_tabular_benchmark_scores_all_three_models_and_writes_its_table_and_plot(tmp_path, capsys):
    from bench import tabular

    assert tabular.main(["--only", "iris", "diabetes", "--splits", "2", "--out", str(tmp_path)]) == 0
    table = (tmp_path / "tabular.md").read_text()
    assert "| iris | accuracy | 150 |" in table and "| diabetes | R² | 442 |" in table
    rows = tabular._rows_of_table(table)
    assert [r["name"] for r in rows] == ["diabetes", "iris"]  # in the corpus's order
    assert all(0.8 < r["scores"][m][0] <= 1 for r in rows[1:] for m in ("fnn", "mlp", "hgb"))
    assert (tmp_path / "tabular.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "tabular.png").unlink()
    assert tabular.main(["--replot", "--out", str(tmp_path)]) == 0 and (tmp_path / "tabular.png").exists()
    corpus = tabular.CORPUS
    assert len(corpus) >= 20 and sum(not d.classification for d in corpus) >= 8
    assert 3 * sum(d.held_out for d in corpus) >= len(corpus) - 2  # about a third held out


def test_the_after_numpy_and_short_fit_benchmarks_run(monkeypatch, capsys):
    from bench import after_numpy, short_fits

    monkeypatch.setattr(after_numpy, "SHAPES", [("tiny", [64, 16, 10], 8, "adam", 64)])
    after_numpy.main(["--rounds", "1", "--pause", "0"])
    assert re.search(r"\| tiny \| [\d.]+ \| [\d,]+ \| [\d,]+ \| [\d.]+ \| (met|missed) \|", capsys.readouterr().out)
    monkeypatch.setattr(short_fits, "FITS", [("D", 200)])
    assert short_fits.main(["--rounds", "1", "--loads", "0"]) == 0  # an idle machine is not judged
    assert "| D 64-64-10 b1 |" in capsys.readouterr().out


def test_the_fashion_fixed_work_benchmark_checks_its_contenders_learn_alike(tmp_path, monkeypatch):
    import numpy as np

    from bench import fashion_fixed

    write_fashion_like(tmp_path, train=400, test=100)
    monkeypatch.setattr(fashion_fixed, "contenders",
                        lambda: {"fnn": fashion_fixed.fit_fnn, "scikit-learn": fashion_fixed.fit_sklearn})
    lines = []
    result = fashion_fixed.run(tmp_path, rounds=1, epochs=20, log=lines.append)
    assert all(a[0] > 0.9 for a in result["accuracy"].values())  # both learn the lit rows
    assert lines[3].startswith("| fnn |") and lines[4].startswith("| scikit-learn |")
    monkeypatch.setattr(fashion_fixed, "fit_sklearn", lambda X, y, epochs, seed: (lambda X_test: np.zeros(len(X_test))))
    with pytest.raises(AssertionError, match="do not learn the same thing"):
        fashion_fixed.run(tmp_path, rounds=1, epochs=20, log=lines.append)


def test_the_short_predictions_benchmark_runs(monkeypatch, capsys):
    from bench import short_predictions

    monkeypatch.setattr(short_predictions, "WIDTHS", [64, 32, 10])
    monkeypatch.setattr(short_predictions, "STATES", ("quiet", "after NumPy"))
    short_predictions.main(["--rows", "64", "--rounds", "1", "--calls", "3"])
    out = capsys.readouterr().out
    assert re.search(r"\| quiet \| 64 \| \d+ \| \d+ \| [\d.]+ \|", out) and "| after NumPy | 64 |" in out
    short_predictions.main(["--widths", "8,4,2", "--rows", "40", "--rounds", "1", "--calls", "2", "--pause", "0.001",
                            "--states", "quiet"])
    out = capsys.readouterr().out
    assert "8-4-2 float32" in out and "0.001 s apart" in out and "| quiet | 40 |" in out and "after" not in out


def test_the_onnx_benchmark_checks_agreement_and_takes_turns_in_two_workers(monkeypatch, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from bench import onnx_inference

    monkeypatch.setattr(onnx_inference, "ROWS", (3,))
    monkeypatch.setattr(onnx_inference, "THREADS", (1,))
    onnx_inference.main(["--rounds", "2", "--seconds", "0.01"])
    out = capsys.readouterr().out
    for name in ("digits FNNClassifier() 64-100-10", "Network 784-256-256-10"):
        assert re.search(rf"\| {re.escape(name)} \| 1 \| 3 \| [\d,]+ \| [\d,]+ \| [\d.]+× \|", out), out
    real = onnx_inference.models

    def off_by_a_little():
        return {name: (model, lambda X, p=predict: p(X) + 1e-3, pool)
                for name, (model, predict, pool) in real().items()}

    monkeypatch.setattr(onnx_inference, "models", off_by_a_little)
    with pytest.raises(SystemExit, match="disagree"):
        onnx_inference.main(["--rounds", "1"])
