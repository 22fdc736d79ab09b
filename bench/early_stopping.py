"""Early stopping on digits against scikit-learn's MLP running the same algorithm:
`python -m bench.early_stopping [--seeds N]`.

Issue 11, item 5: standardised digits, one hidden layer of 64 ReLU units, per-sample SGD at
α = 0.01 (scikit-learn: solver="sgd", batch_size=1, momentum=0, constant learning rate,
alpha=1e-4 as fnn's λ), a 10% validation split and patience 10, both stopping on the validation
accuracy and keeping the best epoch's weights (scikit-learn keeps them too when early_stopping is
on). Each seed draws a stratified quarter for testing and seeds both. Prints per seed the epochs
run, the best epoch and the test accuracy, then the means."""

import argparse
import statistics
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import fnn


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.early_stopping", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    print("| seed | fnn epochs | fnn best epoch | fnn test accuracy | sklearn epochs | sklearn best epoch | "
          "sklearn test accuracy |")
    print("|---|---|---|---|---|---|---|")
    scores = {"fnn": [], "sklearn": []}
    for seed in range(args.seeds):
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=seed, stratify=y)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        ours = fnn.FNNClassifier((64,), learning_rate=0.01, l2=1e-4, batch_size=1, patience=10, solver="sgd",
                                 momentum=0.0, validation_fraction=0.1, random_state=seed,
                                 input_scaling=False).fit(X_train, y_train)
        theirs = MLPClassifier((64,), solver="sgd", batch_size=1, learning_rate_init=0.01, momentum=0.0,
                               alpha=1e-4, early_stopping=True, validation_fraction=0.1, n_iter_no_change=10,
                               max_iter=200, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            theirs.fit(X_train, y_train)
        best_theirs = int(max(range(len(theirs.validation_scores_)), key=lambda i: theirs.validation_scores_[i])) + 1
        scores["fnn"].append(ours.score(X_test, y_test))
        scores["sklearn"].append(theirs.score(X_test, y_test))
        print(f"| {seed} | {ours.n_iter_} | {ours.best_epoch_} | {scores['fnn'][-1]:.3f} | {theirs.n_iter_} | "
              f"{best_theirs} | {scores['sklearn'][-1]:.3f} |", flush=True)
    print(f"| mean | | | {statistics.mean(scores['fnn']):.3f} | | | {statistics.mean(scores['sklearn']):.3f} |")
    return 0


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.early_stopping")
    raise SystemExit(main())
