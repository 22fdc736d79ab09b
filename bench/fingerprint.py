"""Hashes of the weights after training in 1,848 configurations, for a kernel change that must not
change any result: `python -m bench.fingerprint BEFORE.json` on the old build, `python -m
bench.fingerprint AFTER.json` on the new, then `python -m bench.fingerprint --compare BEFORE.json
AFTER.json` (exit status 1 and the differing configurations if any differ).

The configurations cover both training kernels' paths: float32 and float64; seven activations
(ReLU, tanh, PReLU per unit and shared, maxout, ELU, softplus); eleven optimiser set-ups (plain
SGD without and with weight decay, lazy and not, momentum, Nesterov, Adam, AdamW, AdaGrad, RMSprop,
clipping with and without an optimiser); batch 1, 32 and 200 on 1 and 2 threads; long steps cut
into blocks; sample weights; a mid-epoch hand-over to one thread; bfloat16 products where the CPU
and oneDNN allow. Each hash covers every parameter and the training risk of each epoch.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys

import numpy as np

import fnn

ACTIVATIONS = ["relu", "tanh", fnn.PReLU(), fnn.PReLU(shared=True), fnn.Maxout(3), fnn.ELU(), "softplus"]
OPTIMISERS = [dict(optimiser="sgd", l2=0.0), dict(optimiser="sgd", l2=1e-3),
              dict(optimiser="sgd", l2=12.0, learning_rate=0.05),  # αλ > ½: decay applied to W, not lazily
              dict(optimiser="momentum", l2=1e-3), dict(optimiser="nesterov"), dict(optimiser="adam", l2=1e-4),
              dict(optimiser="adamw", l2=1e-2), dict(optimiser="adagrad"), dict(optimiser="rmsprop"),
              dict(optimiser="adam", clip_norm=0.5), dict(optimiser="sgd", clip_norm=0.5)]
LEARNING_RATE = {"sgd": 0.05, "adagrad": 0.05, "momentum": 0.005, "nesterov": 0.005}


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(700, 20))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5), rng.random(700) + 0.1


def fingerprint(X, y, w, dtype, activation, threads, batch, optimiser, weighted=False, block_rows=None,
                switch_at=None, bfloat16=False) -> str:
    net = fnn.Network([20, 48, 40, 3], activation, dtype="bfloat16" if bfloat16 else dtype, seed=1,
                      n_threads=threads)
    if block_rows:
        net._core()._mini_batch_block_rows = block_rows
    if switch_at is not None:
        net._core()._switch_to_one_thread_at = switch_at
    settings = {"learning_rate": LEARNING_RATE.get(optimiser["optimiser"], 0.005), **optimiser}
    diverged = ""
    try:
        net.fit(X.astype(np.float32 if dtype == "float32" else np.float64), y, batch_size=batch, max_epochs=2,
                validation_fraction=0.1, sample_weight=w if weighted else None, **settings)
    except fnn.TrainingDiverged:
        diverged = "/diverged"
    digest = hashlib.sha256()
    for _, array in sorted(net.parameters().items()):
        digest.update(array.tobytes())
    digest.update(np.asarray(net.history_.train_risk).tobytes())
    return digest.hexdigest()[:16] + diverged


def fingerprints() -> dict:
    X, y, w = data()
    out = {}
    for dtype, act, threads, batch, (i, opt) in itertools.product(["float32", "float64"], ACTIVATIONS, [1, 2],
                                                                  [1, 32, 200], enumerate(OPTIMISERS)):
        out[f"{dtype}/{act}/{threads}/{batch}/{i}"] = fingerprint(X, y, w, dtype, act, threads, batch, opt)
    for dtype, act, (i, opt) in itertools.product(["float32", "float64"], ACTIVATIONS, enumerate(OPTIMISERS)):
        out[f"long/{dtype}/{act}/{i}"] = fingerprint(X, y, w, dtype, act, 2, 200, opt, block_rows=64)
        out[f"weighted/{dtype}/{act}/{i}"] = fingerprint(X, y, w, dtype, act, 2, 32, opt, weighted=True)
        out[f"single/{dtype}/{act}/{i}"] = fingerprint(X, y, w, dtype, act, 2, 32, opt, switch_at=3)
        out[f"single1/{dtype}/{act}/{i}"] = fingerprint(X, y, w, dtype, act, 2, 1, opt, switch_at=50)
    if fnn.bfloat16_available():
        for act, (i, opt), threads in itertools.product(ACTIVATIONS, enumerate(OPTIMISERS), [1, 2]):
            out[f"bf16/{act}/{threads}/{i}"] = fingerprint(X, y, w, "float32", act, threads, 32, opt, bfloat16=True)
            out[f"bf16long/{act}/{threads}/{i}"] = fingerprint(X, y, w, "float32", act, threads, 200, opt,
                                                               block_rows=64, bfloat16=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="OUT.json, or with --compare two of them")
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args(argv)
    if args.compare:
        before, after = (json.load(open(path)) for path in args.files)
        differ = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
        print(f"{len(before)} and {len(after)} configurations; {len(differ)} differ" +
              (": " + ", ".join(differ[:20]) if differ else ""))
        return 1 if differ else 0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (divergent set-ups warn; they are fingerprinted all the same)
        result = fingerprints()
    with open(args.files[0], "w") as stream:
        json.dump(result, stream, indent=0, sort_keys=True)
    print(f"{len(result)} configurations written to {args.files[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
