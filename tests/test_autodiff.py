"""fnn.chapter.autodiff against section 4.5: the worked example, both modes, numerical differentiation,
and reverse mode = backpropagation = central differences on a small network."""

import math

import numpy as np
import pytest

import fnn
from fnn.chapter import autodiff as ad


def test_chapter_example_values_and_table_4_1():
    graph, x, w, b, f = ad.chapter_example()
    values = [node.value for node in graph.nodes if node.kind == "function"]
    assert values == [0, 0, 0, 1, 2, 0.5]  # the red numbers of figure 4.7
    # (4.71): ∂f/∂w = 1 × −0.25 × 1 × 1 × −1 × 1 × 1, the local derivatives along the path.
    h = {n.name: n for n in graph.nodes}
    on_path = [h["h6"].local[1], h["h5"].local[0], h["h4"].local[0], h["h3"].local[0], h["h2"].local[0],
               h["h1"].local[1]]  # ∂h6/∂h5, ∂h5/∂h4, ∂h4/∂h3, ∂h3/∂h2, ∂h2/∂h1, ∂h1/∂w
    assert on_path == [-0.25, 1, 1, -1, 1, 1]
    table = graph.table().splitlines()
    assert table[1].split()[:4] == ["h1", "=", "x", "×"]
    assert "∂h1/∂w = x = 1" in table[1] and "∂h1/∂x = w = 0" in table[1]
    assert "h3 = h2 × -1" in table[3] and "∂h3/∂h2 = -1" in table[3]
    assert "h6 = 1/h5" in table[6] and "∂h6/∂h5 = -1/h5² = -0.25" in table[6]


def test_forward_and_reverse_mode_give_the_chapter_numbers():
    graph, x, w, b, f = ad.chapter_example()
    forward_w = graph.forward(f, w)
    assert forward_w.derivative == 0.25 and graph.forward(f, b).derivative == 0.25
    assert forward_w.steps[0] == "∂h1/∂w = x = 1"                                    # (4.73)
    assert forward_w.steps[1] == "∂h2/∂w = ∂h2/∂h1 · ∂h1/∂w = 1 × 1 = 1"            # (4.74)
    assert forward_w.steps[2] == "∂h3/∂w = ∂h3/∂h2 · ∂h2/∂w = -1 × 1 = -1"          # (4.75)
    assert forward_w.steps[-2] == "∂h6/∂w = ∂h6/∂h5 · ∂h5/∂w = -0.25 × -1 = 0.25"    # (4.77)
    assert forward_w.steps[-1] == "∂f/∂w = ∂f/∂h6 · ∂h6/∂w = 1 × 0.25 = 0.25"        # (4.78)
    reverse = graph.reverse(f)
    assert reverse.gradient[w] == 0.25 and reverse.gradient[b] == 0.25 and reverse.gradient[x] == 0
    assert reverse.steps[:3] == ["∂f/∂h6 = 1",                                          # (4.79)
                                 "∂f/∂h5 = ∂f/∂h6 · ∂h6/∂h5 = 1 × -0.25 = -0.25",       # (4.80)
                                 "∂f/∂h4 = ∂f/∂h5 · ∂h5/∂h4 = -0.25 × 1 = -0.25"]       # (4.81)
    assert "∂f/∂w = ∂f/∂h1 · ∂h1/∂w = 0.25 × 1 = 0.25" in reverse.steps                 # (4.83)


def test_several_paths_add_up():
    graph = ad.Graph()
    x = graph.variable(3.0, "x")
    f = x * x + ad.exp(x) / x - 2 * x
    expected = 2 * 3 + math.exp(3) * (3 - 1) / 9 - 2
    assert graph.reverse(f).gradient[x] == pytest.approx(expected, rel=1e-14)
    assert graph.forward(f, x).derivative == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("op", [ad.exp, ad.log, ad.logistic, ad.tanh, ad.relu, ad.softplus, ad.hard_logistic,
                                ad.hard_tanh, lambda u: ad.leaky_relu(u, 0.1), lambda u: ad.elu(u, 0.7)])
@pytest.mark.parametrize("at", [-1.3, 0.4, 1.7])
def test_every_elementary_function_against_central_differences(op, at):
    def value(t):
        g = ad.Graph()
        return op(g.variable(t, "u")).value

    graph = ad.Graph()
    u = graph.variable(at, "u")
    if op is ad.log and at < 0:
        with pytest.raises(ValueError):
            op(u)
        return
    h = op(u)
    assert graph.reverse(h).gradient[u] == pytest.approx(ad.central_difference(value, at, 1e-6), abs=1e-8)


def test_numerical_differentiation_error_orders():
    # f = exp at 0: f' = 1. Forward differences err by about Δx/2, central by about Δx²/6.
    for dx in (1e-2, 1e-3):
        assert ad.forward_difference(math.exp, 0.0, dx) - 1 == pytest.approx(dx / 2, rel=0.01)
        assert ad.central_difference(math.exp, 0.0, dx) - 1 == pytest.approx(dx ** 2 / 6, rel=0.01)
    # Far below the optimum Δx, round-off dominates: the error grows as Δx shrinks.
    assert abs(ad.central_difference(math.exp, 0.0, 1e-12) - 1) > abs(ad.central_difference(math.exp, 0.0, 1e-5) - 1)


def test_reverse_mode_equals_backpropagation_and_central_differences():
    # A 3-4-3 tanh network with softmax + cross-entropy on two samples, built as a scalar graph.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 3))
    y = np.array([2, 0])
    net = fnn.Network([3, 4, 3], "tanh", "softmax", dtype="float64", seed=1)
    params = net.parameters()

    def risk_graph(values):
        graph = ad.Graph()
        nodes = {name: np.vectorize(lambda v, n=name: graph.variable(float(v), n), otypes=[object])(a)
                 for name, a in values.items()}
        total = 0
        for x_row, label in zip(X, y):
            hidden = [ad.tanh(sum((nodes["weights_1"][i, j] * float(x_row[j]) for j in range(3)),
                                  nodes["biases_1"][i])) for i in range(4)]
            z = [sum((nodes["weights_2"][k, i] * hidden[i] for i in range(4)), nodes["biases_2"][k]) for k in range(3)]
            total = total + (ad.log(sum((ad.exp(zk) for zk in z), 0.0) + 0.0) - z[label])
        return graph, nodes, total / len(X)

    graph, nodes, risk = risk_graph(params)
    gradient = graph.reverse(risk).gradient
    backprop_risk, backprop = net.loss_and_gradients(X, y)
    assert risk.value == pytest.approx(backprop_risk, rel=1e-13)
    for name, array in nodes.items():
        reverse = np.vectorize(lambda node: gradient[node])(array)
        np.testing.assert_allclose(reverse, backprop[name], rtol=1e-11, atol=1e-14)
    errors = fnn.check_gradients(net, X, y)
    assert max(errors.values()) < 1e-6
