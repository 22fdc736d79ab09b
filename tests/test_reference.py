"""The C++ engine against the NumPy float64 reference: forward, gradients, one epoch of SGD.

The engine (``net._core()``, with the targets' encoding ``_targets``) is the piece under test,
so it is called directly.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from reference import Reference, one_hot, sgd_settings

import fnn

CASES = [
    ("relu", "softmax"), ("tanh", "softmax"), ("logistic", "logistic"), (fnn.ELU(), "identity"),
    (fnn.PReLU(), "softmax"), (fnn.PReLU(shared=True), "identity"), (fnn.Maxout(2), "softmax"),
    ("softplus", "logistic"), ("hard_tanh", "identity"), (fnn.LeakyReLU(0.05), "softmax"),
]


def data(output, n=23, seed=0, features=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    if output == "softmax":
        y = rng.integers(0, 3, size=n)
        return X, y, one_hot(y, 3), 3
    if output == "logistic":
        y = rng.integers(0, 2, size=(n, 3))
        return X, y, y.astype(float), 3
    y = rng.normal(size=(n, 3))
    return X, y, y, 3


def assert_parameters_match(net, ref, rtol, atol):
    """Every weight, bias and PReLU slope of `net` against the reference's."""
    p = net.parameters()
    for l, layer in enumerate(ref.layers, start=1):
        np.testing.assert_allclose(p[f"weights_{l}"], layer["W"], rtol=rtol, atol=atol, err_msg=f"weights_{l}")
        np.testing.assert_allclose(p[f"biases_{l}"], layer["b"], rtol=rtol, atol=atol, err_msg=f"biases_{l}")
        if layer["slopes"] is not None:
            np.testing.assert_allclose(p[f"slopes_{l}"], layer["slopes"], rtol=rtol, atol=atol, err_msg=f"slopes_{l}")


@pytest.mark.parametrize("hidden,output", CASES, ids=str)
def test_forward_and_gradients(hidden, output):
    X, y, T, m = data(output)
    net = fnn.Network([5, 6, 4, m], hidden, output, dtype="float64", seed=3)
    ref = Reference.of(net)
    np.testing.assert_allclose(net.forward(X), ref.forward(X)[1][-1], rtol=1e-12, atol=1e-12)
    risk, grads = net.loss_and_gradients(X, y, l2=0.01)
    assert risk == pytest.approx(ref.risk(X, T, 0.01), rel=1e-12)
    ref_grads = ref.gradients(X, T, 0.01)
    for l, g in enumerate(ref_grads, start=1):
        np.testing.assert_allclose(grads[f"weights_{l}"], g["W"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grads[f"biases_{l}"], g["b"], rtol=1e-10, atol=1e-12)
        if g["slopes"] is not None:
            np.testing.assert_allclose(grads[f"slopes_{l}"], g["slopes"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("hidden,output", CASES, ids=str)
def test_one_epoch_of_sgd(hidden, output, batch):
    X, y, T, m = data(output)
    net = fnn.Network([5, 6, 4, m], hidden, output, dtype="float64", seed=4)
    ref = Reference.of(net)
    order = np.random.default_rng(9).permutation(len(X))
    engine = net._core()
    targets = net._targets(y, len(X))
    result = engine.train_epoch(X, targets, order, sgd_settings(0.05, 0.01, batch), 1)
    assert (result.samples, result.diverged) == (len(X), False)
    ref.sgd_epoch(X, T, order, lr=0.05, l2=0.01, batch=batch)
    assert_parameters_match(net, ref, rtol=1e-10, atol=1e-12)


def test_hand_worked_sgd_step():
    """One step of Algorithm 4.1 on a 2-2-1 logistic network, worked out by hand.

    x = (1, 2), y = 1; W⁽¹⁾ = [[0.1, 0.2], [−0.3, 0.4]], b⁽¹⁾ = 0, ReLU; W⁽²⁾ = [[0.5, −0.5]],
    b⁽²⁾ = 0.1; α = 0.5, λ = 0.1.
    z⁽¹⁾ = (0.5, 0.5), a⁽¹⁾ = (0.5, 0.5), z⁽²⁾ = 0.1, ŷ = σ(0.1), δ⁽²⁾ = ŷ − 1.
    δ⁽¹⁾ = I(z⁽¹⁾ > 0) ⊙ W⁽²⁾ᵀδ⁽²⁾ = (0.5, −0.5)·δ⁽²⁾.
    """
    net = fnn.Network([2, 2, 1], "relu", "logistic", dtype="float64", init="zeros")
    p = net.parameters()
    p["weights_1"][...] = [[0.1, 0.2], [-0.3, 0.4]]
    p["weights_2"][...] = [[0.5, -0.5]]
    p["biases_2"][...] = [0.1]
    x = np.array([[1.0, 2.0]])
    y_hat = 1 / (1 + np.exp(-0.1))
    d2 = y_hat - 1
    d1 = np.array([0.5, -0.5]) * d2
    alpha, lam = 0.5, 0.1
    expected_w2 = np.array([[0.5, -0.5]]) - alpha * (d2 * np.array([[0.5, 0.5]]) + lam * np.array([[0.5, -0.5]]))
    expected_b2 = 0.1 - alpha * d2
    W1 = np.array([[0.1, 0.2], [-0.3, 0.4]])
    expected_w1 = W1 - alpha * (np.outer(d1, [1.0, 2.0]) + lam * W1)
    expected_b1 = -alpha * d1
    history = net.fit(x, np.array([1]), learning_rate=alpha, l2=lam, max_epochs=1, validation_fraction=0)
    assert history.train_risk[0] == pytest.approx(
        -np.log(y_hat) + lam / 2 * ((expected_w1 ** 2).sum() + (expected_w2 ** 2).sum()), rel=1e-12)
    np.testing.assert_allclose(p["weights_2"], expected_w2, rtol=1e-14)
    np.testing.assert_allclose(p["biases_2"], [expected_b2], rtol=1e-14)
    np.testing.assert_allclose(p["weights_1"], expected_w1, rtol=1e-14)
    np.testing.assert_allclose(p["biases_1"], expected_b1, rtol=1e-14)


def test_extreme_logits_give_finite_losses():
    for output, y in [("softmax", np.array([0, 1])), ("logistic", np.array([0, 1])), ("identity", np.array([0., 1.]))]:
        m = 2 if output == "softmax" else 1
        net = fnn.Network([1, m], output=output, dtype="float64", init="zeros")
        net.parameters()["weights_1"][...] = 1e4 * np.array([[1.0], [-1.0]])[:m]
        X = np.array([[1.0], [-1.0]])
        risk, grads = net.loss_and_gradients(X, y)
        assert np.isfinite(risk) and all(np.isfinite(g).all() for g in grads.values())
        assert np.isfinite(net.forward(X)).all()


@pytest.mark.parametrize("learning_rate,l2", [(0.1, 2.0), (0.5, 1.5), (0.05, 0.0)],
                         ids=["decay-held-as-a-scale-and-folded", "strong-decay-applied-directly", "no-decay"])
def test_weight_decay_paths_of_the_mini_batch_update(learning_rate, l2):
    # With decay 1 − αλ = 0.8 the engine keeps W as s·V and folds s back whenever it falls below
    # 0.5 (every few steps here) and at the epoch's end; with 0.25 it scales W directly.
    X, y, T, m = data("softmax", n=40)
    net = fnn.Network([5, 6, 4, m], "tanh", "softmax", dtype="float64", seed=5)
    ref = Reference.of(net)
    order = np.random.default_rng(1).permutation(len(X))
    net._core().train_epoch(X, net._targets(y, len(X)), order, sgd_settings(learning_rate, l2, 2), 1)
    ref.sgd_epoch(X, T, order, lr=learning_rate, l2=l2, batch=2)
    assert_parameters_match(net, ref, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("batch", [4, 7])
@pytest.mark.parametrize("hidden,output,l2", [("relu", "softmax", 0.01), ("tanh", "logistic", 0.0),
                                               (fnn.ELU(), "identity", 2.0), ("softplus", "softmax", 1.5)], ids=str)
def test_mini_batch_epoch_on_two_threads(hidden, output, l2, batch):
    # Two threads each own a slice of every layer (rows of W for the forward product, columns of
    # the next W for backpropagation); the layers are wide enough for both slices to be non-empty.
    X, y, T, _ = data(output, n=45, seed=3, features=20)
    rng = np.random.default_rng(3)
    net = fnn.Network([20, 40, 24, 3], hidden, output, dtype="float64", seed=6)
    ref = Reference.of(net)
    order = rng.permutation(45)
    result = net._core().train_epoch(X, net._targets(y, 45), order, sgd_settings(0.1, l2, batch), 2)
    assert (result.samples, result.diverged) == (45, False)
    ref.sgd_epoch(X, T, order, lr=0.1, l2=l2, batch=batch)
    assert_parameters_match(net, ref, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("hidden", ["tanh", fnn.PReLU(), fnn.Maxout(2)], ids=str)
@pytest.mark.parametrize("batch,threads", [(1, 1), (5, 1), (4, 2)], ids=["per-sample", "mini-batch", "sliced"])
@pytest.mark.parametrize("output", ["softmax", "logistic", "identity"])
def test_sample_weights_scale_each_sample_loss_and_step(output, batch, threads, hidden):
    # A weight w scales its sample's loss and δ⁽ᴸ⁾, so every gradient of that sample; weight 0
    # removes the sample. Checked for the risk, the gradient and one epoch of every kernel.
    X, y, T, _ = data(output, n=30, seed=11, features=20)
    rng = np.random.default_rng(11)
    w = rng.uniform(0, 3, size=30)
    w[[2, 7]] = 0
    w *= len(w) / w.sum()  # the engine receives mean-1 weights, as Network passes them
    net = fnn.Network([20, 40, 24, 3], hidden, output, dtype="float64", seed=2)
    ref = Reference.of(net)
    risk, grads = net.loss_and_gradients(X, y, l2=0.01, sample_weight=w)
    assert risk == pytest.approx(ref.risk(X, T, 0.01, w), rel=1e-12)
    assert net.risk(X, y, l2=0.01, sample_weight=3 * w) == pytest.approx(risk, rel=1e-12)  # only ratios count
    for l, g in enumerate(ref.gradients(X, T, 0.01, w), start=1):
        np.testing.assert_allclose(grads[f"weights_{l}"], g["W"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grads[f"biases_{l}"], g["b"], rtol=1e-10, atol=1e-12)
    order = rng.permutation(30)
    lr = 0.05 if hidden == "tanh" else 0.01  # (unbounded units with weights up to 3 diverge at 0.05)
    result = net._core().train_epoch(X, net._targets(y, 30), order, sgd_settings(lr, 0.01, batch), threads, w)
    assert (result.samples, result.diverged) == (30, False)
    ref.sgd_epoch(X, T, order, lr=lr, l2=0.01, batch=batch, w=w)
    assert_parameters_match(net, ref, rtol=1e-10, atol=1e-12)


def test_sample_weight_rejections_leave_the_network_unchanged():
    X = np.random.default_rng(0).normal(size=(10, 4))
    y = np.arange(10) % 2
    net = fnn.Network([4, 3, 2], seed=0)
    before = {k: v.copy() for k, v in net.parameters().items()}
    for bad, error in [(np.ones(9), ValueError), (-np.ones(10), ValueError), (np.zeros(10), ValueError),
                       (np.full(10, np.nan), ValueError), (np.ones((10, 2)), ValueError), (["a"] * 10, TypeError)]:
        with pytest.raises(error, match="sample_weight"):
            net.fit(X, y, sample_weight=bad, max_epochs=1)
    for k, v in net.parameters().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("lr,l2", [(0.5, 2.0), (0.5, 1.5), (0.05, 0.5)], ids=["decay-0", "decay-0.25", "decay-0.975"])
def test_per_sample_weight_decay_of_any_strength(lr, l2):
    # The per-sample kernel holds W⁽¹⁾ as scale·V with the decay in the scale, folded into V
    # when the scale falls below ½ (here after 28 of the 200 steps, several times), and applies
    # a decay that halves W at each step (αλ ≥ ½, including W ← 0·W) to the weights directly.
    X, y, T, m = data("softmax", n=200)
    net = fnn.Network([5, 6, 4, m], "tanh", "softmax", dtype="float64", seed=4)
    ref = Reference.of(net)
    order = np.random.default_rng(9).permutation(len(X))
    result = net._core().train_epoch(X, net._targets(y, len(X)), order, sgd_settings(lr, l2, 1), 1)
    assert (result.samples, result.diverged) == (len(X), False)
    ref.sgd_epoch(X, T, order, lr=lr, l2=l2, batch=1)
    assert_parameters_match(net, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("lr,l2", [(0.05, 0.01), (0.1, 6.0)], ids=["scaled-decay", "direct-decay"])
def test_a_long_step_in_blocks_of_rows_matches_the_reference(threads, lr, l2):
    # Steps longer than a block (hundreds of millions of multiply-adds) run their products a block
    # of rows at a time, the update's sum over the rows in blocks: the same step, summed in parts.
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(300, 12)), rng.integers(0, 3, 300)
    net = fnn.Network([12, 40, 3], "relu", dtype="float64", seed=0)
    ref = Reference.of(net)
    engine = net._core()
    engine._mini_batch_block_rows = 16
    order = rng.permutation(300)
    result = engine.train_epoch(X, net._targets(y, 300), order, sgd_settings(lr, l2, 100), threads)
    assert (result.samples, result.diverged) == (300, False)
    ref.sgd_epoch(X, one_hot(y, 3), order, lr=lr, l2=l2, batch=100)
    assert_parameters_match(net, ref, rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(hidden_widths=st.lists(st.integers(1, 40), min_size=1, max_size=3),
       kind=st.sampled_from(["prelu", "prelu_shared", "maxout"]), pieces=st.integers(2, 4),
       batch=st.sampled_from([1, 3]), seed=st.integers(0, 1000))
def test_any_prelu_or_maxout_network_trains_as_the_reference(hidden_widths, kind, pieces, batch, seed):
    # Layers of any width (a single unit, fewer than a cache line, not a multiple of one) in both
    # training kernels: per sample and in mini-batches.
    hidden = {"prelu": fnn.PReLU(), "prelu_shared": fnn.PReLU(shared=True), "maxout": fnn.Maxout(pieces)}[kind]
    X, y, T, m = data("softmax", n=12, seed=seed, features=7)
    net = fnn.Network([7, *hidden_widths, m], hidden, "softmax", dtype="float64", seed=seed)
    ref = Reference.of(net)
    order = np.random.default_rng(seed).permutation(len(X))
    result = net._core().train_epoch(X, net._targets(y, len(X)), order, sgd_settings(0.02, 0.01, batch), 1)
    assert (result.samples, result.diverged) == (len(X), False)
    ref.sgd_epoch(X, T, order, lr=0.02, l2=0.01, batch=batch)
    assert_parameters_match(net, ref, rtol=1e-9, atol=1e-12)
