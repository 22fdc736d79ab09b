"""bfloat16's accuracy on a real data set larger than digits: `python -m bench.bfloat16_accuracy`.

Fashion-MNIST (70,000 images of 28×28 pixels, 10 classes; Xiao, Rasul and Vollgraf 2017), read
from its four IDX files: Debian's package ``dataset-fashion-mnist`` puts them in
``/usr/share/datasets/fashion-mnist`` (the default here), or pass ``--data DIR`` holding
``train-images-idx3-ubyte.gz`` and the three others (gzipped or not). Nothing is downloaded.

For each seed, the same 784-256-256-10 ReLU network (pixels scaled to [0, 1]) trains with Adam at
batch 128 for a fixed number of epochs in float32 and in ``dtype="bfloat16"``, from the same
initial weights and sample order; the test set's accuracy of each is reported, and their mean
difference. Goal (issue 14): bfloat16 within 0.005 of float32's accuracy.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

import fnn

DEFAULT_DATA = Path("/usr/share/datasets/fashion-mnist")
GOAL = 0.005


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's format: zero bytes, a type code, the number of dimensions, their
    sizes as big-endian int32, then the data), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[:2] != b"\0\0":
        raise ValueError(f"{path}: not an IDX file (it must start with two zero bytes)")
    types = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in types:
        raise ValueError(f"{path}: unknown IDX type code 0x{raw[2]:02x}")
    dims = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=dims, offset=4))
    data = np.frombuffer(raw, types[raw[2]], offset=4 + 4 * dims)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {data.size} values for the shape {shape}")
    return data.reshape(shape)


def find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (folder / name).exists():
            return folder / name
    raise SystemExit(f"{folder}: no {stem}(.gz); install Debian's dataset-fashion-mnist or pass --data DIR")


def load(folder: Path) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train, X_test, y_test), pixels as float32 in [0, 1]."""
    parts = []
    for kind in ("train", "t10k"):
        images = read_idx(find(folder, f"{kind}-images-idx3-ubyte"))
        labels = read_idx(find(folder, f"{kind}-labels-idx1-ubyte"))
        if len(images) != len(labels):
            raise SystemExit(f"{folder}: {len(images)} {kind} images but {len(labels)} labels")
        parts += [images.reshape(len(images), -1).astype(np.float32) / 255, labels.astype(np.int64)]
    return tuple(parts)


def run(folder: Path, seeds: List[int], epochs: int, batch: int, threads: int, log=print) -> Dict:
    if not fnn.bfloat16_available():
        raise SystemExit("bfloat16 is not available here (fnn.bfloat16_available() is False)")
    X, y, X_test, y_test = load(folder)
    log(f"Fashion-MNIST from {folder}: {len(X)} training and {len(X_test)} test images")
    rows = []
    for seed in seeds:
        start = fnn.Network([X.shape[1], 256, 256, 10], "relu", "softmax", seed=seed, n_threads=threads)
        row = {"seed": seed}
        for dtype in ("float32", "bfloat16"):
            net = start.astype(dtype)
            began = time.perf_counter()
            net.fit(X, y, optimiser="adam", learning_rate=1e-3, batch_size=batch, max_epochs=epochs,
                    validation_fraction=0)
            row[f"{dtype}_seconds"] = time.perf_counter() - began
            row[dtype] = float(np.mean(net.predict(X_test) == y_test))
        row["difference"] = row["bfloat16"] - row["float32"]
        log(f"  seed {seed}: float32 {row['float32']:.4f} ({row['float32_seconds']:.1f} s), bfloat16 "
            f"{row['bfloat16']:.4f} ({row['bfloat16_seconds']:.1f} s), difference {row['difference']:+.4f}")
        rows.append(row)
    mean = statistics.mean(r["difference"] for r in rows)
    met = abs(mean) <= GOAL
    differences = [r["difference"] for r in rows]
    accuracies = [r["float32"] for r in rows]
    log(f"mean difference {mean:+.4f} (goal: within {GOAL}): {'met' if met else 'missed'}; per seed "
        f"{min(differences):+.4f} … {max(differences):+.4f}, float32's own accuracies {min(accuracies):.4f} … "
        f"{max(accuracies):.4f}")
    return {"rows": rows, "mean_difference": mean, "met": met}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bfloat16_accuracy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the four IDX files")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=fnn.network.default_threads())
    args = parser.parse_args(argv)
    result = run(args.data, args.seeds, args.epochs, args.batch, args.threads)
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
