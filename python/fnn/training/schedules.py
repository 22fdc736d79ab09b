"""Learning-rate schedules: the step size α_e of each epoch e = 0, 1, … of a fit.

    constant     α
    invscaling   α / (t + 1)^power_t, t the samples trained on before the epoch (scikit-learn's)
    step         α · step_factor^⌊e / step_epochs⌋ (PyTorch's StepLR)
    cosine       α · ½(1 + cos(π e / max_epochs)) (PyTorch's CosineAnnealingLR, down to 0)
    adaptive     α, divided by 5 each time `patience` epochs in a row fail to improve the monitored
                 score (validation error, or the training loss without validation); training stops
                 once α would fall below 1e-6 (scikit-learn's "adaptive")

The schedule starts afresh at each call of fit (a warm start or a partial_fit is a new call).
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "invscaling", "step", "cosine", "adaptive")

#: scikit-learn's floor: an adaptive rate that would go below this ends training.
ADAPTIVE_FLOOR = 1e-6


class Schedule:
    """The learning rate of each epoch of one fit, from the checked TrainingSettings `s`."""

    def __init__(self, s):
        self.settings = s
        self.adaptive_rate = s.learning_rate

    def rate(self, epoch: int, samples_seen: int) -> float:
        s = self.settings
        if s.schedule == "invscaling":
            return s.learning_rate / (samples_seen + 1) ** s.power_t
        if s.schedule == "step":
            return s.learning_rate * s.step_factor ** (epoch // s.step_epochs)
        if s.schedule == "cosine":
            return s.learning_rate * 0.5 * (1.0 + math.cos(math.pi * epoch / s.max_epochs))
        if s.schedule == "adaptive":
            return self.adaptive_rate
        return s.learning_rate

    def plateau(self) -> bool:
        """Called when `patience` epochs went without improvement: True if training goes on
        (adaptive: with α / 5), False if it should stop."""
        if self.settings.schedule != "adaptive" or self.adaptive_rate / 5 < ADAPTIVE_FLOOR:
            return False
        self.adaptive_rate /= 5
        return True
