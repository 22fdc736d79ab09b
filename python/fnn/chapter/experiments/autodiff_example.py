"""Automatic differentiation of f(x; w, b) = 1/(exp(−(wx + b)) + 1) (4.67) at x = 1, w = 0,
b = 0: the computational graph of figure 4.7, table 4.1, and both modes' accumulation orders."""

from __future__ import annotations

from pathlib import Path

from ..autodiff import chapter_example
from ..plots import new_figure, save_figure
from .base import Experiment, Result


def run(output: Path, seed: int) -> Result:
    graph, x, w, b, f = chapter_example()
    forward_w, forward_b = graph.forward(f, w), graph.forward(f, b)
    reverse = graph.reverse(f)
    numbers = {"forward_df_dw": forward_w.derivative, "forward_df_db": forward_b.derivative,
               "reverse_df_dw": reverse.gradient[w], "reverse_df_db": reverse.gradient[b],
               "reverse_df_dx": reverse.gradient[x], "f": f.value}
    lines = ["table 4.1:", *("  " + row for row in graph.table().splitlines()),
             "forward mode, ∂f/∂w (4.73)-(4.78):", *("  " + s for s in forward_w.steps),
             "reverse mode, one pass for every variable (4.79)-(4.83):", *("  " + s for s in reverse.steps),
             f"∂f/∂w = {reverse.gradient[w]:g}, ∂f/∂b = {reverse.gradient[b]:g} in both modes"]

    # Figure 4.7: the graph, values on the edges, local derivatives beside them.
    figure = new_figure(11, 3.2)
    axis = figure.add_subplot()
    axis.set_axis_off()
    position = {"x": (0, 1), "w": (0, 0), "h1": (1, 0.5), "b": (1, -0.5), "h2": (2, 0), "h3": (3, 0), "h4": (4, 0),
                "h5": (5, 0), "h6": (6, 0)}
    for node in graph.nodes:
        if node.kind == "constant":
            continue
        px, py = position[node.name]
        label = node.name if node.kind == "variable" else f"{node.name}\n{node.formula}"
        axis.annotate(label, (px, py), ha="center", va="center", fontsize=9,
                      bbox=dict(boxstyle="circle" if node.kind == "variable" else "round", fc="white", ec="black"))
        for source, local in zip(node.inputs, node.local):
            if source.kind == "constant":
                continue
            sx, sy = position[source.name]
            axis.annotate("", (px - 0.25, py), (sx + 0.2, sy), arrowprops=dict(arrowstyle="->", color="grey"))
            axis.text((sx + px) / 2, (sy + py) / 2 + 0.12, f"{source.value:g}", color="red", ha="center", fontsize=9)
            axis.text((sx + px) / 2, (sy + py) / 2 - 0.22, f"∂={local:g}", color="tab:blue", ha="center", fontsize=8)
    axis.annotate(f"f = {f.value:g}", (7, 0), ha="center", va="center", fontsize=10)
    axis.annotate("", (6.7, 0), (6.3, 0), arrowprops=dict(arrowstyle="->", color="grey"))
    axis.set_xlim(-0.5, 7.5)
    axis.set_ylim(-1, 1.4)
    axis.set_title("Computational graph of f(x; w, b) at x=1, w=0, b=0 (fig. 4.7): values in red, local "
                   "derivatives in blue; ∂f/∂w = ∂f/∂b = 0.25", fontsize=10)
    return Result("autodiff", save_figure(figure, output), numbers, lines)


EXPERIMENT = Experiment("autodiff", "the graph of σ(wx+b), table 4.1, forward and reverse mode: ∂f/∂w = 0.25 "
                                    "(4.67)-(4.83)",
                        run)
