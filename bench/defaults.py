"""Defaults on raw data: `python -m bench.defaults [--seeds N]`.

fnn's estimators and scikit-learn's MLPClassifier / MLPRegressor, each at its default
parameters, on the raw (unscaled) features of every real data set scikit-learn ships: iris, wine,
breast cancer, digits (pixels 0–16) and diabetes. Each seed draws a stratified (classification)
quarter for testing and seeds both estimators; the table gives the median test score (accuracy,
or R² for diabetes) and fit time over the seeds. Goal (issue 11): fnn ≥ scikit-learn − 0.01.

`--check docs/guide/estimators.md` compares the scores with the table in that file (the fit times are not
compared: they depend on the machine) and exits with status 1 if any differs."""

import argparse
import re
import statistics
import time
import warnings

from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor

import fnn

SETS = [("iris", datasets.load_iris, True), ("wine", datasets.load_wine, True),
        ("breast cancer", datasets.load_breast_cancer, True), ("digits", datasets.load_digits, True),
        ("diabetes", datasets.load_diabetes, False)]


def fit_score(model, X_train, y_train, X_test, y_test):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # both warn at their defaults on some sets
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return model.score(X_test, y_test), seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.defaults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--check", metavar="FILE", help="compare the scores with the table in FILE")
    parser.add_argument("--only", nargs="+", metavar="SET", help="these data sets only (e.g. iris)")
    parser.add_argument("--fnn", nargs="+", default=[], metavar="NAME=VALUE",
                        help="fnn parameters other than the defaults, e.g. input_scaling=False")
    parser.add_argument("--scaled-sklearn", action="store_true",
                        help="put a StandardScaler in front of scikit-learn's MLP")
    parser.add_argument("--sklearn-sgd", action="store_true",
                        help="scikit-learn's MLP with fnn's algorithm: per-sample SGD, α = 0.01, no momentum")
    args = parser.parse_args(argv)
    import ast

    changed = {name: ast.literal_eval(value) for name, value in (item.split("=", 1) for item in args.fnn)}
    shown = _table_in(args.check) if args.check else {}
    print("| data set | fnn score | scikit-learn score | fnn − sklearn | goal met | fnn fit s | sklearn fit s |")
    print("|---|---|---|---|---|---|---|")
    differences = []
    for name, loader, classification in SETS:
        if args.only and name not in args.only:
            continue
        X, y = loader(return_X_y=True)
        scores = {"fnn": [], "sklearn": []}
        times = {"fnn": [], "sklearn": []}
        for seed in range(args.seeds):
            split = train_test_split(X, y, random_state=seed, stratify=y if classification else None)
            ours = (fnn.FNNClassifier if classification else fnn.FNNRegressor)(random_state=seed, **changed)
            algorithm = {}
            if args.sklearn_sgd:
                algorithm = dict(solver="sgd", batch_size=1, learning_rate_init=0.01, momentum=0.0)
            theirs = (MLPClassifier if classification else MLPRegressor)(random_state=seed, **algorithm)
            if args.scaled_sklearn:
                from sklearn.pipeline import make_pipeline
                from sklearn.preprocessing import StandardScaler

                theirs = make_pipeline(StandardScaler(), theirs)
            for key, model in (("fnn", ours), ("sklearn", theirs)):
                score, seconds = fit_score(model, *split[:1], split[2], split[1], split[3])
                scores[key].append(score)
                times[key].append(seconds)
        ours, theirs = statistics.median(scores["fnn"]), statistics.median(scores["sklearn"])
        print(f"| {name} | {ours:.3f} | {theirs:.3f} | {ours - theirs:+.3f} | "
              f"{'yes' if ours >= theirs - 0.01 else 'no'} "
              f"| {statistics.median(times['fnn']):.2f} | {statistics.median(times['sklearn']):.2f} |", flush=True)
        if args.check and shown.get(name) != (f"{ours:.3f}", f"{theirs:.3f}"):
            differences.append(f"{name}: {args.check} shows {shown.get(name)}, measured ({ours:.3f}, {theirs:.3f})")
    for line in differences:
        print(line)
    if args.check:
        print(f"{args.check}: {'differs from the measurement' if differences else 'matches the measurement'}")
    return 1 if differences else 0


def _table_in(path: str):
    """{data set: (fnn score, scikit-learn score)} from the table this script prints, in `path`."""
    rows = {}
    with open(path, encoding="utf-8") as stream:
        lines = stream.read().splitlines()
    for line in lines:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 7 and re.fullmatch(r"[−-]?\d\.\d{3}", cells[1].replace("−", "-")):
            rows[cells[0]] = (cells[1].replace("−", "-"), cells[2].replace("−", "-"))
    return rows


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.defaults")
    raise SystemExit(main())
