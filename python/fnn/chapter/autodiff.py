"""Automatic differentiation on a computational graph of scalars (section 4.5.3).

Arithmetic on :class:`Node` objects records a graph: each operation is an elementary function
hᵢ of its inputs, with its value and its local derivatives ∂hᵢ/∂input computed on the spot
(table 4.1). The derivative of the output with respect to any variable is then the sum over
paths of the products of local derivatives (4.68)-(4.69), accumulated either

- in **forward mode** (4.73)-(4.78): in the direction of computation, one pass per input
  variable, carrying ∂hᵢ/∂w for every node; or
- in **reverse mode** (4.79)-(4.83): against it, one pass per output, carrying ∂f/∂hᵢ for every
  node, which gives the gradient with respect to all variables at once. This is
  backpropagation.

The chapter's example::

    >>> from fnn.chapter import autodiff as ad
    >>> g = ad.Graph()
    >>> x, w, b = g.variable(1.0, "x"), g.variable(0.0, "w"), g.variable(0.0, "b")
    >>> f = 1 / (ad.exp(-(x * w + b)) + 1)
    >>> g.reverse(f).gradient[w], g.forward(f, b).derivative
    (0.25, 0.25)
    >>> print(g.table())            # table 4.1
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence, Tuple, Union

Number = Union[int, float]


def _format(value: float) -> str:
    """A value as the chapter writes it: 1, -0.25, 0.5 (at most 6 significant digits)."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


class Node:
    """One node of a computational graph: a variable, a constant or an elementary function hᵢ."""

    __slots__ = ("graph", "value", "name", "kind", "formula", "inputs", "local", "local_formula")

    def __init__(self, graph: "Graph", value: float, name: str, kind: str, formula: str = "",
                 inputs: Sequence["Node"] = (), local: Sequence[float] = (), local_formula: Sequence[str] = ()):
        self.graph = graph
        self.value = float(value)
        self.name = name
        self.kind = kind  # "variable", "constant" or "function"
        self.formula = formula
        self.inputs = tuple(inputs)
        self.local = tuple(float(d) for d in local)  # ∂self/∂inputs[i]
        self.local_formula = tuple(local_formula)

    def __repr__(self):
        return f"Node({self.name} = {_format(self.value)})"

    # Python arithmetic records elementary functions; plain numbers become constants.
    def __add__(self, other):
        return _add(self, other)

    def __radd__(self, other):
        return _add(other, self)

    def __sub__(self, other):
        return _sub(self, other)

    def __rsub__(self, other):
        return _sub(other, self)

    def __mul__(self, other):
        return _mul(self, other)

    def __rmul__(self, other):
        return _mul(other, self)

    def __truediv__(self, other):
        return _div(self, other)

    def __rtruediv__(self, other):
        return _div(other, self)

    def __neg__(self):
        # As table 4.1 writes it: h₃ = h₂ × −1.
        return _mul(self, -1)


class Graph:
    """A tape of nodes in the order they were computed (a topological order of the graph)."""

    def __init__(self):
        self.nodes: List[Node] = []
        self._functions = 0

    def variable(self, value: Number, name: str) -> Node:
        """An input variable (x) or parameter (w, b) with respect to which derivatives are taken."""
        return self._add(Node(self, value, name, "variable"))

    def constant(self, value: Number) -> Node:
        return self._add(Node(self, value, _format(float(value)), "constant"))

    def _add(self, node: Node) -> Node:
        self.nodes.append(node)
        return node

    def function(self, value: float, formula: str, inputs: Sequence[Node], local: Sequence[float],
                 local_formula: Sequence[str]) -> Node:
        """Record hᵢ = formula(inputs), of the given value and local derivatives."""
        self._functions += 1
        return self._add(Node(self, value, f"h{self._functions}", "function", formula, inputs, local, local_formula))

    # ------------------------------------------------------------------ the two modes

    def forward(self, output: Node, variable: Node) -> "ForwardResult":
        """Forward mode: ∂hᵢ/∂variable for every node in computation order (4.73)-(4.78)."""
        _check_variable(self, variable)
        tangent: Dict[Node, float] = {}
        steps: List[str] = []
        for node in self.nodes:
            if node.kind != "function":
                tangent[node] = 1.0 if node is variable else 0.0
                continue
            terms = [(src, d, text) for src, d, text in zip(node.inputs, node.local, node.local_formula)
                     if src.kind != "constant" and _depends(src, variable)]
            total = sum(d * tangent[src] for src, d, _ in terms)
            tangent[node] = total
            if not terms:
                continue
            lhs = f"∂{node.name}/∂{variable.name}"
            if len(terms) == 1 and terms[0][0] is variable:
                steps.append(f"{lhs} = {terms[0][2]} = {_format(total)}")
            else:
                chain = " + ".join(f"∂{node.name}/∂{src.name} · ∂{src.name}/∂{variable.name}" for src, _, _ in terms)
                numbers = " + ".join(f"{_format(d)} × {_format(tangent[src])}" for src, d, _ in terms)
                steps.append(f"{lhs} = {chain} = {numbers} = {_format(total)}")
        result = tangent.get(output, 0.0)
        steps.append(f"∂f/∂{variable.name} = ∂f/∂{output.name} · ∂{output.name}/∂{variable.name} = 1 × "
                     f"{_format(result)} = {_format(result)}")
        return ForwardResult(variable, result, tangent, steps)

    def reverse(self, output: Node) -> "ReverseResult":
        """Reverse mode: ∂f/∂hᵢ for every node, against computation order (4.79)-(4.83); one
        pass gives the derivative with respect to every variable."""
        adjoint: Dict[Node, float] = {node: 0.0 for node in self.nodes}
        adjoint[output] = 1.0
        steps = [f"∂f/∂{output.name} = 1"]
        contributions: Dict[Node, List[Tuple[Node, float]]] = {}
        position = {node: i for i, node in enumerate(self.nodes)}
        for node in reversed(self.nodes[:position[output] + 1]):
            if node is not output:
                terms = contributions.get(node, [])
                if node.kind == "constant" or not terms:
                    continue
                adjoint[node] = sum(adjoint[parent] * d for parent, d in terms)
                chain = " + ".join(f"∂f/∂{parent.name} · ∂{parent.name}/∂{node.name}" for parent, _ in terms)
                numbers = " + ".join(f"{_format(adjoint[parent])} × {_format(d)}" for parent, d in terms)
                steps.append(f"∂f/∂{node.name} = {chain} = {numbers} = {_format(adjoint[node])}")
            for src, d in zip(node.inputs, node.local):
                contributions.setdefault(src, []).append((node, d))
        gradient = {node: adjoint[node] for node in self.nodes if node.kind == "variable"}
        return ReverseResult(output, adjoint, gradient, steps)

    # ------------------------------------------------------------------ display

    def table(self) -> str:
        """Table 4.1: each elementary function and its local derivatives (formula = value)."""
        rows = []
        for node in self.nodes:
            if node.kind != "function":
                continue
            parts = [f"∂{node.name}/∂{src.name} = {text}" + ("" if text == _format(d) else f" = {_format(d)}")
                     for src, d, text in zip(node.inputs, node.local, node.local_formula) if src.kind != "constant"]
            rows.append((f"{node.name} = {node.formula}", f"= {_format(node.value)}", "    ".join(parts)))
        width = [max(len(r[i]) for r in rows) for i in range(2)] if rows else [0, 0]
        header = f"{'function':<{width[0]}} {'value':<{width[1]}}  local derivatives"
        return "\n".join([header] + [f"{a:<{width[0]}} {b:<{width[1]}}  {c}" for a, b, c in rows])


@dataclass
class ForwardResult:
    """Forward mode's result: ∂f/∂variable, the tangent of every node, and the steps as text."""

    variable: Node
    derivative: float
    tangent: Dict[Node, float]
    steps: List[str] = field(default_factory=list)


@dataclass
class ReverseResult:
    """Reverse mode's result: ∂f/∂node for every node, the gradient by variable, the steps."""

    output: Node
    adjoint: Dict[Node, float]
    gradient: Dict[Node, float]
    steps: List[str] = field(default_factory=list)


def _check_variable(graph: Graph, variable: Node) -> None:
    if not isinstance(variable, Node) or variable.graph is not graph or variable.kind != "variable":
        raise ValueError("derivatives are taken with respect to a variable of this graph (Graph.variable)")


def _depends(node: Node, variable: Node) -> bool:
    if node is variable:
        return True
    return any(_depends(src, variable) for src in node.inputs)


def _node(graph: Graph, value) -> Node:
    if isinstance(value, Node):
        if value.graph is not graph:
            raise ValueError("cannot combine nodes of different graphs")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"a graph combines nodes and numbers, not {type(value).__name__}")
    return graph.constant(value)


def _graph_of(*values) -> Graph:
    for v in values:
        if isinstance(v, Node):
            return v.graph
    raise TypeError("at least one operand must be a Node")


def _binary(a, b) -> Tuple[Graph, Node, Node]:
    graph = _graph_of(a, b)
    return graph, _node(graph, a), _node(graph, b)


def _add(a, b) -> Node:
    g, a, b = _binary(a, b)
    return g.function(a.value + b.value, f"{a.name} + {b.name}", (a, b), (1, 1), ("1", "1"))


def _sub(a, b) -> Node:
    g, a, b = _binary(a, b)
    return g.function(a.value - b.value, f"{a.name} - {b.name}", (a, b), (1, -1), ("1", "-1"))


def _mul(a, b) -> Node:
    g, a, b = _binary(a, b)
    return g.function(a.value * b.value, f"{a.name} × {b.name}", (a, b), (b.value, a.value), (b.name, a.name))


def _div(a, b) -> Node:
    g, a, b = _binary(a, b)
    if b.value == 0:
        raise ZeroDivisionError(f"{a.name} / {b.name} with {b.name} = 0")
    if a.kind == "constant" and a.value == 1:  # h = 1/u, as table 4.1 writes h₆ = 1/h₅
        return g.function(1 / b.value, f"1/{b.name}", (a, b), (0, -1 / b.value ** 2), ("0", f"-1/{b.name}²"))
    return g.function(a.value / b.value, f"{a.name} / {b.name}", (a, b), (1 / b.value, -a.value / b.value ** 2),
                      (f"1/{b.name}", f"-{a.name}/{b.name}²"))


def _unary(name: str, value: Callable[[float], float], derivative: Callable[[float, float], float],
           derivative_text: str) -> Callable[[Node], Node]:
    """An elementary function u ↦ h of one node; derivative(u, h) and its formula in u."""
    def apply(u: Node) -> Node:
        if not isinstance(u, Node):
            raise TypeError(f"{name} takes a Node, got {type(u).__name__}")
        h = value(u.value)
        return u.graph.function(h, f"{name}({u.name})", (u,), (derivative(u.value, h),),
                                (derivative_text.format(u=u.name),))
    apply.__name__ = name
    apply.__doc__ = f"h = {name}(u), with ∂h/∂u = {derivative_text.format(u='u')}."
    return apply


def _logistic(u: float) -> float:
    return 1 / (1 + math.exp(-u)) if u >= 0 else math.exp(u) / (1 + math.exp(u))


def _log(u: float) -> float:
    if u <= 0:
        raise ValueError(f"log of {u} <= 0")
    return math.log(u)


exp = _unary("exp", math.exp, lambda u, h: h, "exp({u})")
log = _unary("log", _log, lambda u, h: 1 / u, "1/{u}")
logistic = _unary("σ", _logistic, lambda u, h: h * (1 - h), "σ({u})(1 - σ({u}))")
tanh = _unary("tanh", math.tanh, lambda u, h: 1 - h * h, "1 - tanh({u})²")
relu = _unary("relu", lambda u: max(0.0, u), lambda u, h: 1.0 if u > 0 else 0.0, "I({u} > 0)")
softplus = _unary("softplus", lambda u: max(u, 0.0) + math.log1p(math.exp(-abs(u))), lambda u, h: _logistic(u),
                  "σ({u})")
hard_logistic = _unary("hard_logistic", lambda u: max(min(0.25 * u + 0.5, 1.0), 0.0),
                       lambda u, h: 0.25 if -2 < u < 2 else 0.0, "0.25·I(-2 < {u} < 2)")
hard_tanh = _unary("hard_tanh", lambda u: max(min(u, 1.0), -1.0), lambda u, h: 1.0 if -1 < u < 1 else 0.0,
                   "I(-1 < {u} < 1)")


def leaky_relu(u: Node, gamma: float = 0.01) -> Node:
    """h = max(0, u) + γ·min(0, u) (4.19)."""
    return _unary(f"leaky_relu[γ={_format(gamma)}]", lambda v: v if v > 0 else gamma * v,
                  lambda v, h: 1.0 if v > 0 else gamma, f"1 if {{u}} > 0 else {_format(gamma)}")(u)


def elu(u: Node, gamma: float = 1.0) -> Node:
    """h = max(0, u) + min(0, γ(exp(u) − 1)) (4.24)."""
    return _unary(f"elu[γ={_format(gamma)}]", lambda v: v if v > 0 else gamma * math.expm1(v),
                  lambda v, h: 1.0 if v > 0 else gamma * math.exp(v), f"I({{u}} > 0) + I({{u}} ≤ "
                                                                      f"0)·{_format(gamma)}·exp({{u}})")(u)


# ---------------------------------------------------------------------------------- numerical differentiation

def forward_difference(f: Callable[[float], float], x: float, dx: float) -> float:
    """(f(x + Δx) − f(x)) / Δx (4.63): truncation error O(Δx), round-off error O(ε/Δx)."""
    return (f(x + dx) - f(x)) / dx


def central_difference(f: Callable[[float], float], x: float, dx: float) -> float:
    """(f(x + Δx) − f(x − Δx)) / 2Δx (4.64): truncation error O(Δx²), round-off error O(ε/Δx)."""
    return (f(x + dx) - f(x - dx)) / (2 * dx)


def chapter_example(x: float = 1.0, w: float = 0.0, b: float = 0.0) -> Tuple[Graph, Node, Node, Node, Node]:
    """The graph of f(x; w, b) = 1/(exp(−(wx + b)) + 1) (4.67), built as figure 4.7 does:
    h₁ = x × w, h₂ = h₁ + b, h₃ = h₂ × −1, h₄ = exp(h₃), h₅ = h₄ + 1, h₆ = 1/h₅.
    Returns (graph, x, w, b, f)."""
    graph = Graph()
    xv, wv, bv = graph.variable(x, "x"), graph.variable(w, "w"), graph.variable(b, "b")
    f = 1 / (exp(-(xv * wv + bv)) + 1)
    return graph, xv, wv, bv, f


__all__ = [
    "Graph", "Node", "ForwardResult", "ReverseResult", "exp", "log", "logistic", "tanh", "relu", "leaky_relu",
    "elu", "softplus", "hard_logistic", "hard_tanh", "forward_difference", "central_difference", "chapter_example",
]
