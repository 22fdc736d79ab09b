"""The five benchmark workloads of issue 3: float32, ReLU hidden layers, softmax + cross-entropy,
SGD with λ = 1e-4 and α = 0.01."""

from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

LEARNING_RATE = 0.01
L2 = 1e-4


@dataclass(frozen=True)
class Workload:
    id: str
    widths: List[int]
    batch: int
    samples: int  # samples per timed fnn epoch
    baseline_samples: int  # samples per timed epoch of the (slower) baselines
    goals: Dict[str, float] = field(default_factory=dict)  # baseline name → speed-up fnn must reach

    @property
    def parameters(self) -> int:
        return sum(m * n + m for n, m in zip(self.widths[:-1], self.widths[1:]))

    @property
    def flops_per_sample(self) -> float:
        """6·P: 2·P forward, 2·P for Wᵀδ, 2·P for the update (DESIGN.md §5)."""
        return 6.0 * self.parameters

    def label(self) -> str:
        return f"{self.id} {'-'.join(map(str, self.widths))} b{self.batch}"


WORKLOADS = [
    Workload("P1", [784, 128, 10], 1, 60000, 3000, {"numpy": 30}),
    Workload("P2", [64, 32, 10], 1, 400000, 20000, {"numpy": 110}),
    Workload("P3", [784, 256, 256, 10], 32, 40000, 8000, {"numpy": 2.3}),
    Workload("P4", [784, 256, 256, 10], 128, 40000, 8000, {"numpy": 2.3, "pytorch": 1.4}),
    Workload("P5", [784, 1024, 1024, 10], 256, 8192, 4096, {"numpy": 1.35}),
]


#: A digits-sized network (scikit-learn's 8×8 digits), per sample: small enough that a second
#: thread buys little, so a busy machine must not make it pay for one (bench.contended).
DIGITS = Workload("D", [64, 64, 10], 1, 200000, 20000)
#: Every workload, by id.
BY_ID = {w.id: w for w in WORKLOADS + [DIGITS]}


def scaled(workload: Workload, factor: float) -> Workload:
    """The same workload on fewer samples (and, below 0.01, narrower layers) for smoke tests."""
    widths = workload.widths if factor >= 0.01 else [max(2, w // 32) for w in workload.widths[:-1]] + [10]
    return Workload(workload.id, widths, workload.batch, max(2 * workload.batch, int(workload.samples * factor)),
                    max(2 * workload.batch, int(workload.baseline_samples * factor)), workload.goals)


def synthetic_data(workload: Workload, n: int, seed: int = 0):
    """Random inputs in [0, 1) and labels: throughput does not depend on what the data mean."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, workload.widths[0]), dtype=np.float32)
    y = rng.integers(0, workload.widths[-1], size=n)
    return X, y
