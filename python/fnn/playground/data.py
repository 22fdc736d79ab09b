"""The playground's two-dimensional data sets, its input features, and uploaded CSV files.

Points live in the square [−6, 6]² that the page draws. Classification sets are labelled 0 / 1
(the page's orange / blue); regression sets carry a real target. Every set is drawn from a
seeded generator, so the same settings give the same points.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

#: Half the side of the square the page draws; inputs (and uploaded points, once rescaled) lie inside.
DOMAIN = 6.0
#: What an upload may hold: enough for any plot, little enough to parse in a moment.
MAX_UPLOAD_ROWS = 10_000
MAX_UPLOAD_BYTES = 2_000_000


class PlaygroundDataError(ValueError):
    """A data set, feature or upload the playground cannot use; the message says why."""


@dataclass(frozen=True)
class DataSet:
    """Points X (n, 2) in [−6, 6]², targets y (n,), and whether y holds classes 0 / 1."""

    X: np.ndarray
    y: np.ndarray
    classification: bool


def _circle(rng: np.random.Generator, n: int, noise: float) -> Tuple[np.ndarray, np.ndarray]:
    # Class 1 inside radius 2.5, class 0 in a ring from 3.5 to 5 (TensorFlow Playground's layout).
    inside = np.arange(n) < n // 2
    radius = np.where(inside, rng.uniform(0, 2.5, n), rng.uniform(3.5, 5.0, n))
    angle = rng.uniform(0, 2 * math.pi, n)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    X += rng.normal(0, noise * 2.5, X.shape)
    return X, inside.astype(np.float64)


def _xor(rng: np.random.Generator, n: int, noise: float) -> Tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(-5, 5, (n, 2))
    X += np.where(X >= 0, 0.3, -0.3)  # a margin around the axes
    labels = (X[:, 0] * X[:, 1] >= 0).astype(np.float64)
    return X + rng.normal(0, noise * 2.5, X.shape), labels


def _gaussians(rng: np.random.Generator, n: int, noise: float) -> Tuple[np.ndarray, np.ndarray]:
    positive = np.arange(n) < n // 2
    centres = np.where(positive[:, None], 2.0, -2.0)
    X = centres + rng.normal(0, 0.5 + noise * 3.0, (n, 2))
    return X, positive.astype(np.float64)


def _spiral(rng: np.random.Generator, n: int, noise: float) -> Tuple[np.ndarray, np.ndarray]:
    arm = (np.arange(n) >= n // 2).astype(np.float64)
    t = rng.uniform(0, 1, n)
    radius = 5.0 * t
    angle = 1.75 * 2 * math.pi * t + math.pi * arm
    X = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    return X + rng.normal(0, noise * 1.0, X.shape), 1.0 - arm


def _plane(rng: np.random.Generator, n: int, noise: float) -> Tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    y = (X[:, 0] + X[:, 1]) / 12.0  # in [−1, 1]
    return X, y + rng.normal(0, noise, n)


def _gaussian_bumps(rng: np.random.Generator, n: int, noise: float) -> Tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    centres = np.array([[-4, 2.5], [0, 2.5], [4, 2.5], [-4, -2.5], [0, -2.5], [4, -2.5]])
    signs = np.array([-1, 1, -1, 1, -1, 1])
    squared = ((X[:, None, :] - centres[None]) ** 2).sum(axis=2)
    y = (signs * np.exp(-squared / 2.0)).sum(axis=1)
    return X, y + rng.normal(0, noise, n)


#: name → (generator, classification?, label for the page)
GENERATORS: Dict[str, Tuple[Callable, bool, str]] = {
    "circle": (_circle, True, "Circle"),
    "xor": (_xor, True, "Exclusive or"),
    "gaussians": (_gaussians, True, "Two Gaussians"),
    "spiral": (_spiral, True, "Spiral"),
    "plane": (_plane, False, "Plane (regression)"),
    "bumps": (_gaussian_bumps, False, "Gaussian bumps (regression)"),
}


def make_data(name: str, n: int, noise: float, seed: int) -> DataSet:
    """`n` points of the data set `name` with noise in [0, 0.5], from `seed`."""
    if name not in GENERATORS:
        raise PlaygroundDataError(f"unknown data set {name!r}; choose one of {', '.join(GENERATORS)}")
    generate, classification, _ = GENERATORS[name]
    X, y = generate(np.random.default_rng(seed), n, noise)
    return DataSet(np.clip(X, -DOMAIN, DOMAIN), y, classification)


def read_upload(text: str) -> DataSet:
    """A data set from CSV text: columns x₁, x₂ and a target (a header row is optional; `,` `;` tab
    or space between values; decimal commas in `;`-separated files).

    A target of two distinct values is a classification (the smaller is class 0), any other a
    regression. The inputs are rescaled, each on its own, onto [−5, 5] so they fill the plot.
    """
    if len(text) > MAX_UPLOAD_BYTES:
        raise PlaygroundDataError(f"the file is {len(text):,} bytes; the playground takes up to "
                                  f"{MAX_UPLOAD_BYTES:,} (about {MAX_UPLOAD_ROWS:,} rows)")
    text = text.removeprefix("\ufeff")  # the byte-order mark spreadsheet programs write first
    delimiter = _delimiter(text)
    # ';'-separated files from spreadsheets in many locales write decimal commas: 3,14
    decimal_comma = delimiter == ";"
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
        rows = [row for row in reader if any(c.strip() for c in row)]
    except csv.Error as error:
        raise PlaygroundDataError(f"not a CSV file the playground can read: {error}") from None
    if rows and not _numbers([cell.replace(",", ".") for cell in rows[0]] if decimal_comma else rows[0]):
        rows = rows[1:]  # a header
    if len(rows) < 4:
        raise PlaygroundDataError(f"the file has {len(rows)} rows of data; the playground needs at least 4, "
                                  "each 'x1,x2,target'")
    if len(rows) > MAX_UPLOAD_ROWS:
        raise PlaygroundDataError(f"the file has {len(rows):,} rows; the playground takes up to {MAX_UPLOAD_ROWS:,}")
    values = np.empty((len(rows), 3))
    for i, row in enumerate(rows):
        cells = [cell.strip() for cell in row if cell.strip() != ""]
        if len(cells) != 3:
            raise PlaygroundDataError(f"row {i + 1} has {len(cells)} values ({', '.join(cells)[:60]}); each row "
                                      "needs 3: x1, x2 and the target")
        numbers = _numbers([cell.replace(",", ".") for cell in cells] if decimal_comma else cells)
        if numbers is None:
            raise PlaygroundDataError(f"row {i + 1} holds something that is not a number: {', '.join(cells)[:60]}")
        values[i] = numbers
    if not np.isfinite(values).all():
        raise PlaygroundDataError("the file holds NaN or infinite values")
    X, y = values[:, :2], values[:, 2]
    low, high = X.min(axis=0), X.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    X = (X - low) / span * 10.0 - 5.0
    classes = np.unique(y)
    if classes.size == 2:
        return DataSet(X, (y == classes[1]).astype(np.float64), True)
    if classes.size < 2:
        raise PlaygroundDataError("every row has the same target: there is nothing to learn")
    return DataSet(X, y, False)


def _delimiter(text: str) -> str:
    """The one of `;` tab `,` space that splits the most of the first 50 lines into three values
    (`;` first on a tie: its files may hold decimal commas)."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    splits = {";": lambda line: line.count(";") == 2, "\t": lambda line: line.count("\t") == 2,
              ",": lambda line: line.count(",") == 2, " ": lambda line: len(line.split()) == 3}
    return max(splits, key=lambda delimiter: sum(map(splits[delimiter], lines)))


def _numbers(cells: Sequence[str]):
    try:
        return [float(cell) for cell in cells]
    except ValueError:
        return None


def split(data: DataSet, train_fraction: float, seed: int) -> Tuple[DataSet, DataSet]:
    """A random split into training and test points (at least one of each)."""
    order = np.random.default_rng(seed + 1).permutation(data.X.shape[0])
    n_train = min(max(int(round(train_fraction * order.size)), 1), order.size - 1)
    part = lambda rows: DataSet(data.X[rows], data.y[rows], data.classification)  # noqa: E731
    return part(order[:n_train]), part(order[n_train:])


#: The input features the page offers: name → (label, function of the points).
FEATURES: Dict[str, Tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "x1": ("x₁", lambda X: X[:, 0]),
    "x2": ("x₂", lambda X: X[:, 1]),
    "x1_squared": ("x₁²", lambda X: X[:, 0] ** 2),
    "x2_squared": ("x₂²", lambda X: X[:, 1] ** 2),
    "x1_x2": ("x₁x₂", lambda X: X[:, 0] * X[:, 1]),
    "sin_x1": ("sin(x₁)", lambda X: np.sin(X[:, 0])),
    "sin_x2": ("sin(x₂)", lambda X: np.sin(X[:, 1])),
}


def check_features(names: Sequence[str]) -> List[str]:
    """The chosen feature names in the page's order; at least one, each known."""
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise PlaygroundDataError(f"unknown input features {unknown}; choose from {', '.join(FEATURES)}")
    chosen = [name for name in FEATURES if name in set(names)]
    if not chosen:
        raise PlaygroundDataError("choose at least one input feature")
    return chosen


def features_of(points: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The network's input a⁽⁰⁾ for each point: the chosen features, in float32 and C order."""
    return np.ascontiguousarray(np.column_stack([FEATURES[name][1](points) for name in names]), dtype=np.float32)
