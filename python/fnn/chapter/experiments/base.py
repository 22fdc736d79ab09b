"""What an experiment is and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List


@dataclass
class Result:
    """An experiment's outcome: its figure, its key numbers and the lines it prints."""

    name: str
    figure: Path
    numbers: Dict[str, float]
    lines: List[str] = field(default_factory=list)

    def report(self) -> List[str]:
        return [f"experiment {self.name}", *self.lines, f"figure written to {self.figure}"]


@dataclass
class Experiment:
    name: str
    summary: str
    #: run(output PNG path, seed) -> Result
    run: Callable[[Path, int], Result]
