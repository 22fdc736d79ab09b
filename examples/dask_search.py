"""A grid search over fnn estimators on a Dask cluster: ``python examples/dask_search.py [ADDRESS]``.

With a scheduler's address (``dask scheduler`` on one machine, ``dask worker ADDRESS`` on each of
the others) the fits run on its workers; without one, on a LocalCluster of two worker processes
on this machine.
"""

import sys

import joblib
from dask.distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

import fnn

if __name__ == "__main__":
    cluster = None if len(sys.argv) > 1 else LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0")
    with Client(sys.argv[1] if cluster is None else cluster) as client:
        X, y = load_digits(return_X_y=True)
        search = GridSearchCV(fnn.FNNClassifier(max_epochs=30, random_state=0),
                              {"hidden_layer_sizes": [(32,), (64,)], "learning_rate": [1e-3, 3e-3]}, cv=3)
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
        workers = len(client.scheduler_info()["workers"])
        print(f"{len(search.cv_results_['params']) * 3} fits on {workers} workers: best {search.best_params_}, "
              f"cross-validated accuracy {search.best_score_:.3f}")
    if cluster is not None:
        cluster.close()
