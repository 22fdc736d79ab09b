"""Command line: ``fnn`` (or ``python -m fnn``).

Bare ``fnn`` is the newcomer's main job: train a network on the built-in digits data and report
it. The subcommands ``train``, ``predict``, ``evaluate``, ``info`` and ``experiment`` work with
data files and saved models. Every expected failure (a bad file, a missing column, a bad
setting) prints one line on stderr and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

from .. import __version__
from ..training.schedules import SCHEDULES
from ..training.settings import ESTIMATOR, ESTIMATOR_BATCH_SIZE, ESTIMATOR_SOLVER, MAIN_JOB, REGRESSOR_L2, SOLVERS
from .._extras import import_optional

EXIT_ERROR = 2
#: Exit status after an unexpected exception (a bug).
EXIT_BUG = 70


class CommandError(ValueError):
    """A problem to report in one line and exit."""


# ---------------------------------------------------------------------------------- main job

def _main_job_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fnn",
        description="Train a feedforward network (Algorithm 4.1) on scikit-learn's 8x8 digits and report its "
                    f"test accuracy. Subcommands: fnn {' | '.join(COMMANDS)} (fnn SUBCOMMAND --help).")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64], metavar="M",
                        help="widths of the hidden layers (default: 64)")
    parser.add_argument("--activation", default="relu", help="hidden activation (default: relu)")
    job = MAIN_JOB
    parser.add_argument("--learning-rate", type=float, default=job.learning_rate,
                        help=f"α (default: {job.learning_rate:g})")
    parser.add_argument("--l2", type=float, default=job.l2, help=f"λ of the risk (4.39) (default: {job.l2:g})")
    parser.add_argument("--batch-size", type=int, default=job.batch_size,
                        help=f"1 = per-sample SGD (default: {job.batch_size})")
    parser.add_argument("--max-epochs", type=int, default=job.max_epochs, help=f"(default: {job.max_epochs})")
    parser.add_argument("--patience", type=int, default=job.patience,
                        help=f"early-stopping patience (default: {job.patience})")
    parser.add_argument("--dtype", choices=("float32", "float64", "bfloat16"), default="float32",
                        help="bfloat16: float32 weights, matrix products in bfloat16 (needs --batch-size ≥ 2)")
    parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    parser.add_argument("--threads", type=int, default=None, help="C++ threads (default: all cores)")
    parser.add_argument("--verbose", action="store_true", help="print every epoch")
    parser.add_argument("--version", action="version", version=f"fnn {__version__}")
    return parser


def _main_job(argv: List[str]) -> int:
    args = _main_job_parser().parse_args(argv)
    from sklearn.model_selection import train_test_split

    from ..io.datasets import load_digits
    from ..network import Network

    X, y = load_digits("float32" if args.dtype == "bfloat16" else args.dtype)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=args.seed)
    try:
        net = Network([X.shape[1], *args.hidden, 10], args.activation, "softmax", dtype=args.dtype,
                      seed=args.seed, n_threads=args.threads)
    except (ValueError, TypeError) as error:
        raise CommandError(_in_flags(str(error))) from None
    print(f"fnn {__version__}: digits, {X_train.shape[0]} training and {X_test.shape[0]} test samples, "
          f"{X.shape[1]} features, 10 classes")
    print(f"network {net.widths} ({args.activation} hidden, softmax output), {net.n_parameters} parameters, "
          f"{args.dtype}, {net._threads()} thread(s)")
    try:
        history = net.fit(X_train, y_train, learning_rate=args.learning_rate, l2=args.l2,
                          batch_size=args.batch_size, max_epochs=args.max_epochs, patience=args.patience,
                          verbose=args.verbose)
    except (ValueError, TypeError) as error:
        raise CommandError(_in_flags(str(error))) from None
    accuracy = net.score(X_test, y_test)
    stop = "early stopping" if history.stopped_early else "max epochs"
    print(f"trained {history.n_epochs} epochs ({stop}; best validation error "
          f"{min(history.validation_error):.4f} at epoch {history.best_epoch}) in {history.total_time:.2f} s, "
          f"{history.samples_per_second:,.0f} samples/s")
    print(f"test accuracy: {accuracy:.4f} ({int(round(accuracy * len(y_test)))}/{len(y_test)})")
    return 0


# ---------------------------------------------------------------------------------- train

def _add_training_flags(parser: argparse.ArgumentParser) -> None:
    # Defaults are None so that a TOML file's settings apply unless a flag is given.
    parser.add_argument("--config", type=Path, help="TOML file of settings (flags override it)")
    parser.add_argument("--target", help="target column: name or 0-based index (default: the last column)")
    parser.add_argument("--task", choices=("auto", "classification", "regression"),
                        help="auto: class labels → classification, real numbers → regression (default: auto)")
    parser.add_argument("--hidden", type=_widths, nargs="+", metavar="M",
                        help="hidden widths, as --hidden 64 32 or --hidden 64,32 (default: 64)")
    parser.add_argument("--activation", help="hidden activation (default: relu)")
    d = ESTIMATOR
    parser.add_argument("--learning-rate", dest="learning_rate", type=float, help=f"α (default: {d.learning_rate:g})")
    parser.add_argument("--l2", type=float, help=f"λ of the risk (4.39) (default: {d.l2:g} to classify, "
                        f"{REGRESSOR_L2:g} for regression)")
    parser.add_argument("--batch-size", dest="batch_size", type=_batch_size,
                        help="1 = per-sample SGD; auto: 1 up to 200 training rows, then about 100 steps an epoch "
                             f"of at most 200 rows (default: {ESTIMATOR_BATCH_SIZE})")
    parser.add_argument("--max-epochs", dest="max_epochs", type=int, help=f"(default: {d.max_epochs})")
    parser.add_argument("--patience", type=int,
                        help=f"epochs without improvement before stopping (default: {d.patience})")
    parser.add_argument("--validation-fraction", dest="validation_fraction", type=float,
                        help=f"share held out for early stopping; 0 = none (default: {d.validation_fraction:g})")
    parser.add_argument("--solver", choices=SOLVERS,
                        help=f"update rule; sgd uses --momentum (0: plain SGD) (default: {ESTIMATOR_SOLVER})")
    parser.add_argument("--momentum", type=float, help=f"μ of --solver sgd, Nesterov's (default: {d.momentum:g})")
    parser.add_argument("--schedule", choices=SCHEDULES, help=f"learning-rate schedule (default: {d.schedule})")
    parser.add_argument("--dtype", choices=("float32", "float64", "bfloat16"),
                        help="bfloat16: float32 weights, matrix products in bfloat16 (default: float32)")
    parser.add_argument("--seed", type=int, help="(default: 0)")
    parser.add_argument("--threads", type=int, help="C++ threads (default: all cores)")


def _add_file_flags(parser: argparse.ArgumentParser) -> None:
    """How to read a CSV file: the same flags for train, predict and evaluate."""
    parser.add_argument("--delimiter", help="column separator (default: detected among , ; tab; tab for .tsv)")
    parser.add_argument("--decimal", help="decimal mark (default: . , or , in ;-separated files that use it)")
    parser.add_argument("--na-values", dest="na_values", nargs="+", default=[], metavar="MARK",
                        help="cell values that mean 'missing', besides empty cells, NA, NaN, null, …")
    parser.add_argument("--drop", nargs="+", default=[], metavar="COL", help="columns to leave out")
    parser.add_argument("--features", nargs="+", metavar="COL", help="use only these columns as features")


def _csv_options(args: argparse.Namespace, categorical=(), numeric=()):
    """How to read DATA: the file flags, and the columns to read as categories or as numbers with
    stray words (train's --categorical and --numeric, or what a saved model does with them)."""
    from ..io.data_files import CsvOptions

    return CsvOptions(delimiter=args.delimiter, decimal=args.decimal, na_values=tuple(args.na_values),
                      drop=tuple(args.drop), features=args.features,
                      categorical=tuple(getattr(args, "categorical", ())) or tuple(categorical),
                      numeric=tuple(getattr(args, "numeric", ())) or tuple(numeric))


def _declared_kinds(model):
    """(columns a saved model one-hot encodes as text, columns it reads as numbers with stray words
    missing): those of fnn.sklearn.column_kinds' transformers in its ColumnTransformer, by name."""
    from ..sklearn.column_kinds import AsNumbers, Categories

    categorical, numeric = [], []
    steps = getattr(model, "steps", None) or []
    transformers = getattr(steps[0][1], "transformers_", []) if steps else []
    for _, step, _ in transformers:
        inner = step.steps[0][1] if hasattr(step, "steps") else step
        names = getattr(inner, "feature_names_in_", None)  # (whatever form its columns were chosen in)
        if names is not None:
            if isinstance(inner, Categories):
                categorical += [str(n) for n in names]
            elif isinstance(inner, AsNumbers):
                numeric += [str(n) for n in names]
    return categorical, numeric


def _print_notes(notes: List[str], stream) -> None:
    for note in notes:
        if note.startswith("warning: "):
            print(f"fnn: {note}", file=sys.stderr)
        else:
            print(note, file=stream)


def _widths(text: str) -> List[int]:
    """One or more hidden widths: "64" or "64,32"."""
    try:
        widths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a width or a comma-separated list of widths") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: widths must be positive integers")
    return widths


def _column_names(text: str) -> List[str]:
    """Column names: "a,b" (names holding commas can be given one per flag)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _column_kinds(table, categorical: List[str], numeric: List[str]):
    """(numeric columns, categorical columns) of a table: by dtype, but for the declared ones."""
    from ..io.data_files import _did_you_mean

    names = list(table.feature_names)
    known = set(names)
    for flag, declared in (("--categorical", categorical), ("--numeric", numeric)):
        absent = [name for name in declared if name not in known]
        if absent:
            raise CommandError(f"{table.source}: {flag} names no feature column {absent[0]!r}"
                               f"{_did_you_mean(absent[0], names)} (features: {', '.join(names)})")
    both = sorted(set(categorical) & set(numeric))
    if both:
        raise CommandError(f"column(s) {', '.join(both)} given to both --categorical and --numeric")
    as_text, as_numbers, read_as_text = set(categorical), set(numeric), set(table.text_columns)
    text = [name for name in names if name in as_text or (name in read_as_text and name not in as_numbers)]
    chosen = set(text)
    return [name for name in names if name not in chosen], text


def _batch_size(text: str):
    """A batch size: a positive integer or "auto"."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a batch size is a positive integer or 'auto'")
    return value


#: The flag of each estimator parameter, so that messages name what the user can type.
_FLAGS = {"validation_fraction": "--validation-fraction", "learning_rate": "--learning-rate",
          "batch_size": "--batch-size", "max_epochs": "--max-epochs", "hidden_layer_sizes": "--hidden",
          "n_threads": "--threads", "patience": "--patience", "activation": "--activation", "l2": "--l2",
          "dtype": "--dtype", "random_state": "--seed", "solver": "--solver", "momentum": "--momentum",
          "schedule": "--schedule"}


def _in_flags(message: str) -> str:
    """`message` with the Python parameter names it mentions replaced by their flags."""
    import re

    # dtype='float64' → --dtype float64; not a NumPy repr's dtype('float64').
    pattern = r"\b(" + "|".join(_FLAGS) + r")\b(?:=(['\"]?)([^'\"\s,;)]+)\2)?(?!\()"
    return re.sub(pattern, lambda m: _FLAGS[m.group(1)] + (f" {m.group(3)}" if m.group(3) else ""), message)


def _check_writable(path: Optional[Path], flag: str) -> None:
    """Fail before training, not after it, when an output cannot be written."""
    if path is None:
        return
    import os

    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise CommandError(f"{flag} {path}: directory {directory} does not exist")
    if path.is_dir():
        raise CommandError(f"{flag} {path}: is a directory")
    if not os.access(directory, os.W_OK):
        raise CommandError(f"{flag} {path}: directory {directory} is not writable")


def _train(args: argparse.Namespace) -> int:
    from ..io.data_files import read_table, task_of
    from ..sklearn.preprocessing import with_preprocessing
    from .config import merge, read_config
    from .progress import EpochProgress

    if args.hidden is not None:  # --hidden 64 32 and --hidden 64,32 alike
        args.hidden = [width for group in args.hidden for width in group]
    args.categorical = [name for group in args.categorical for name in group]  # likewise
    args.numeric = [name for group in args.numeric for name in group]
    settings = merge(read_config(args.config) if args.config else None, vars(args))
    _check_writable(args.output, "-o")
    _check_writable(args.curve, "--curve")
    if args.curve:  # before training, not after it
        import_optional("matplotlib", "--curve")
    if getattr(args, "distributed", False):
        return _train_distributed(args, settings)
    table = read_table(args.data, settings["target"], _csv_options(args))
    _print_notes(table.notes, sys.stdout)
    target = table.y
    if target is None:  # (read_table gives training data a target column, or says why not)
        raise CommandError(f"{table.source}: no target column")
    task = settings["task"] if settings["task"] != "auto" else task_of(target)
    if task == "regression" and target.dtype == object:
        raise CommandError(f"{table.source}: the target column {table.target_name!r} holds text labels; "
                           "regression needs numbers (use --task classification)")
    pd = import_optional("pandas", "fnn train")
    X, y = table.X, pd.Series(target, name=table.target_name) if target.ndim == 1 else target
    X, y, X_test, y_test = _held_out_test(X, y, task, args.test_fraction, settings["seed"])
    validation = _validation_fraction(args, settings, X.shape[0])
    estimator = _estimator_of(settings, task, validation)
    numeric, text = _column_kinds(table, args.categorical, args.numeric)
    model = with_preprocessing(estimator, numeric, text)
    _describe_training(table, X, task, settings, text, args.numeric)
    n_train = X.shape[0] - (int(round(validation * X.shape[0])) if validation > 0 else 0)
    progress = None if args.quiet else EpochProgress(settings["max_epochs"], n_train,
                                                     patience=settings["patience"] if validation > 0 else None)
    _fit_in_flags(model, X, y, progress)
    history = estimator.history_
    _report_training(estimator, settings, task)
    score_name = "accuracy" if task == "classification" else "R²"
    print(f"training {score_name}: {_score_text(model, X, y, task)}")
    if X_test is not None:
        print(f"test {score_name}: {_score_text(model, X_test, y_test, task)} ({len(X_test)} held-out samples)")
    _save_and_plot(model, history, task, args, f"fnn train {table.source}")
    return 0


def _held_out_test(X, y, task: str, fraction, seed):
    """(X, y, X_test, y_test): the test part split off by --test-fraction (stratified for
    classification), or none."""
    if not fraction:
        return X, y, None, None
    from sklearn.model_selection import train_test_split

    stratify = y if task == "classification" and y.ndim == 1 else None
    X, X_test, y, y_test = train_test_split(X, y, test_size=fraction, random_state=seed, stratify=stratify)
    return X, y, X_test, y_test


def _validation_fraction(args: argparse.Namespace, settings, rows: int) -> float:
    """The validation fraction to train with: the setting's, or 0 (said) when the rows are too few
    to hold some out and the fraction was the default; a given fraction that leaves an empty part
    is an error naming the flag."""
    from .config import read_config

    validation = settings["validation_fraction"]
    n_val = int(round(validation * rows))
    if validation > 0 and (n_val < 1 or rows - n_val < 1):
        given = args.validation_fraction is not None or (args.config is not None and "validation_fraction" in
                                                         read_config(args.config))
        if given:
            raise CommandError(f"--validation-fraction {validation} of {rows} samples leaves an empty training "
                               "or validation set; use a larger fraction, or --validation-fraction 0")
        print(f"{rows} samples are too few to hold some out for early stopping: training for --max-epochs "
              "without it (as --validation-fraction 0)")
        validation = 0.0
    return validation


def _describe_training(table, X, task: str, settings, text, numeric) -> None:
    print(f"fnn {__version__}: {table.source}, {X.shape[0]} samples × {X.shape[1]} features, {task}"
          + (f", target column {table.target_name!r}" if table.target_name else "")
          + (" (the last column; name another with --target)" if table.target_name and settings["target"] is None
             else ""))
    if text:
        print(f"categorical columns, one-hot encoded: {', '.join(text)}")
    if numeric:
        print(f"declared numeric: {', '.join(numeric)} (values that are not numbers are read as missing)")


def _fit_in_flags(model, X, y, progress) -> None:
    """model.fit with the progress bar; its errors and warnings said in the command line's terms
    (flags, not parameters), the warnings one line each after the progress line."""
    import warnings

    from ..network import TrainingDiverged

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X, y, model__callback=progress)
    except (ValueError, TypeError, TrainingDiverged) as error:  # name the flags, not the parameters
        raise CommandError(_in_flags(str(error))) from None
    finally:
        if progress is not None:
            progress.close()
    for warning in caught:
        if issubclass(warning.category, (UserWarning, RuntimeWarning)):
            _warning_line(_in_flags(str(warning.message)))


def _report_training(estimator, settings, task: str) -> None:
    net, history = estimator.network_, estimator.history_
    print(f"network {net.widths} ({settings['activation']} hidden, {net.output} output), {net.n_parameters} "
          f"parameters, {net.dtype_name}")
    stop = "early stopping" if history.stopped_early else "max epochs"
    line = f"trained {history.n_epochs} epochs ({stop}) in {history.total_time:.2f} s, " \
           f"{history.samples_per_second:,.0f} samples/s; best epoch {history.best_epoch}"
    if history.validation_error:
        what = "validation error rate" if task == "classification" else "validation loss"
        line += f", {what} {history.validation_error[history.best_epoch - 1]:.4f}"
    print(line)



def _score_text(model, X, y, task: str) -> str:
    """The model's score on (X, y) for printing; R² of fewer than two samples is undefined."""
    if task != "classification" and len(y) < 2:
        return "undefined (R² needs at least two samples)"
    return f"{model.score(X, y):.4f}"


def _save_and_plot(model, history, task: str, args: argparse.Namespace, title: str) -> None:
    """Write the model file (-o) and, with --curve, the learning curve."""
    from ..io.model_file import save

    save(model, args.output)
    print(f"model saved to {args.output}")
    if args.curve:
        from ..chapter.plots import learning_curve

        label = "validation error rate" if task == "classification" else "validation loss"
        learning_curve(history, args.curve, title=title, error_label=label, error_is_loss=task == "regression")
        print(f"learning curve written to {args.curve}")


def _estimator_of(settings, task: str, validation: float):
    """The estimator that `fnn train` fits, from the merged settings."""
    from ..sklearn.classifier import FNNClassifier
    from ..sklearn.regressor import FNNRegressor

    estimator_class = FNNClassifier if task == "classification" else FNNRegressor
    l2 = settings["l2"] if settings["l2"] is not None else estimator_class().l2
    return estimator_class(
        tuple(settings["hidden"]), settings["activation"], learning_rate=settings["learning_rate"], l2=l2,
        batch_size=settings["batch_size"], max_epochs=settings["max_epochs"], patience=settings["patience"],
        early_stopping=validation > 0, validation_fraction=validation if validation > 0 else 0.1,
        dtype=settings["dtype"], random_state=settings["seed"], n_threads=settings["threads"],
        solver=settings["solver"], momentum=settings["momentum"], schedule=settings["schedule"])


def _train_distributed(args: argparse.Namespace, settings) -> int:
    """`mpiexec -n R fnn train DATA --distributed`: every rank reads its rows, the ranks fit one
    estimator together (fnn.scale.distributed.fit_estimator), rank 0 reports and saves it. An error
    every rank sees is printed by rank 0 alone; the others exit with the same status."""
    from ..io.data_files import DataError, task_of
    from ..scale.distributed import CollectiveError, _agree, fit_estimator, world
    from ..network import TrainingDiverged
    from .progress import EpochProgress
    from ..scale.shards import read_shard

    try:
        comm = world()
    except ImportError as error:
        raise CommandError(str(error)) from None
    rank, size = comm.Get_rank(), comm.Get_size()
    if args.test_fraction:
        raise CommandError("--test-fraction is not available with --distributed: hold out a file of your own and "
                           "score the saved model with fnn evaluate")
    if args.delimiter or args.decimal or args.na_values or args.drop or args.features or args.categorical \
            or args.numeric:
        raise CommandError("--delimiter, --decimal, --na-values, --drop, --features, --categorical and --numeric are "
                           "not available with --distributed (a numeric CSV with , ; or tab, or a .npy file)")
    try:
        problem = None
        try:
            X, y, names, target_name = read_shard(args.data, rank, size, settings["target"])
        except (DataError, OSError) as error:
            problem = str(error)
        _agree(comm, problem, "reading the data")
        local_task = settings["task"] if settings["task"] != "auto" else task_of(y) if y.size else "classification"
        task = "regression" if "regression" in comm.allgather(local_task) else "classification"
        n_total = comm.allreduce(X.shape[0])
        validation = settings["validation_fraction"]
        estimator = _estimator_of(settings, task, validation)
        if rank == 0:
            print(f"fnn {__version__}: {args.data}, {n_total} samples × {X.shape[1]} features on {size} ranks, "
                  f"{task}, target column {target_name!r}")
        progress = None
        if rank == 0 and not args.quiet:
            n_train = n_total - (int(round(validation * n_total)) if validation > 0 else 0)
            progress = EpochProgress(settings["max_epochs"], n_train,
                                     patience=settings["patience"] if validation > 0 else None)
        try:
            fit_estimator(estimator, X, y if task == "regression" else _labels(y), comm=comm, callback=progress)
        finally:
            if progress is not None:
                progress.close()
    except (CollectiveError, TrainingDiverged, ValueError, TypeError) as error:
        if rank == 0:
            raise CommandError(_in_flags(str(error))) from None
        return EXIT_ERROR
    net, history = estimator.network_, estimator.history_
    score = _global_score(estimator, X, y if task == "regression" else _labels(y), task, comm)
    if rank == 0:
        print(f"network {net.widths} ({settings['activation']} hidden, {net.output} output), {net.n_parameters} "
              f"parameters, {net.dtype_name}")
        stop = "early stopping" if history.stopped_early else "max epochs"
        print(f"trained {history.n_epochs} epochs ({stop}) in {history.total_time:.2f} s, "
              f"{history.samples_per_second:,.0f} samples/s on {size} ranks; best epoch {history.best_epoch}")
        print(f"training {'accuracy' if task == 'classification' else 'R²'}: {score:.4f}")
        _save_and_plot(estimator, history, task, args, f"fnn train {args.data} ({size} ranks)")
    return 0


def _labels(y: np.ndarray) -> np.ndarray:
    """Class labels read as numbers: whole numbers as integers (3.0 → 3)."""
    return y.astype(np.int64) if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0) else y


def _global_score(estimator, X, y, task: str, comm) -> float:
    """Accuracy or R² over every rank's rows."""
    from mpi4py import MPI

    if task == "classification":
        sums = np.array([float(np.sum(estimator.predict(X) == y)) if len(y) else 0.0, float(len(y))])
        comm.Allreduce(MPI.IN_PLACE, sums)
        return sums[0] / sums[1]
    residual = (y - estimator.predict(X)) if len(y) else np.zeros(0)
    sums = np.array([np.sum(residual ** 2), np.sum(y), np.sum(np.square(y)), float(len(y))])
    comm.Allreduce(MPI.IN_PLACE, sums)
    total = sums[2] - sums[1] ** 2 / sums[3]
    return 1.0 - sums[0] / total if total > 0 else float("nan")


# ---------------------------------------------------------------------------------- predict, evaluate, info

def _load_model(path: Path):
    from ..io.model_file import load

    return load(path)


def _final_step(model):
    """The network or estimator at the end of a model (the model itself unless a Pipeline)."""
    return model.steps[-1][1] if hasattr(model, "steps") else model


def _features_and_targets(model, args, need_target: bool):
    """(table, X for the model): DATA's columns matched to the model's features by name when
    both have names, else by position; with `need_target`, the target column too."""
    from ..io.data_files import DataError, read_features
    from ..network import Network

    final = _final_step(model)
    n_features = final.widths[0] if isinstance(final, Network) else model.n_features_in_
    names = getattr(model, "feature_names_in_", None)
    table = read_features(args.data, None if names is None else [str(n) for n in names], n_features,
                          target=args.target, model_target=getattr(final, "target_name_", None),
                          need_target=need_target, options=_csv_options(args, *_declared_kinds(model)))
    _print_notes(table.notes, sys.stderr)
    if hasattr(model, "steps"):
        return table, table.X  # the pipeline's own transformers handle text and missing values
    if table.text_columns:
        column = table.text_columns[0]
        raise DataError(f"{table.source}: column {column!r} holds text; this model was trained on numbers only")
    if table.has_missing_values:
        missing = table.X.isna().to_numpy()
        row, col = np.argwhere(missing)[0]
        line = int(table.X.index[row]) + (2 if table.has_header else 1)
        raise DataError(f"{table.source}, line {line}, column {table.X.columns[col]!r}: a missing value; this model "
                        "was trained without missing values (models trained by fnn train impute them)")
    return table, (table.X if names is not None else table.X.to_numpy(dtype=np.float64))


def _applied(method, X, source: str):
    """`method(X)`, with a rejection of DATA (columns the model cannot use) as one line."""
    try:
        return method(X)
    except (ValueError, TypeError) as error:
        raise CommandError(f"{source} does not fit this model: {error}") from None


def _predict(args: argparse.Namespace) -> int:
    import csv

    from ..network import Network

    model = _load_model(args.model)
    table, X = _features_and_targets(model, args, need_target=False)
    if args.proba:
        if isinstance(model, Network):
            probabilities, names = model.predict_proba(X), None
        elif hasattr(model, "predict_proba"):
            probabilities, names = _applied(model.predict_proba, X, table.source), [str(c) for c in model.classes_]
        else:
            raise CommandError("--proba needs a classifier; this model is a regressor")
        header = [f"p({name})" for name in (names or range(probabilities.shape[1]))]
        rows = [[f"{v:.9g}" for v in row] for row in probabilities]
    else:
        predictions = np.asarray(_applied(model.predict, X, table.source))
        if predictions.ndim == 1:
            header, rows = ["prediction"], [[_cell(v)] for v in predictions]
        else:
            header = [f"prediction_{j}" for j in range(predictions.shape[1])]
            rows = [[_cell(v) for v in row] for row in predictions]
    stream = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout
    try:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    finally:
        if args.output:
            stream.close()
    if args.output:
        print(f"{len(rows)} predictions written to {args.output}", file=sys.stderr)
    return 0


def _cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.9g}"
    return str(value)


def _evaluate(args: argparse.Namespace) -> int:
    from ..network import Network

    model = _load_model(args.model)
    table, X = _features_and_targets(model, args, need_target=True)
    y = table.y
    print(f"{table.source}: {X.shape[0]} samples")
    is_classifier = (isinstance(model, Network) and model.output != "identity") or hasattr(model, "predict_proba")
    if is_classifier and not isinstance(model, Network):
        unknown = sorted(set(np.unique(y).tolist()) - set(model.classes_.tolist())) if y.ndim == 1 else []
        if unknown:
            raise CommandError(f"{table.source}: the target column has labels {unknown[:5]} that the model was not "
                               f"trained on (its classes: {list(model.classes_)[:10]})")
    if not is_classifier and X.shape[0] < 2:
        raise CommandError(f"{table.source}: one sample; R² needs at least two (fnn predict gives the prediction)")
    try:
        score = model.score(X, y)
    except (ValueError, TypeError) as error:
        raise CommandError(f"{table.source}: the target column does not fit this model: {error}") from None
    if is_classifier:
        correct = int(round(score * X.shape[0]))
        print(f"accuracy: {score:.4f}  error rate: {1 - score:.4f}  ({correct}/{X.shape[0]} correct)")
        if not isinstance(model, Network) and y.ndim == 1:
            p = _applied(model.predict_proba, X, table.source).astype(np.float64)
            p_true = p[np.arange(len(y)), np.searchsorted(model.classes_, y)]
            cross_entropy = -np.mean(np.log(np.maximum(p_true, np.finfo(np.float64).tiny)))
            print(f"mean cross-entropy: {cross_entropy:.4f}")
    else:
        predictions = np.asarray(_applied(model.predict, X, table.source), dtype=np.float64)
        residual = predictions - np.asarray(y, dtype=np.float64).reshape(predictions.shape)
        print(f"R²: {score:.4f}  mean squared error: {np.mean(residual ** 2):.6g}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..io.model_file import read_model
    from ..network import Network

    kind, header, _ = read_model(args.model)
    pipeline = _load_model(args.model)
    model = _final_step(pipeline)
    net = model if isinstance(model, Network) else model.network_
    print(f"{args.model}: {kind}, written by fnn {header.get('fnn_version')} (format version "
          f"{header['format_version']})")
    if hasattr(pipeline, "steps"):
        for name, step in pipeline.steps[:-1]:
            print(f"preprocessing step {name!r}: {_describe_step(step)}")
        print(f"model step {pipeline.steps[-1][0]!r}: {type(model).__name__}")
        if hasattr(pipeline, "feature_names_in_"):
            names = [str(n) for n in pipeline.feature_names_in_]
            print(f"input columns ({len(names)}): {names[:20]}{' …' if len(names) > 20 else ''}")
    activations = ", ".join(repr(f) for f in net.activations) or "none"
    print(f"architecture: widths {net.widths}; hidden activations {activations}; output {net.output}")
    print(f"parameters: {net.n_parameters:,} ({net.dtype.name})")
    for l in range(1, net.n_layers + 1):
        shapes = ", ".join(f"{name.split('_')[0]} {tuple(p.shape)}" for name, p in net.parameters().items()
                           if name.endswith(f"_{l}"))
        print(f"  layer {l}: {shapes}")
    if not isinstance(model, Network):
        params = model.get_params(deep=False)
        print("estimator settings: " + ", ".join(f"{k}={v!r}" for k, v in sorted(params.items())))
        if hasattr(model, "classes_"):
            classes = model.classes_.tolist()
            print(f"classes ({len(classes)}): {classes[:20]}{' …' if len(classes) > 20 else ''}")
        if hasattr(model, "feature_names_in_"):
            print(f"features: {model.feature_names_in_.tolist()[:20]}")
        if hasattr(model, "target_name_"):
            print(f"target column: {model.target_name_!r}")
        print(f"n_features_in_: {model.n_features_in_}; epochs: {model.n_iter_}; best epoch: {model.best_epoch_}")
    if net.training_settings_:
        print("last fit: " + ", ".join(f"{k}={v!r}" for k, v in net.training_settings_.items()))
    if net.history_ is not None and net.history_.n_epochs:
        h = net.history_
        line = f"history: {h.n_epochs} epochs, final training risk {h.train_risk[-1]:.6f}"
        if h.validation_error and h.best_epoch:
            line += f", validation error at best epoch {h.validation_error[h.best_epoch - 1]:.4f}"
        print(line)
    return 0


def _describe_step(step) -> str:
    """One line on a fitted transformer: what it does to which columns."""
    if isinstance(step, str) or step is None:
        return str(step)
    if hasattr(step, "transformers_"):
        parts = []
        for name, inner, columns in step.transformers_:
            if isinstance(inner, str) and inner == "drop":
                continue
            shown = columns if isinstance(columns, str) else ", ".join(map(str, list(columns)[:8])) + \
                (" …" if len(columns) > 8 else "")
            parts.append(f"{name} [{shown}]: {_describe_step(inner)}")
        return type(step).__name__ + " — " + "; ".join(parts)
    if hasattr(step, "steps"):
        return " → ".join(_describe_step(inner) for _, inner in step.steps)
    if hasattr(step, "categories_"):
        return f"OneHotEncoder ({sum(len(c) for c in step.categories_)} categories)"
    if hasattr(step, "strategy"):
        return f"SimpleImputer ({step.strategy})"
    return type(step).__name__


# ---------------------------------------------------------------------------------- dispatch

def _subcommand_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fnn", description="Feedforward networks of chapter 4, trained on the CPU.")
    parser.add_argument("--version", action="version", version=f"fnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model on a CSV/NPZ file or a built-in data set",
                                description="Train a classifier or regressor by Algorithm 4.1 and save it, with its "
                                            "preprocessing (missing values imputed, text columns one-hot encoded). "
                                            "DATA is a .csv or .tsv file (separator detected, header optional; the "
                                            "target is the last column unless --target says otherwise), an .npz with "
                                            "arrays X and y, or a built-in data set: digits, iris, wine, "
                                            "breast-cancer, diabetes, xor.")
    train.add_argument("data", metavar="DATA")
    train.add_argument("-o", "--output", type=Path, default=Path("model.npz"), help="model file (default: model.npz)")
    train.add_argument("--curve", type=Path, help="write the learning curve to this PNG file")
    train.add_argument("--test-fraction", dest="test_fraction", type=float, default=0.0,
                       help="hold out this share of DATA and report the score on it (default: 0)")
    train.add_argument("-q", "--quiet", action="store_true", help="no per-epoch progress")
    train.add_argument("--distributed", action="store_true",
                       help="data-parallel over MPI: run as mpiexec -n R fnn train DATA --distributed; each rank "
                            "reads only its rows of DATA (a .npy matrix, the target one of its columns, or a "
                            "numeric CSV); rank 0 prints and saves (pip install 'fnn[mpi]')")
    _add_training_flags(train)
    _add_file_flags(train)
    train.add_argument("--categorical", type=_column_names, nargs="+", default=[], metavar="COL,…",
                       help="columns of codes to one-hot encode although they look like numbers (ZIPs, product codes)")
    train.add_argument("--numeric", type=_column_names, nargs="+", default=[], metavar="COL,…",
                       help="columns of numbers read as text because of stray words: those become missing values")

    predict = commands.add_parser("predict", help="predict with a saved model",
                                  description="Write one prediction per row of DATA as CSV (stdout by default).")
    predict.add_argument("model", metavar="MODEL", type=Path)
    predict.add_argument("data", metavar="DATA")
    predict.add_argument("--target", help="a target column in DATA to leave out (the model's own target column is "
                                          "left out without it)")
    predict.add_argument("--proba", action="store_true", help="class probabilities instead of labels")
    predict.add_argument("-o", "--output", type=Path, help="CSV file to write (default: stdout)")
    _add_file_flags(predict)

    evaluate = commands.add_parser("evaluate", help="score a saved model on labelled data",
                                   description="Accuracy (classifier) or R² (regressor) of MODEL on DATA.")
    evaluate.add_argument("model", metavar="MODEL", type=Path)
    evaluate.add_argument("data", metavar="DATA")
    evaluate.add_argument("--target", help="target column: name or 0-based index (default: the model's target "
                                           "column if DATA has it, else the last column)")
    _add_file_flags(evaluate)

    info = commands.add_parser("info", help="describe a saved model",
                               description="Architecture, parameter count and training settings of MODEL.")
    info.add_argument("model", metavar="MODEL", type=Path)

    export = commands.add_parser("export", help="write a saved model as ONNX",
                                 description="Write MODEL as an ONNX model (checked by onnx.checker) that predicts as "
                                             "fnn does, for onnxruntime and other ONNX runtimes: a table model takes "
                                             "one input per column; needs pip install 'fnn[onnx]'.")
    export.add_argument("model", metavar="MODEL", type=Path)
    export.add_argument("output", metavar="OUTPUT.onnx", type=Path)
    export.add_argument("--opset", type=int, help="ONNX operator set (default: 17)")

    experiment = commands.add_parser("experiment", help="run one of the chapter's experiments",
                                     description="Run an experiment of chapter 4: writes a PNG and prints its key "
                                                 "numbers. --list shows them all.")
    experiment.add_argument("name", metavar="NAME", nargs="?")
    experiment.add_argument("--list", action="store_true", help="list the experiments")
    experiment.add_argument("-o", "--output", type=Path, help="PNG file (default: NAME.png)")
    experiment.add_argument("--seed", type=int, default=0, help="(default: 0)")
    playground = commands.add_parser("playground", help="train networks live in the browser, beside the chapter",
                                     description="Serve a local page that trains small networks on 2-D data with "
                                                 "fnn's engine, live: decision surface, every neuron's map, the "
                                                 "weights, the losses, and the chapter's equations, Algorithm 4.1 "
                                                 "step by step and a gradient check. Ctrl-C stops it.")
    playground.add_argument("--host", default="127.0.0.1",
                            help="address to listen on (default: 127.0.0.1, this machine only)")
    playground.add_argument("--port", type=int, default=8050, help="port (default: 8050; 0 takes a free one)")
    playground.add_argument("--no-browser", dest="browser", action="store_false", help="do not open a browser")
    playground.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def _playground(args: argparse.Namespace) -> int:
    from ..playground import serve

    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port must lie in 0 … 65535, got {args.port}")
    try:
        return serve(args.host, args.port, open_browser=args.browser, verbose=args.verbose)
    except OSError as error:  # the port is taken, or the address is not this machine's
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}; choose another "
                           "with --port (0 takes a free one)") from error


def _experiment(args: argparse.Namespace) -> int:
    from ..chapter.experiments import EXPERIMENTS, run_experiment

    if args.list or not args.name:
        width = max(len(name) for name in EXPERIMENTS)
        for name, experiment in EXPERIMENTS.items():
            print(f"{name:<{width}}  {experiment.summary}")
        return 0
    result = run_experiment(args.name, args.output or Path(f"{args.name}.png"), seed=args.seed)
    for line in result.report():
        print(line)
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..deploy.onnx_export import to_onnx

    model = _load_model(args.model)
    try:
        proto = to_onnx(model, args.output, opset=args.opset)
    except (ValueError, ImportError) as error:  # what ONNX cannot express, a bad opset, no onnx package
        raise CommandError(f"cannot export {args.model}: {error}") from error

    def described(values) -> str:
        return ", ".join(v.name for v in values[:8]) + (f" … ({len(values)} in all)" if len(values) > 8 else "")

    print(f"wrote {args.output} (ONNX opset {proto.opset_import[0].version}, {args.output.stat().st_size:,} bytes): "
          f"inputs {described(proto.graph.input)}; outputs {described(proto.graph.output)}")
    return 0


COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "train": _train, "predict": _predict, "evaluate": _evaluate, "info": _info, "export": _export,
    "experiment": _experiment, "playground": _playground,
}


#: Warning lines printed by this command, each once (a table's stray value is met by every pass).
_WARNED: set = set()


def _warning_line(text: str) -> None:
    if text not in _WARNED:
        _WARNED.add(text)
        print(f"fnn: warning: {text}", file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``fnn`` console script and ``python -m fnn``; returns the exit status."""
    import warnings

    from ..sklearn.column_kinds import ColumnWarning

    _WARNED.clear()
    with warnings.catch_warnings():
        # What the data say (a stray word, a new category) as one line each, as fnn's own lines.
        warnings.simplefilter("always", ColumnWarning)
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, ColumnWarning):
                _warning_line(str(message))
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        return _main(argv)


def _main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from .._bfloat16 import BfloatUnavailable
    from .._extras import MissingDependency
    from .config import ConfigError
    from ..io.data_files import DataError
    from ..chapter.experiments import ExperimentError
    from ..io.model_file import ModelFileError
    from ..network import TrainingDiverged

    # Problems with what the user gave; anything else is a bug, and keeps its traceback.
    expected = (CommandError, ConfigError, DataError, ModelFileError, TrainingDiverged, ExperimentError, OSError,
                BfloatUnavailable, MissingDependency)
    started = time.perf_counter()
    try:
        if argv and argv[0] in COMMANDS:
            args = _subcommand_parser().parse_args(argv)
            return COMMANDS[args.command](args)
        if argv and not argv[0].startswith("-"):  # the main job takes options only: a mistyped command
            import difflib

            close = difflib.get_close_matches(argv[0], COMMANDS, n=1)
            raise CommandError(f"unknown command {argv[0]!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                               + f" (commands: {', '.join(COMMANDS)}; fnn --help for the main job)")
        return _main_job(argv)
    except BrokenPipeError:
        # The reader went away (`fnn predict … | head`): not an error; silence the final flush.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except expected as error:
        print(f"fnn: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"fnn: interrupted after {time.perf_counter() - started:.1f} s", file=sys.stderr)
        return 130
    except Exception:
        import traceback

        traceback.print_exc()
        print(f"fnn: internal error: this is a bug in fnn {__version__}, not a problem with your data or settings; "
              "please report it with the command you ran and the traceback above", file=sys.stderr)
        return EXIT_BUG
