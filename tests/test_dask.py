"""Many fits across a Dask cluster: scikit-learn's searches over fnn estimators through joblib's
"dask" backend, on a LocalCluster of two worker processes.

Private: the thread count a network picks inside a worker (``_threads()``).
"""

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score

import fnn
from fnn.core.cpus import _affinity

pytestmark = [pytest.mark.dask, pytest.mark.slow]  # a local Dask cluster

distributed = pytest.importorskip("dask.distributed", reason="the dask extra (dask, distributed) is not installed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with cluster, distributed.Client(cluster) as client:
        yield client


def grid():
    return GridSearchCV(fnn.FNNClassifier(max_epochs=30, random_state=0, n_threads=1),
                        {"hidden_layer_sizes": [(8,), (16,)], "learning_rate": [1e-3, 1e-2]}, cv=3)


def test_a_grid_search_on_the_cluster_scores_what_it_scores_here(client):
    X, y = load_iris(return_X_y=True)
    here = grid().fit(X, y)
    with joblib.parallel_backend("dask"):
        there = grid().fit(X, y)
        scores = cross_val_score(fnn.FNNRegressor(max_epochs=20, random_state=0, n_threads=1), X, X[:, 0], cv=3)
    np.testing.assert_array_equal(here.cv_results_["mean_test_score"], there.cv_results_["mean_test_score"])
    assert here.best_params_ == there.best_params_
    np.testing.assert_allclose(
        scores, cross_val_score(fnn.FNNRegressor(max_epochs=20, random_state=0, n_threads=1), X, X[:, 0], cv=3))
    # Both workers took part.
    assert len({worker for worker in client.run(lambda: 1)}) == 2


def test_fits_in_a_worker_take_the_workers_share_of_the_cpus(client):
    # A fit in a task of a worker process: Dask gave the worker OMP_NUM_THREADS=1, one thread a task.
    threads = client.gather([client.submit(lambda i: fnn.Network([4, 3, 2])._threads(), i, pure=False)
                             for i in range(4)])
    assert threads == [1, 1, 1, 1]


def test_a_worker_thread_shares_the_cpus_of_its_process():
    # Tasks in threads of this process (no OMP_NUM_THREADS from a nanny): each of a worker's two
    # threads gets half the CPUs.
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0")
    with cluster, distributed.Client(cluster) as client:
        inside = client.submit(fnn.core.cpus.available_cpus, pure=False).result()
    assert inside == max(1, _affinity() // 2)
    assert fnn.core.cpus.available_cpus() == _affinity() or fnn.core.cpus.cgroup_cpu_quota() is not None


def test_the_readme_example_searches_on_a_local_cluster():
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "dask_search.py"
    done = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("12 fits on 2 workers: best {")
    assert float(done.stdout.split()[-1]) > 0.9
