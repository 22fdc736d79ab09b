"""Command line: ``python -m fnn`` trains a network on the built-in digits data and reports it."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

import numpy as np

from . import __version__
from .datasets import load_digits
from .network import Network, default_threads


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fnn",
        description="Train a feedforward network (Algorithm 4.1) on scikit-learn's 8x8 digits and report "
                    "its test accuracy.")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64], metavar="M",
                        help="widths of the hidden layers (default: 64)")
    parser.add_argument("--activation", default="relu", help="hidden activation (default: relu)")
    parser.add_argument("--learning-rate", type=float, default=0.02, help="α (default: 0.02)")
    parser.add_argument("--l2", type=float, default=1e-5, help="λ of the risk (4.39) (default: 1e-5)")
    parser.add_argument("--batch-size", type=int, default=1, help="1 = per-sample SGD (default: 1)")
    parser.add_argument("--max-epochs", type=int, default=200, help="(default: 200)")
    parser.add_argument("--patience", type=int, default=20, help="early-stopping patience (default: 20)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    parser.add_argument("--threads", type=int, default=None, help="C++ threads (default: all cores)")
    parser.add_argument("--verbose", action="store_true", help="print every epoch")
    parser.add_argument("--version", action="version", version=f"fnn {__version__}")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    from sklearn.model_selection import train_test_split

    X, y = load_digits(args.dtype)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=args.seed)
    try:
        net = Network([X.shape[1], *args.hidden, 10], args.activation, "softmax", dtype=args.dtype,
                      seed=args.seed, n_threads=args.threads)
        print(f"fnn {__version__}: digits, {X_train.shape[0]} training and {X_test.shape[0]} test samples, "
              f"{X.shape[1]} features, 10 classes")
        print(f"network {net.widths} ({args.activation} hidden, softmax output), {net.n_parameters} parameters, "
              f"{args.dtype}, {net.n_threads or default_threads()} thread(s)")
        history = net.fit(X_train, y_train, learning_rate=args.learning_rate, l2=args.l2,
                          batch_size=args.batch_size, max_epochs=args.max_epochs, patience=args.patience,
                          verbose=args.verbose)
    except (ValueError, TypeError, FloatingPointError) as error:
        print(f"fnn: error: {error}", file=sys.stderr)
        return 2
    accuracy = net.score(X_test, y_test)
    stop = "early stopping" if history.stopped_early else "max epochs"
    print(f"trained {history.n_epochs} epochs ({stop}; best validation error "
          f"{min(history.validation_error):.4f} at epoch {history.best_epoch}) in {history.total_time:.2f} s, "
          f"{history.samples_per_second:,.0f} samples/s")
    print(f"test accuracy: {accuracy:.4f} ({int(round(accuracy * len(y_test)))}/{len(y_test)})")
    return 0
