"""Threads as the system gives them: fewer than asked, lost to another process, or none after a
fork; one network used from several Python threads. Every scenario that could hang runs in a
subprocess with a timeout, so a regression fails instead of stopping the suite.

Private pieces under test: how many threads run (``_threads()``, the engine's ``_last_team``
and its hand-over hook ``_switch_to_one_thread_at``), which nothing public shows.
"""

import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest

import fnn
from fnn import _blas
from fnn.core.cpus import ThreadCountWarning, cgroup_cpu_quota

# CI runs these again with OPENBLAS_CORETYPE=Haswell (AVX2-only CPUs' kernels).
pytestmark = pytest.mark.determinism

# Large enough that the per-sample kernel splits it between two threads (≥ 48k parameters) and a
# mini-batch step of 64 rows between two slices.
WIDE = [100, 512, 10]


def data(n=600, features=100, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype(np.float32), rng.integers(0, classes, size=n)


def trained(widths, threads, batch, epochs=2, switch_at=None, n=600, **fit):
    X, y = data(n, widths[0], widths[-1])
    net = fnn.Network(widths, "relu", seed=0, n_threads=threads)
    if switch_at is not None:
        net._core()._switch_to_one_thread_at = switch_at
    net.fit(X, y, batch_size=batch, max_epochs=epochs, validation_fraction=0, **fit)
    return {k: v.copy() for k, v in net.parameters().items()}


def assert_same(a, b):
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def assert_same_where_blas_allows(a, b):
    """Bitwise the same, but on OpenBLAS's AVX2 kernels, whose float32 products round an element
    by its place in the product: there the mini-batch weights of 1 and 2 threads agree to float32
    rounding (docs/reliability.md, "Determinism")."""
    if not _blas.products_round_by_position():
        return assert_same(a, b)
    for name in a:
        scale = float(np.abs(b[name]).max())
        assert float(np.abs(a[name] - b[name]).max()) <= 1e-5 * scale, name


#: Code for the scenarios below: waits (up to 3 s) until no thread of another process is runnable,
#: as /proc/loadavg counts them (this one's own thread aside), and prints "busy" if none came.
#: The scenarios that expect the whole team need the machine to themselves: beside anything else
#: running (another build, a second test job) fnn rightly cuts its team, and they skip.
WAIT_FOR_AN_IDLE_MACHINE = """
def machine_idle():
    import time
    for _ in range(60):
        if int(open("/proc/loadavg").read().split()[3].split("/")[0]) <= 1:
            return True
        time.sleep(0.05)
    print("busy")
    return False
"""


def skip_if_busy(output: str) -> str:
    if "busy" in output.split():
        pytest.skip("another process kept the machine busy: fnn's team is rightly cut beside it")
    return output


def run_python(code, timeout=120, env=None):
    """Runs `code` in a fresh interpreter; a hang fails the test after `timeout` seconds."""
    full_env = dict(os.environ, **(env or {}))
    try:
        result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                                timeout=timeout, env=full_env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for {timeout} s:\n{code}")
    assert result.returncode == 0, result.stderr
    return result.stdout


# ---------------------------------------------------------------------- a team that loses its cores


@pytest.mark.parametrize("batch, switch_at", [(1, 0), (1, 137), (1, 599), (64, 0), (64, 3)])
def test_handing_the_work_to_one_thread_mid_epoch_changes_no_weight(batch, switch_at):
    # What the kernels do when they find another process on their cores: thread 0 carries on alone.
    assert_same(trained(WIDE, 2, batch, switch_at=switch_at), trained(WIDE, 2, batch))


@pytest.mark.parametrize("batch", [1, 32])
@pytest.mark.parametrize("hidden", ["relu", fnn.PReLU(), fnn.PReLU(shared=True), fnn.Maxout(2)])
def test_every_activation_on_one_thread_or_two_gives_the_same_weights(hidden, batch):
    # PReLU and maxout run in the per-sample and sliced kernels like the element-wise activations
    # (PReLU's slopes updated per unit by the thread or slice owning it, or the shared one from the
    # sum over units in unit order; a maxout neuron's K net inputs owned with it).
    X, y = data(640, 784, 10)
    weights = []
    for threads in (1, 2):
        net = fnn.Network([784, 256, 256, 10], hidden, seed=0, n_threads=threads)
        net.fit(X, y, batch_size=batch, max_epochs=2, validation_fraction=0)
        weights.append({k: v.copy() for k, v in net.parameters().items()})
    if batch == 1:  # the per-sample kernel's own products: the same on every CPU
        assert_same(*weights)
    else:
        assert_same_where_blas_allows(*weights)


@pytest.mark.parametrize("batch", [1, 32])
def test_the_same_thread_count_gives_the_same_weights_on_every_cpu(batch):
    # Whatever the BLAS kernels, the work is cut the same way for the same n_threads (and the team
    # that runs it does not matter), so a seed and n_threads fix the weights bit for bit.
    X, y = data(640, 784, 10)
    weights = []
    for _ in range(2):
        net = fnn.Network([784, 256, 256, 10], seed=0, n_threads=2)
        net.fit(X, y, batch_size=batch, max_epochs=2, validation_fraction=0)
        weights.append({k: v.copy() for k, v in net.parameters().items()})
    assert_same(*weights)


def test_the_staging_thread_can_be_dropped_mid_epoch():
    # A small network on many rows: one training thread, and a second that stages the samples.
    widths, n = [64, 32, 10], 9000
    assert_same(trained(widths, 2, 1, n=n, switch_at=1234), trained(widths, 1, 1, n=n))


@pytest.mark.slow
def test_training_beside_busy_processes_finishes_with_the_same_weights():
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        time.sleep(0.3)
        code = f"""
            import faulthandler, numpy as np, fnn
            faulthandler.dump_traceback_later(100, exit=True)
            rng = np.random.default_rng(0)
            X = rng.normal(size=(3000, 100)).astype(np.float32); y = rng.integers(0, 10, 3000)
            for batch in (1, 64):
                nets = [fnn.Network({WIDE}, seed=0, n_threads=t) for t in (1, 2)]
                for net in nets:
                    net.fit(X, y, batch_size=batch, max_epochs=3, validation_fraction=0)
                if batch == 1:  # per sample, one thread and two give the same weights
                    assert all((nets[0].parameters()[k] == nets[1].parameters()[k]).all() for k in nets[0].parameters())
            print("ok")
        """
        assert run_python(code, timeout=150).strip() == "ok"
    finally:
        for process in busy:
            process.kill()
            process.wait()


def _numpy_blas_threads():
    from threadpoolctl import threadpool_info

    return max([i["num_threads"] for i in threadpool_info()
                if i["internal_api"] == "openblas" and "scipy_openblas32" not in i["filepath"]] or [1])


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 CPUs")
def test_numpy_blas_work_just_before_a_fit_does_not_take_its_team():
    # After a product NumPy's OpenBLAS threads spin for ~0.1 s; they once made the team monitor
    # give up the second thread for 2 s, halving every fit that followed NumPy work (issue 24).
    if _numpy_blas_threads() < 2:
        pytest.skip("NumPy's BLAS runs on one thread here")
    code = """
        import numpy as np, fnn
        rng = np.random.default_rng(0)
        X = rng.random((6000, 784), dtype=np.float32); y = rng.integers(0, 10, 6000)
        net = fnn.Network([784, 256, 256, 10], seed=0, n_threads=2)
        teams = []
        for _ in range(3):
            if not machine_idle():
                break
            a = rng.random((800, 800)); a @ a  # wakes NumPy's BLAS threads
            net.fit(X, y, batch_size=32, max_epochs=1, validation_fraction=0)  # ~0.3 s: several windows
            teams.append((net._core()._last_team, net._core().contended))
        print(teams)
    """
    output = skip_if_busy(run_python(WAIT_FOR_AN_IDLE_MACHINE + textwrap.dedent(code)))
    assert output.strip() == "[(2, False), (2, False), (2, False)]"


@pytest.mark.slow
@pytest.mark.skipif(not 2 <= (os.cpu_count() or 1) <= 16, reason="needs 2 to 16 CPUs")
def test_a_team_starts_on_the_processors_other_processes_leave_free():
    # A short fit beside busy processes ends before the monitor could judge it: the team is cut
    # before it starts, and is whole again once they stop (issue 24).
    code = """
        import subprocess, sys, time, numpy as np, fnn
        rng = np.random.default_rng(0)
        X = rng.normal(size=(400, 100)).astype(np.float32); y = rng.integers(0, 10, 400)
        net = fnn.Network(%s, seed=0, n_threads=2)
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(%d)]
        try:  # (the busy processes must not outlive a failing fit)
            time.sleep(0.5)
            net.fit(X, y, batch_size=1, max_epochs=1, validation_fraction=0)
            beside = net._core()._last_team
        finally:
            for process in busy:
                process.kill(); process.wait()
        time.sleep(0.2)
        if machine_idle():
            net.fit(X, y, batch_size=1, max_epochs=1, validation_fraction=0)
            print(beside, net._core()._last_team)
    """ % (WIDE, os.cpu_count())
    assert skip_if_busy(run_python(WAIT_FOR_AN_IDLE_MACHINE + textwrap.dedent(code))).split() == ["1", "2"]


# ---------------------------------------------------------------------- fewer threads than asked


@pytest.mark.slow
@pytest.mark.parametrize("variable", ["OMP_THREAD_LIMIT=1", "OMP_DYNAMIC=true", "OMP_NUM_THREADS=1"])
@pytest.mark.parametrize("batch", [1, 64])
def test_openmp_giving_fewer_threads_gives_the_weights_of_the_threads_asked_for(tmp_path, variable, batch):
    name, value = variable.split("=")
    out = tmp_path / "weights.npz"
    code = f"""
        import numpy as np, fnn
        rng = np.random.default_rng(0)
        X = rng.normal(size=(600, 100)).astype(np.float32); y = rng.integers(0, 10, 600)
        net = fnn.Network({WIDE}, "relu", seed=0, n_threads=2)
        net.fit(X, y, batch_size={batch}, max_epochs=2, validation_fraction=0)
        np.savez({str(out)!r}, **net.parameters())
    """
    run_python(code, env={name: value})
    with np.load(out) as saved:
        assert_same(dict(saved), trained(WIDE, 2, batch))


def test_thread_limit_caps_the_default_thread_count():
    out = run_python("import fnn; print(fnn.Network([3, 4, 2])._threads())", env={"OMP_THREAD_LIMIT": "1"})
    assert out.strip() == "1"


# ---------------------------------------------------------------------- fork


FORK_PARENT = """
    import multiprocessing as mp, numpy as np, fnn
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 100)).astype(np.float32); y = rng.integers(0, 10, 600)
    net = fnn.Network({widths}, seed=0, n_threads=2)
    net.fit(X, y, max_epochs=1, validation_fraction=0)       # the parent runs a team of threads,
    ran_team = net._core()._last_team > 1                   # unless the machine is busy: then one
    net.fit(X, y, max_epochs=1, batch_size=64, validation_fraction=0)
    ran_team = ran_team or net._core()._last_team > 1
"""


@pytest.mark.slow
def test_a_forked_child_trains_and_predicts():
    code = FORK_PARENT.format(widths=WIDE) + """
    import fnn._engine
    def child(batch):
        # After a team ran in the parent, OpenMP's threads cannot be used here: one thread. (A
        # parent that ran none, on a busy machine, leaves its child free to start a team.)
        assert fnn._engine.core.forked_child() == ran_team
        assert fnn.Network([3, 4, 2])._threads() == 1 or not ran_team
        twin = fnn.Network({widths}, seed=0, n_threads=2)
        twin.fit(X, y, max_epochs=1, batch_size=batch, validation_fraction=0)
        return net.predict(X[:50]).tolist(), twin.predict(X[:50]).tolist()
    with mp.get_context("fork").Pool(2) as pool:
        results = pool.map(child, [1, 64])
    assert results[0][0] == net.predict(X[:50]).tolist()
    print("ok")
    """.format(widths=WIDE)
    assert run_python(code).strip().endswith("ok")


@pytest.mark.slow
def test_joblib_multiprocessing_backend_and_cross_val_score():
    code = FORK_PARENT.format(widths=WIDE) + """
    import joblib
    from sklearn.model_selection import cross_val_score
    clf = fnn.FNNClassifier((64,), max_epochs=3, random_state=0).fit(X, y)
    out = joblib.Parallel(n_jobs=2, backend="multiprocessing")(joblib.delayed(clf.score)(X, y) for _ in range(2))
    assert out[0] == out[1] == clf.score(X, y)
    with joblib.parallel_backend("multiprocessing"):
        scores = cross_val_score(fnn.FNNClassifier((64,), max_epochs=3, random_state=0), X, y, cv=2, n_jobs=2)
    assert len(scores) == 2
    print("ok")
    """
    assert run_python(code, timeout=180).strip().endswith("ok")


# ---------------------------------------------------------------------- n_threads beyond the CPUs


def test_too_many_threads_are_lowered_with_a_warning_from_every_source(tmp_path):
    cpus = fnn.network.default_threads()
    assert fnn.ThreadCountWarning is ThreadCountWarning
    with pytest.warns(ThreadCountWarning, match="n_threads=10000"):
        net = fnn.Network([3, 4, 2], n_threads=10000)
    assert net.n_threads == cpus
    net.n_threads = 10000  # as a model file written elsewhere would say
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.save(tmp_path / "m.npz")
    with pytest.warns(ThreadCountWarning):
        assert fnn.load(tmp_path / "m.npz").n_threads == cpus
    X, y = data(60, 3, 2)
    with pytest.warns(ThreadCountWarning):
        fnn.FNNClassifier((4,), n_threads=10000, max_epochs=1).fit(X, y)


@pytest.mark.slow
def test_command_line_threads_beyond_the_cpus_warn(tmp_path):
    settings = tmp_path / "s.toml"
    settings.write_text("threads = 10000\nmax_epochs = 1\n")
    for extra in (["--threads", "10000"], ["--config", str(settings)]):
        result = subprocess.run([sys.executable, "-m", "fnn", "train", "iris", "-o", str(tmp_path / "m.npz"),
                                 "--max-epochs", "1", *extra], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "--threads 10000 is more than" in result.stderr


@pytest.mark.parametrize("version", [1, 2])
def test_container_cpu_quota_is_read_from_cgroups(tmp_path, version):
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    proc.mkdir()
    if version == 2:
        (proc / "cgroup").write_text("0::/box/inner\n")
        (root / "box" / "inner").mkdir(parents=True)
        (root / "box" / "cpu.max").write_text("150000 100000\n")
        (root / "box" / "inner" / "cpu.max").write_text("max 100000\n")
    else:
        (proc / "cgroup").write_text("4:memory:/box\n3:cpu,cpuacct:/box\n")
        (root / "cpu,cpuacct" / "box").mkdir(parents=True)
        (root / "cpu,cpuacct" / "box" / "cpu.cfs_quota_us").write_text("150000\n")
        (root / "cpu,cpuacct" / "box" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(proc, root) == 1.5
    (proc / "cgroup").write_text("0::/\n")
    assert cgroup_cpu_quota(proc, tmp_path / "nothing") is None


# ---------------------------------------------------------------------- one network, several threads


def test_fits_from_two_threads_on_one_network_run_one_after_the_other():
    X, y = data()
    shared = fnn.Network(WIDE, seed=0)
    errors = []

    def fit():
        try:
            shared.fit(X, y, max_epochs=2, validation_fraction=0)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=fit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    alone = fnn.Network(WIDE, seed=0)
    for _ in range(2):
        alone.fit(X, y, max_epochs=2, validation_fraction=0)
    assert_same(shared.parameters(), alone.parameters())


def test_save_during_a_fit_writes_weights_the_network_had(tmp_path):
    X, y = data(3000)
    net = fnn.Network(WIDE, seed=0)
    started = threading.Event()
    fitting = threading.Thread(target=lambda: net.fit(X, y, max_epochs=4, validation_fraction=0, l2=0.01,
                                                      callback=lambda h: started.set()))
    fitting.start()
    started.wait(30)
    net.save(tmp_path / "m.npz")  # waits for the fit: never the kernel's scale·V
    fitting.join()
    assert_same(fnn.load(tmp_path / "m.npz").parameters(), net.parameters())


def test_a_callback_may_save_and_predict_inside_fit(tmp_path):
    X, y = data()
    net = fnn.Network(WIDE, seed=0)
    seen = []

    def checkpoint(history):
        net.save(tmp_path / f"epoch{history.n_epochs}.npz")
        seen.append(net.predict(X[:5]))

    net.fit(X, y, max_epochs=2, validation_fraction=0, callback=checkpoint)
    assert len(seen) == 2
    assert_same(fnn.load(tmp_path / "epoch2.npz").parameters(), net.parameters())


def test_set_parameters_checks_everything_before_changing_anything():
    net = fnn.Network([3, 4, 2], seed=0)
    before = {k: v.copy() for k, v in net.parameters().items()}
    with pytest.raises(ValueError, match="NaN"):
        net.set_parameters({"biases_1": np.zeros(4), "weights_2": np.full((2, 4), np.nan)})
    with pytest.raises(ValueError, match="shape"):
        net.set_parameters({"weights_1": np.zeros((3, 3))})
    with pytest.raises(KeyError):
        net.set_parameters({"weights_9": np.zeros((3, 3))})
    assert_same(net.parameters(), before)
    net.set_parameters({"weights_1": np.ones((4, 3))})
    assert (net.parameters()["weights_1"] == 1).all()


def test_estimator_calls_from_two_threads_are_serialised():
    X, y = data(400)
    clf = fnn.FNNClassifier((32,), max_epochs=3, random_state=0, warm_start=True)
    threads = [threading.Thread(target=clf.fit, args=(X, y)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clf.n_iter_ == len(clf.loss_curve_)


# ---------------------------------------------------------------------- inputs at the edges


def test_sample_weights_neither_overflow_nor_underflow():
    X, y = data(40, 3, 2)
    for weights in ([1e308] * 40, [1e30] * 20 + [1.0] * 20, [5e-324] * 20 + [1e-323] * 20):
        net = fnn.Network([3, 4, 2], seed=0)
        history = net.fit(X, y, max_epochs=2, validation_fraction=0, sample_weight=np.array(weights))
        assert np.isfinite(history.train_risk).all()
    # A range float32 cannot hold (the 1s would be 0 next to 1e308): said, not trained on silently.
    with pytest.raises(ValueError, match=r"sample_weight\[0\] = 1e\+308 makes sample_weight\[20\] = 1 "):
        fnn.Network([3, 4, 2], seed=0).fit(X, y, validation_fraction=0,
                                           sample_weight=np.array([1e308] * 20 + [1.0] * 20))


def test_a_rejected_fit_leaves_the_generator_as_it_was():
    X, y = data(40, 3, 2)
    net = fnn.Network([3, 4, 2], seed=0)
    state = net._rng.bit_generator.state
    weights = np.zeros(40)
    weights[0] = 1  # whichever part does not hold sample 0 has no weight at all
    with pytest.raises(ValueError, match="sample_weight is 0"):
        net.fit(X, y, validation_fraction=0.5, sample_weight=weights)
    assert net._rng.bit_generator.state == state


def test_inputs_beyond_float32_give_a_clear_error():
    net = fnn.Network([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        net.predict(np.full((2, 3), 1e39))
    with pytest.raises(FloatingPointError, match="overflowed float32"):
        net.predict(np.full((2, 3), 3e38, dtype=np.float32))


def test_the_validation_split_copies_no_rows_of_X():
    import tracemalloc

    X, y = data(20000, 100)
    net = fnn.Network([100, 16, 10], seed=0)
    tracemalloc.start()
    net.fit(X, y, max_epochs=1, validation_fraction=0.2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.3 * X.nbytes  # indices and targets only; a copy of the rows would be 1.0


@pytest.mark.parametrize("threads", [1, 2])
def test_ctrl_c_during_one_long_mini_batch_step_leaves_the_weights_before_it(threads):
    import signal

    # One step of 4096 rows through 5.8M parameters takes over a second: the interrupt lands in it.
    rng = np.random.default_rng(0)
    X = rng.random((4096, 784), dtype=np.float32)
    y = rng.integers(0, 10, 4096)
    net = fnn.Network([784, 2048, 2048, 10], seed=0, n_threads=threads)
    before = {k: v.copy() for k, v in net.parameters().items()}
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.fit(X, y, batch_size=4096, max_epochs=1, validation_fraction=0, l2=1e-3)
    finally:
        timer.cancel()
    assert_same(net.parameters(), before)
    net.fit(X[:64], y[:64], batch_size=32, max_epochs=1, validation_fraction=0)  # still usable


def test_the_cpu_limits_are_read_at_most_once_a_second_and_again_after_a_fork(monkeypatch):
    """A one-row prediction asks for the thread count on every call; the cgroup files behind it
    cost about 90 µs to read, so they are read again only after a second (or in a new process)."""
    import fnn.core.cpus as cpus

    reads = []
    monkeypatch.setattr(cpus, "cgroup_cpu_quota", lambda: reads.append(1) or 1.5)
    monkeypatch.setattr(cpus, "_last_limits", (-1, 0.0, 1, None))  # as in a child just forked
    first = cpus.available_cpus()
    assert cpus.available_cpus() == first == min(cpus._affinity(), 2) and len(reads) == 1
    pid, when, affinity, quota = cpus._last_limits
    monkeypatch.setattr(cpus, "_last_limits", (pid, when - 2.0, affinity, quota))  # a second later
    cpus.available_cpus()
    assert len(reads) == 2


def test_a_small_networks_prediction_below_two_million_multiply_adds_stays_on_the_calling_thread():
    # A helper thread must get a million multiply-adds at least, or waking it costs more than it
    # saves: 256 rows of 64-100-10 are 1.9 million.
    X = np.random.default_rng(0).normal(size=(256, 64)).astype(np.float32)
    net = fnn.Network([64, 100, 10], seed=0, n_threads=2)
    parts = fnn._engine.core.helper_parts()
    net.forward(X)
    assert net._core()._last_team == 1
    assert fnn._engine.core.helper_parts() == parts


# ---------------------------------------------------------------------- helpers of short predictions
# Predictions of up to 512 rows are shared by the calling thread with helper threads that claim
# passes of 32 samples as they wake (cpp/helpers.hpp); the caller never waits for one that has not
# started.


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("widths", [[784, 256, 256, 10], [64, 100, 10]])
def test_a_prediction_shared_with_helpers_is_the_same_bit_for_bit_as_on_one_thread(widths, dtype):
    X = np.random.default_rng(0).normal(size=(512, widths[0])).astype(dtype)
    net = fnn.Network(widths, "relu", "softmax", seed=0, dtype=dtype, n_threads=1)
    alone = net.forward(X)
    for threads in (2, 4):
        net.n_threads = threads
        for _ in range(20):
            np.testing.assert_array_equal(net.forward(X), alone)
        for rows in (1, 31, 32, 33, 64, 65, 200, 511):
            np.testing.assert_array_equal(net.forward(X[:rows]), alone[:rows])


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs")
def test_helpers_take_passes_of_a_wide_networks_prediction():
    code = """
        import time, numpy as np, fnn
        from fnn._engine import core
        X = np.random.default_rng(0).normal(size=(512, 784)).astype(np.float32)
        net = fnn.Network([784, 256, 256, 10], seed=0, n_threads=2)
        alone = fnn.Network([784, 256, 256, 10], seed=0, n_threads=1).forward(X)
        end = time.monotonic() + 5
        while machine_idle() and core.helper_parts()[1] == 0 and time.monotonic() < end:
            assert (net.forward(X) == alone).all()
        print(*core.helper_parts())
    """
    here, helpers = map(int, skip_if_busy(run_python(WAIT_FOR_AN_IDLE_MACHINE + textwrap.dedent(code))).split())
    assert here > 0 and helpers > 0


def test_two_python_threads_predicting_with_helpers_get_their_own_outputs():
    rng = np.random.default_rng(0)
    nets = [fnn.Network([300, 256, 10], seed=seed, n_threads=2) for seed in (0, 1)]
    inputs = [rng.normal(size=(256, 300)).astype(np.float32) for _ in nets]
    expected = [net.forward(X) for net, X in zip(nets, inputs)]
    failures = []

    def predict(i):
        for _ in range(100):
            if not np.array_equal(nets[i].forward(inputs[i]), expected[i]):
                failures.append(i)

    threads = [threading.Thread(target=predict, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads) and not failures


@pytest.mark.slow
def test_a_child_forked_after_helpers_ran_predicts_alone():
    code = """
        import multiprocessing as mp, numpy as np, fnn
        from fnn._engine import core
        X = np.random.default_rng(0).normal(size=(512, 784)).astype(np.float32)
        net = fnn.Network([784, 256, 256, 10], seed=0, n_threads=2)
        for _ in range(50):
            expected = net.forward(X)
        def child(_):
            before = core.helper_parts()
            out = net.forward(X)
            return bool((out == expected).all()), core.helper_parts() == before
        with mp.get_context("fork").Pool(2) as pool:
            print(pool.map(child, [0, 1]))
    """
    assert run_python(code, timeout=60).strip() == "[(True, True), (True, True)]"


def test_thread_limit_keeps_predictions_off_the_helpers():
    code = """
        import numpy as np, fnn
        from fnn._engine import core
        X = np.random.default_rng(0).normal(size=(512, 784)).astype(np.float32)
        net = fnn.Network([784, 256, 256, 10], seed=0, n_threads=2)
        for _ in range(20):
            net.forward(X)
        print(*core.helper_parts())
    """
    assert run_python(code, env={"OMP_THREAD_LIMIT": "1"}).split() == ["0", "0"]
