"""The chapter beside the page: the equations the current network computes, and Algorithm 4.1.

Written in the chapter's notation and numbering (section 4.3's forward pass, 4.4's
backpropagation), with the current network's sizes and activations filled in, so a reader sees
which formula each drawn layer is.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ..network import Network

_ACTIVATION_FORMULAS = {
    "logistic": ("σ", "(4.4)"), "tanh": ("tanh", "(4.5)"), "hard_logistic": ("hard-logistic", "(4.11)"),
    "hard_tanh": ("hard-tanh", "(4.15)"), "relu": ("ReLU", "(4.17)"), "leaky_relu": ("LeakyReLU", "(4.19)"),
    "prelu": ("PReLU", "(4.22)"), "elu": ("ELU", "(4.24)"), "softplus": ("softplus", "(4.25)"),
    "maxout": ("maxout", "(4.26)–(4.27)"), "identity": ("identity", ""),
}
_OUTPUTS = {
    "logistic": ("ŷ = σ(z⁽ᴸ⁾) = p(y = 1 | x)", "(4.36)",
                 "L = −y log ŷ − (1 − y) log(1 − ŷ)", "(4.38), two classes"),
    "softmax": ("ŷ = softmax(z⁽ᴸ⁾)", "(4.37)", "L = −yᵀ log ŷ", "(4.38)"),
    "identity": ("ŷ = z⁽ᴸ⁾ (regression)", "", "L = ½‖y − ŷ‖²", ""),
}

#: Algorithm 4.1 as the chapter numbers its lines.
ALGORITHM_4_1 = [
    (1, "randomly initialise W, b"),
    (2, "repeat"),
    (3, "  shuffle the training set 𝒟"),
    (4, "  for n = 1 … N do"),
    (5, "    take the sample (x⁽ⁿ⁾, y⁽ⁿ⁾)"),
    (6, "    forward: z⁽ˡ⁾ and a⁽ˡ⁾ of every layer, up to the last  (4.28)–(4.29)"),
    (7, "    backward: δ⁽ˡ⁾ of every layer  (4.59)"),
    (8, "    ∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ  (4.61)"),
    (9, "    ∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾  (4.62)"),
    (10, "    W⁽ˡ⁾ ← W⁽ˡ⁾ − α(δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ + λW⁽ˡ⁾)"),
    (11, "    b⁽ˡ⁾ ← b⁽ˡ⁾ − αδ⁽ˡ⁾"),
    (12, "  end"),
    (13, "until the error rate on the validation set 𝒱 stops falling"),
]


def equations(network: Network, optimiser: str, l2: float) -> Dict[str, Any]:
    """The forward equations, loss, backpropagation and Algorithm 4.1 for `network`, as text rows
    ``[formula, equation number, remark]``, with the algorithm's lines and what differs from it."""
    widths, L = network.widths, network.n_layers
    forward: List[List[str]] = [["a⁽⁰⁾ = x", "", f"the {widths[0]} chosen input features"]]
    for l in range(1, L + 1):
        f = network.layer_activation(l)
        pieces = f"×{f.pieces} pieces" if f.pieces > 1 else ""
        forward.append([f"z⁽{_sup(l)}⁾ = W⁽{_sup(l)}⁾a⁽{_sup(l - 1)}⁾ + b⁽{_sup(l)}⁾", "(4.28)",
                        f"W⁽{_sup(l)}⁾ ∈ ℝ^{widths[l]}×{widths[l - 1]}{pieces}, b⁽{_sup(l)}⁾ ∈ ℝ^{widths[l]}"])
        if l < L:
            name, number = _ACTIVATION_FORMULAS[f.name]
            forward.append([f"a⁽{_sup(l)}⁾ = {name}(z⁽{_sup(l)}⁾)", "(4.29) " + number, f"hidden layer {l}"])
    output, output_number, loss, loss_number = _OUTPUTS[network.output]
    forward.append([output, output_number, "the output layer"])
    risk = "R = (1/N) Σₙ L(y⁽ⁿ⁾, ŷ⁽ⁿ⁾)" + (f" + ½·{l2:g}·‖W‖²_F" if l2 > 0 else "")
    backward = [
        [loss, loss_number, "the loss of one sample"],
        [risk, "(4.39)–(4.40)", "the risk (λ = " + f"{l2:g}" + "; biases are not penalised)"],
        ["δ⁽ᴸ⁾ = ŷ − y", "", "the output layer's error term, for this output and loss"],
        ["δ⁽ˡ⁾ = f′ₗ(z⁽ˡ⁾) ⊙ (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾", "(4.59)", f"for l = {L - 1} … 1" if L > 1 else "no hidden layer"],
        ["∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ,  ∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾", "(4.61)–(4.62)", ""],
    ]
    if optimiser == "sgd":
        rule = "lines 10–11 as written (mini-batches average the gradients, (4.43)–(4.45))"
    else:
        rule = (f"lines 10–11 use {optimiser}'s update instead of plain SGD (section 7.2 of the book; "
                "fnn.training.optimisers)")
    rule += "; ▶ Play never stops by itself: line 13's test is yours, watching the test loss"
    return {"forward": forward, "backward": backward, "algorithm": ALGORITHM_4_1, "update_rule": rule}


_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _sup(number: int) -> str:
    return str(number).translate(_SUPERSCRIPTS)
