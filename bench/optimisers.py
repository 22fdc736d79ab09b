"""Optimisers side by side: `python -m bench.optimisers` (or `python -m bench.run --optimisers`).

For every optimiser of fnn.training.optimisers and the workloads of bench/workloads.py, training samples/s
of fnn and of PyTorch's torch.optim on the same network (float32, ReLU, softmax, λ = 1e-4 on the
weights only), each timing in a fresh process, the two taking turns for `rounds` rounds (median).
Before timing, each pair trains one epoch from the same weights in the same sample order and must
end with the same weights, in float64 (relative difference below 1e-6 of the largest weight: in
float32, Adam's and AdaGrad's normalised steps turn the rounding of a gradient near 0 into a step
of ±α, so float32 runs of two libraries differ visibly). The goals are issue 12's: Adam and
momentum at batch 1 at least 0.7× fnn's own SGD and 100× PyTorch; at batch 128 and 256 at least
0.95× fnn's SGD and 1.3× PyTorch."""

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

import fnn
from fnn.training.optimisers import OPTIMISERS

from .measure import make_network, median_rate, numpy_params
from .workloads import BY_ID, L2, WORKLOADS, Workload, scaled, synthetic_data

#: α of each rule: throughput does not depend on it, as long as training does not diverge.
LEARNING_RATE = {"sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adam": 0.001, "adamw": 0.001, "adagrad": 0.01,
                 "rmsprop": 0.001}
HYPER = {"momentum": 0.9, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8}
RESULTS = Path(__file__).resolve().parent / "results"


def torch_model(name: str, weights, biases, threads: int):
    """nn.Linear layers with the given weights (and their dtype), and the torch.optim rule that
    computes `name`."""
    import torch

    torch.set_num_threads(threads)
    layers = []
    for W, b in zip(weights, biases):
        layer = torch.nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64 if W.dtype == np.float64 else None)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(W))
            layer.bias.copy_(torch.from_numpy(b))
        layers.append(layer)
    model = torch.nn.Sequential(*sum(([layer, torch.nn.ReLU()] for layer in layers), [])[:-1])
    groups = [{"params": [layer.weight for layer in layers], "weight_decay": L2},
              {"params": [layer.bias for layer in layers], "weight_decay": 0.0}]
    lr, betas, eps = LEARNING_RATE[name], (HYPER["beta_1"], HYPER["beta_2"]), HYPER["epsilon"]
    optimiser = {
        "sgd": lambda: torch.optim.SGD(groups, lr=lr),
        "momentum": lambda: torch.optim.SGD(groups, lr=lr, momentum=HYPER["momentum"]),
        "nesterov": lambda: torch.optim.SGD(groups, lr=lr, momentum=HYPER["momentum"], nesterov=True),
        "adam": lambda: torch.optim.Adam(groups, lr=lr, betas=betas, eps=eps),
        "adamw": lambda: torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps),
        "adagrad": lambda: torch.optim.Adagrad(groups, lr=lr, eps=eps),
        "rmsprop": lambda: torch.optim.RMSprop(groups, lr=lr, alpha=HYPER["beta_2"], eps=eps),
    }[name]()
    loss = torch.nn.CrossEntropyLoss()

    def train_epoch(X, y, order, batch):
        X_t, y_t, order_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64)), torch.from_numpy(order)
        for start in range(0, len(order), batch):
            rows = order_t[start:start + batch]
            optimiser.zero_grad(set_to_none=True)
            loss(model(X_t[rows]), y_t[rows]).backward()
            optimiser.step()

    return train_epoch, layers


def fnn_trainer(net: fnn.Network, name: str, X, y, batch: int):
    """One epoch over `order` as Network.fit runs it: the engine call with the optimiser's state."""
    from fnn._engine import core
    from fnn.training.optimisers import OptimiserState

    engine, targets = net._core(), net._targets(y, X.shape[0])
    state = OptimiserState(name, net._parameters)
    first, second = state.lists(net._parameters)
    threads = net.n_threads

    settings = core.OptimiserSettings(kind=getattr(core.Optimiser, name), learning_rate=LEARNING_RATE[name], l2=L2,
                                      batch_size=batch, momentum=HYPER["momentum"], beta1=HYPER["beta_1"],
                                      beta2=HYPER["beta_2"], epsilon=HYPER["epsilon"])

    def run(order):
        result = engine.train_epoch(X, targets, order, settings, threads, None, first, second, state.arrays["step"])
        assert not result.diverged

    return run


def check_same_epoch(workload: Workload, name: str, threads: int, n: int = 256) -> float:
    """Largest weight difference between fnn and torch.optim after one float64 epoch from the same
    weights, relative to the largest weight; AssertionError beyond 1e-6."""
    X, y = synthetic_data(workload, n, seed=2)
    X = X.astype(np.float64)
    net = make_network(workload, threads, "float64")
    weights, biases = numpy_params(net)
    torch_epoch, layers = torch_model(name, weights, biases, threads)
    order = np.random.default_rng(3).permutation(n)
    fnn_trainer(net, name, X, y, workload.batch)(order)
    torch_epoch(X, y, order, workload.batch)
    worst = 0.0
    for l, layer in enumerate(layers, start=1):
        W = net.parameters()[f"weights_{l}"]
        diff = float(np.abs(W - layer.weight.detach().numpy()).max()) / float(np.abs(W).max())
        assert diff < 1e-6, f"{workload.id} {name}: fnn and torch.optim differ by {diff:.2e} in weights_{l}"
        worst = max(worst, diff)
    return worst


def time_one(kind: str, name: str, workload: Workload, threads: int, repeats: int) -> float:
    if kind == "fnn":
        X, y = synthetic_data(workload, workload.samples)
        net = make_network(workload, threads)
        return median_rate(fnn_trainer(net, name, X, y, workload.batch), workload.samples, repeats)
    X, y = synthetic_data(workload, workload.baseline_samples)
    torch_epoch, _ = torch_model(name, *numpy_params(make_network(workload, 1)), threads)
    return median_rate(lambda order: torch_epoch(X, y, order, workload.batch), workload.baseline_samples, repeats)


def isolated(kind: str, name: str, workload: Workload, scale: float, threads: int, repeats: int) -> float:
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "bench.optimisers", "--time", kind, name, workload.id, str(scale), str(threads),
               str(repeats)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
    return float(result.stdout.split()[-1])


def goals(workload: Workload, name: str) -> Dict[str, float]:
    """Issue 12's goals for this optimiser and batch size: ratio to fnn's SGD, ratio to PyTorch."""
    if name not in ("adam", "momentum"):
        return {}
    if workload.batch == 1:
        return {"sgd": 0.7, "pytorch": 100.0}
    if workload.batch >= 128:
        return {"sgd": 0.95, "pytorch": 1.3}
    return {}


def run(workloads: List[Workload], names: List[str], threads: int, repeats: int, rounds: int, scale: float,
        out: Optional[Path], log=print) -> str:
    from .environment import describe

    lines = [f"Float32, {threads} threads, training samples/s, median of {rounds} rounds of fresh processes taking "
             f"turns (each the median of {repeats} epochs); {describe()}; PyTorch {_torch_version()}.", "",
             "| workload | optimiser | fnn | fnn ÷ fnn SGD | PyTorch | fnn ÷ PyTorch | goals | met |",
             "|---|---|---|---|---|---|---|---|"]
    for w in workloads:
        sgd_rate = None
        for name in ["sgd"] + [n for n in names if n != "sgd"]:
            check_same_epoch(w, name, threads)
            samples = {"fnn": [], "pytorch": []}
            for _ in range(rounds):
                for kind in samples:
                    samples[kind].append(isolated(kind, name, w, scale, threads, repeats))
            rate, theirs = statistics.median(samples["fnn"]), statistics.median(samples["pytorch"])
            if name == "sgd":
                sgd_rate = rate
            if name not in names:
                continue
            ratios = {"sgd": rate / sgd_rate, "pytorch": rate / theirs}
            wanted = goals(w, name)
            met = ", ".join("yes" if ratios[k] >= g else "no" for k, g in wanted.items()) or "–"
            wanted_text = ", ".join(f"≥ {g:g}× {'fnn SGD' if k == 'sgd' else 'PyTorch'}" for k, g in wanted.items())
            line = (f"| {w.label()} | {name} | {_rate(rate)} | {ratios['sgd']:.2f}× | {_rate(theirs)} | "
                    f"{ratios['pytorch']:.1f}× | {wanted_text or '–'} | {met} |")
            log(line)
            lines.append(line)
    text = "\n".join(lines) + "\n"
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "optimisers.md").write_text(text)
    return text


def _rate(rate: float) -> str:
    return f"{rate / 1e6:.2f}M" if rate >= 1e6 else f"{rate / 1e3:.1f}k"


def _torch_version() -> str:
    import torch

    return torch.__version__


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--time"]:
        kind, name, workload_id, scale, threads, repeats = argv[1:]
        workload = BY_ID[workload_id] if float(scale) == 1 else scaled(BY_ID[workload_id], float(scale))
        print(time_one(kind, name, workload, int(threads), int(repeats)))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.optimisers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=fnn.network.default_threads())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="workload ids, e.g. P1 P4")
    parser.add_argument("--optimisers", nargs="*", default=[n for n in OPTIMISERS if n != "sgd"],
                        choices=OPTIMISERS)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        parser.error("PyTorch is not installed: pip install torch")
    workloads = [scaled(w, args.scale) if args.scale != 1 else w for w in WORKLOADS
                 if not args.only or w.id in args.only]
    run(workloads, args.optimisers, args.threads, args.repeats, args.rounds, args.scale, args.out)
    return 0


if __name__ == "__main__":
    from bench.environment import restart_without_overrides

    restart_without_overrides("bench.optimisers")
    sys.exit(main())
