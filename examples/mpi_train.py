"""Data-parallel training of digits over MPI: ``mpiexec -n 2 python examples/mpi_train.py``.

Every rank reads its shard of the rows, the ranks train one network together (each global batch
of 64 split over them, one Allreduce per step), and rank 0 reports and saves the model.
"""

import sys

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fnn
import fnn.scale.distributed as distributed

comm = distributed.world()
X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
start, stop = distributed.shard(len(X_train), comm)  # this rank's rows

net = fnn.Network([64, 128, 10], seed=0)
history = distributed.fit(net, X_train[start:stop], y_train[start:stop], comm=comm, batch_size=64,
                          optimiser="adam", learning_rate=3e-3, max_epochs=60, patience=10)
if comm.Get_rank() == 0:  # the weights are the same on every rank; one reports and saves them
    print(f"{comm.Get_size()} ranks: {history.n_epochs} epochs, best epoch {history.best_epoch}, "
          f"test accuracy {net.score(X_test, y_test):.3f}")
    fnn.save(net, sys.argv[1] if len(sys.argv) > 1 else "digits_mpi.npz")
