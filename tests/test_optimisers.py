"""The optimisers (fnn.training.optimisers) in every kernel against a NumPy float64 reference, step by
step, and against PyTorch's torch.optim when it is installed; their state across epochs, fits,
threads and model files.

Private pieces under test: the engine's epoch (``net._core().train_epoch``), the optimiser state
a network keeps (``_optimiser_state``, which has no public face) and the targets' encoding
(``_targets``) those calls take.
"""

import numpy as np
import pytest
from optimiser_reference import ReferenceOptimiser
from reference import Reference, one_hot

import fnn
from fnn._engine import core
from fnn.training.optimisers import OPTIMISERS, OptimiserState

RULES = [name for name in OPTIMISERS if name != "sgd"]
LEARNING_RATE = {"momentum": 0.05, "nesterov": 0.05, "adam": 0.01, "adamw": 0.01, "adagrad": 0.1, "rmsprop": 0.005}


def data(n, features, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)), rng.integers(0, classes, size=n)


def engine_epoch(net, state, X, y, order, lr, l2, batch, threads, hyper=None, weights=None, clip_norm=0.0):
    """One epoch through the engine with `state` (an OptimiserState), as fit runs it."""
    hyper = hyper or {}
    settings = core.OptimiserSettings(kind=getattr(core.Optimiser, state.name), learning_rate=lr, l2=l2,
                                      batch_size=batch, momentum=hyper.get("momentum", 0.9),
                                      beta1=hyper.get("beta_1", 0.9), beta2=hyper.get("beta_2", 0.999),
                                      epsilon=hyper.get("epsilon", 1e-8), clip_norm=clip_norm)
    first, second = state.lists(net.parameters())
    return net._core().train_epoch(X, net._targets(y, len(X)), order, settings, threads, weights,
                                   first, second, state.arrays["step"])


def assert_matches(net, ref, rtol=1e-10, atol=1e-12):
    p = net.parameters()
    for l, layer in enumerate(ref.layers, start=1):
        np.testing.assert_allclose(p[f"weights_{l}"], layer["W"], rtol=rtol, atol=atol, err_msg=f"weights_{l}")
        np.testing.assert_allclose(p[f"biases_{l}"], layer["b"], rtol=rtol, atol=atol, err_msg=f"biases_{l}")
        if layer["slopes"] is not None:
            np.testing.assert_allclose(p[f"slopes_{l}"], layer["slopes"], rtol=rtol, atol=atol)


# The per-sample kernel (batch 1) and the sliced mini-batch kernel (batch 4 or 64), each on one
# thread and, for the wide networks, two; with PReLU slopes of their own or one shared, and maxout.
KERNELS = [
    pytest.param([5, 6, 4, 3], "relu", 1, 1, id="per-sample"),
    pytest.param([5, 6, 4, 3], fnn.PReLU(), 1, 1, id="per-sample-prelu"),
    pytest.param([5, 6, 4, 3], fnn.PReLU(shared=True), 1, 1, id="per-sample-shared-prelu"),
    pytest.param([5, 6, 4, 3], fnn.Maxout(2), 1, 1, id="per-sample-maxout"),
    pytest.param([20, 300, 200, 3], fnn.PReLU(), 1, 2, id="per-sample-prelu-2-threads"),
    pytest.param([20, 300, 200, 3], fnn.PReLU(shared=True), 1, 2, id="per-sample-shared-prelu-2-threads"),
    pytest.param([20, 300, 200, 3], fnn.Maxout(2), 1, 2, id="per-sample-maxout-2-threads"),
    pytest.param([5, 6, 4, 3], "tanh", 4, 1, id="mini-batch"),
    pytest.param([20, 300, 200, 3], "relu", 1, 2, id="per-sample-2-threads"),
    pytest.param([20, 300, 200, 3], "relu", 64, 2, id="sliced-2-threads"),
    pytest.param([5, 6, 4, 3], fnn.PReLU(), 4, 1, id="sliced-prelu"),
    pytest.param([20, 300, 200, 3], fnn.PReLU(), 64, 2, id="sliced-prelu-2-threads"),
    pytest.param([20, 300, 200, 3], fnn.PReLU(shared=True), 64, 2, id="sliced-shared-prelu-2-threads"),
    pytest.param([5, 6, 4, 3], fnn.Maxout(2), 4, 1, id="sliced-maxout"),
    pytest.param([20, 300, 200, 3], fnn.Maxout(2), 64, 2, id="sliced-maxout-2-threads"),
]


@pytest.mark.parametrize("widths,hidden,batch,threads", KERNELS)
@pytest.mark.parametrize("name", RULES)
def test_two_epochs_match_the_reference_step_by_step(name, widths, hidden, batch, threads):
    X, y = data(150, widths[0], seed=1)
    net = fnn.Network(widths, hidden, dtype="float64", seed=2)
    ref = Reference.of(net)
    # (Smaller steps where maxout's or PReLU's unbounded units or the wide layers would diverge;
    # smaller still for both at once one sample a step, where momentum's steps at 0.2 diverge.)
    unbounded, wide = isinstance(hidden, (fnn.Maxout, fnn.PReLU)), widths[1] > 100
    per_sample_unbounded = unbounded and wide and batch == 1
    factor = 0.05 if per_sample_unbounded else 0.2 if unbounded or wide else 1
    lr, l2 = LEARNING_RATE[name] * factor, 0.01
    reference = ReferenceOptimiser(name, lr, l2)
    state = OptimiserState(name, net.parameters())
    rng = np.random.default_rng(5)
    for _ in range(2):  # the second epoch continues the state (Adam's t, the moments)
        order = rng.permutation(len(X))
        result = engine_epoch(net, state, X, y, order, lr, l2, batch, threads)
        assert (result.samples, result.steps, result.diverged) == (150, -(-150 // batch), False)
        reference.epoch(ref, X, one_hot(y, 3), order, batch)
        # (300 steps of momentum on maxout's products grow the round-off to ~1e-11, 1e-9 in the
        # velocities, in any kernel.)
        assert_matches(net, ref, atol=1e-10 if per_sample_unbounded else 1e-12)
    assert state.step == reference.t
    for (kind, i), array in reference.first.items():
        if name in ("momentum", "nesterov", "adam", "adamw"):
            suffix = {"W": "weights", "b": "biases", "slopes": "slopes"}[kind]
            np.testing.assert_allclose(state.arrays[f"first.{suffix}_{i + 1}"], array, rtol=1e-9,
                                       atol=1e-8 if per_sample_unbounded else 1e-13)


@pytest.mark.parametrize("widths,hidden,batch,threads", KERNELS)
@pytest.mark.parametrize("name", ["sgd", "adam", "nesterov"])
def test_gradient_clipping_in_every_kernel(name, widths, hidden, batch, threads):
    # A norm small enough that steps are clipped.
    X, y = data(60, widths[0], seed=9)
    net = fnn.Network(widths, hidden, dtype="float64", seed=2)
    ref = Reference.of(net)
    lr = {"sgd": 0.05, "adam": 0.01, "nesterov": 0.02}[name]
    reference = ReferenceOptimiser(name, lr, 0.01, clip_norm=0.5)
    state = OptimiserState(name, net.parameters())
    order = np.random.default_rng(4).permutation(60)
    result = engine_epoch(net, state, X, y, order, lr, 0.01, batch, threads, clip_norm=0.5)
    assert (result.samples, result.diverged) == (60, False)
    reference.epoch(ref, X, one_hot(y, 3), order, batch)
    assert reference.clipped > 0
    assert_matches(net, ref)


def test_clip_norm_through_fit_and_its_check():
    X, y = data(80, 5, seed=1)
    nets = [fnn.Network([5, 8, 3], seed=0) for _ in range(2)]
    nets[0].fit(X, y, optimiser="adam", clip_norm=1e9, max_epochs=2, validation_fraction=0)
    nets[1].fit(X, y, optimiser="adam", max_epochs=2, validation_fraction=0)
    # A norm never reached changes nothing but the kernel (gemm rather than fused per-sample sums).
    np.testing.assert_allclose(nets[0].parameters()["weights_1"], nets[1].parameters()["weights_1"], rtol=1e-4,
                               atol=1e-6)
    assert nets[0].training_settings_["clip_norm"] == 1e9
    with pytest.raises(ValueError, match="clip_norm must be > 0"):
        nets[0].fit(X, y, clip_norm=0.0)
    with pytest.raises(ValueError, match="clip_norm must be >= 0"):
        core.OptimiserSettings(learning_rate=0.1, clip_norm=-1.0)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        core.OptimiserSettings(learning_rate=0.1, batch_size=0)


@pytest.mark.parametrize("name", RULES)
def test_hyper_parameters_and_sample_weights_reach_the_kernels(name):
    hyper = {"momentum": 0.5, "beta_1": 0.7, "beta_2": 0.95, "epsilon": 1e-3}
    X, y = data(40, 5, seed=3)
    w = np.random.default_rng(3).uniform(0.2, 2, size=40)
    w *= len(w) / w.sum()
    for batch in (1, 8):
        net = fnn.Network([5, 7, 3], "tanh", dtype="float64", seed=4)
        ref = Reference.of(net)
        reference = ReferenceOptimiser(name, LEARNING_RATE[name], 0.05, **hyper)
        state = OptimiserState(name, net.parameters())
        order = np.random.default_rng(0).permutation(40)
        engine_epoch(net, state, X, y, order, LEARNING_RATE[name], 0.05, batch, 1, hyper, w)
        reference.epoch(ref, X, one_hot(y, 3), order, batch, w)
        assert_matches(net, ref)


@pytest.mark.parametrize("name", RULES)
def test_float32_follows_the_float64_reference(name):
    X, y = data(100, 5, seed=6)
    net = fnn.Network([5, 16, 3], "relu", seed=1)
    ref = Reference.of(net)
    reference = ReferenceOptimiser(name, LEARNING_RATE[name], 1e-3)
    state = OptimiserState(name, net.parameters())
    order = np.random.default_rng(1).permutation(100)
    engine_epoch(net, state, X.astype(np.float32), y, order, LEARNING_RATE[name], 1e-3, 1, 1)
    reference.epoch(ref, X, one_hot(y, 3), order, 1)
    assert_matches(net, ref, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", RULES)
def test_one_and_two_threads_give_the_same_weights(name, dtype):
    # Per sample: each thread owns a range of neurons; every weight's update is the same sum in
    # the same order. Mini-batch: handing the slices to one thread mid-epoch changes nothing.
    X, y = data(120, 300, seed=2)
    nets = [fnn.Network([300, 256, 3], "relu", seed=0, n_threads=t, dtype=dtype) for t in (1, 2)]
    for net in nets:
        net.fit(X, y, optimiser=name, learning_rate=LEARNING_RATE[name] / 10, max_epochs=2, validation_fraction=0,
                l2=1e-4)
    for key, p in nets[0].parameters().items():
        np.testing.assert_array_equal(p, nets[1].parameters()[key])
    for key, array in nets[0]._optimiser_state.arrays.items():
        np.testing.assert_array_equal(array, nets[1]._optimiser_state.arrays[key])
    sliced = []
    for switch_at in (None, 1):
        net = fnn.Network([300, 256, 3], "relu", seed=0, n_threads=2, dtype=dtype)
        if switch_at is not None:
            net._core()._switch_to_one_thread_at = switch_at
        net.fit(X, y, optimiser=name, learning_rate=LEARNING_RATE[name] / 10, batch_size=40, max_epochs=2,
                validation_fraction=0, l2=1e-4)
        sliced.append(net.parameters())
    for key, p in sliced[0].items():
        np.testing.assert_array_equal(p, sliced[1][key])


@pytest.mark.parametrize("name", RULES)
def test_a_saved_model_continues_bit_for_bit(tmp_path, name):
    X, y = data(200, 8, seed=4)
    net = fnn.Network([8, 12, 3], seed=0)
    net.fit(X, y, optimiser=name, learning_rate=LEARNING_RATE[name], max_epochs=3, patience=np.inf)
    net.save(tmp_path / "m.fnn")
    loaded = fnn.load(tmp_path / "m.fnn")
    assert loaded._optimiser_state.step == net._optimiser_state.step > 0
    for model in (net, loaded):
        model.fit(X, y, optimiser=name, learning_rate=LEARNING_RATE[name], max_epochs=2, validation_fraction=0)
    for key, p in net.parameters().items():
        np.testing.assert_array_equal(p, loaded.parameters()[key])
    # Continuing is not starting afresh: a new state would take other steps.
    fresh = fnn.load(tmp_path / "m.fnn")
    fresh._optimiser_state = None
    fresh.fit(X, y, optimiser=name, learning_rate=LEARNING_RATE[name], max_epochs=2, validation_fraction=0)
    assert not np.array_equal(fresh.parameters()["weights_1"], net.parameters()["weights_1"])


def test_the_state_follows_the_weights_back_to_the_best_epoch():
    X, y = data(300, 6, seed=7)
    net = fnn.Network([6, 16, 3], seed=0)
    history = net.fit(X, y, optimiser="adam", learning_rate=0.05, max_epochs=30, patience=5)
    assert history.best_epoch < history.n_epochs
    steps_per_epoch = 270  # 300 samples, 30 held out
    assert net._optimiser_state.step == history.best_epoch * steps_per_epoch


def test_changing_optimiser_or_resetting_starts_a_new_state():
    X, y = data(50, 4, seed=1)
    net = fnn.Network([4, 5, 3], seed=0)
    net.fit(X, y, optimiser="adam", max_epochs=2, validation_fraction=0)
    adam = net._optimiser_state
    net.fit(X, y, optimiser="adam", max_epochs=1, validation_fraction=0)
    assert net._optimiser_state is adam and adam.step == 150
    net.fit(X, y, optimiser="rmsprop", max_epochs=1, validation_fraction=0)
    assert net._optimiser_state.name == "rmsprop" and net._optimiser_state.step == 50
    net.fit(X, y, max_epochs=1, validation_fraction=0)
    assert net._optimiser_state is None
    net.fit(X, y, optimiser="momentum", max_epochs=1, validation_fraction=0)
    net.reset_parameters()
    assert net._optimiser_state is None


@pytest.mark.parametrize("setting,value,message", [
    ("optimiser", "adamax", "unknown optimiser 'adamax'"),
    ("momentum", -0.1, "momentum must be >= 0"),
    ("beta_1", 1.0, "beta_1 must be < 1"),
    ("beta_2", -0.5, "beta_2 must be >= 0"),
    ("epsilon", 0.0, "epsilon must be > 0"),
    ("schedule", "exponential", "unknown schedule 'exponential'"),
    ("power_t", 0, "power_t must be > 0"),
    ("step_epochs", 0, "step_epochs must be >= 1"),
    ("step_factor", 1.5, "step_factor must be <= 1"),
])
def test_bad_settings_are_refused_before_any_work(setting, value, message):
    X, y = data(30, 4)
    net = fnn.Network([4, 5, 3], seed=0)
    net.fit(X, y, optimiser="adam", max_epochs=1, validation_fraction=0)
    before = {k: v.copy() for k, v in net.parameters().items()}
    state = {k: v.copy() for k, v in net._optimiser_state.arrays.items()}
    rng = net._rng.bit_generator.state
    with pytest.raises(ValueError, match=message):
        net.fit(X, y, **{"optimiser": "adam", setting: value})
    for key, p in net.parameters().items():
        np.testing.assert_array_equal(p, before[key])
    for key, array in net._optimiser_state.arrays.items():
        np.testing.assert_array_equal(array, state[key])
    assert net._rng.bit_generator.state == rng


def test_the_engine_refuses_missing_or_misshapen_state():
    X, y = data(10, 4)
    net = fnn.Network([4, 5, 3], seed=0)
    engine = net._core()
    targets = net._targets(y, 10)
    order = np.arange(10)
    adam = core.OptimiserSettings(kind=core.Optimiser.adam, learning_rate=0.01)
    state = OptimiserState("adam", net.parameters())
    first, second = state.lists(net.parameters())
    with pytest.raises(ValueError, match="needs its second state arrays"):
        engine.train_epoch(X.astype(np.float32), targets, order, adam, 1, None, first, None)
    with pytest.raises(ValueError, match="too few first state arrays"):
        engine.train_epoch(X.astype(np.float32), targets, order, adam, 1, None, first[:-1], second)
    with pytest.raises(ValueError, match="first state has 4 elements, expected 5"):
        engine.train_epoch(X.astype(np.float32), targets, order, adam, 1, None,
                           [first[0], first[0][:1], *first[2:]], second)
    with pytest.raises(TypeError, match="step_count must be a 0-d int64 array"):
        engine.train_epoch(X.astype(np.float32), targets, order, adam, 1, None, first, second,
                           np.zeros(1))
    with pytest.raises(TypeError, match="dtype float64"):
        engine.train_epoch(X.astype(np.float32), targets, order, adam, 1, None,
                           [a.astype(np.float64) for a in first], second)


# ---------------------------------------------------------------------- against PyTorch


def torch_optimiser(torch, name, groups, lr, hyper):
    betas = (hyper["beta_1"], hyper["beta_2"])
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(groups, lr=lr, momentum=hyper["momentum"], nesterov=name == "nesterov")
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas, eps=hyper["epsilon"])
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=hyper["epsilon"])
    if name == "adagrad":
        return torch.optim.Adagrad(groups, lr=lr, eps=hyper["epsilon"])
    return torch.optim.RMSprop(groups, lr=lr, alpha=hyper["beta_2"], eps=hyper["epsilon"])


@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("name", RULES)
def test_torch_optim_takes_the_same_steps(name, batch):
    torch = pytest.importorskip("torch")
    hyper = {"momentum": 0.8, "beta_1": 0.85, "beta_2": 0.99, "epsilon": 1e-6}
    lr, l2 = LEARNING_RATE[name], 0.02
    X, y = data(60, 6, seed=8)
    net = fnn.Network([6, 9, 7, 3], "tanh", dtype="float64", seed=3)
    p = net.parameters()
    layers = []
    for l in range(1, 4):
        linear = torch.nn.Linear(p[f"weights_{l}"].shape[1], p[f"weights_{l}"].shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(p[f"weights_{l}"]))
            linear.bias.copy_(torch.from_numpy(p[f"biases_{l}"]))
        layers.append(linear)
    model = torch.nn.Sequential(layers[0], torch.nn.Tanh(), layers[1], torch.nn.Tanh(), layers[2])
    groups = [{"params": [layer.weight for layer in layers], "weight_decay": l2},
              {"params": [layer.bias for layer in layers], "weight_decay": 0.0}]
    optimiser = torch_optimiser(torch, name, groups, lr, hyper)
    order = np.random.default_rng(2).permutation(60)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    clip = 0.3 if batch == 5 else 0.0  # and clipping, at batch 5
    for start in range(0, 60, batch):
        rows = torch.from_numpy(order[start:start + batch])
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(Xt[rows]), yt[rows]).backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimiser.step()
    state = OptimiserState(name, net.parameters())
    engine_epoch(net, state, X, y, order, lr, l2, batch, 1, hyper, clip_norm=clip)
    p = net.parameters()
    for l, layer in enumerate(layers, start=1):
        np.testing.assert_allclose(p[f"weights_{l}"], layer.weight.detach().numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(p[f"biases_{l}"], layer.bias.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_ctrl_c_mid_epoch_keeps_t_in_step_with_the_updates_applied():
    import os
    import signal
    import threading

    rng = np.random.default_rng(0)
    X, y = rng.random((200000, 64), dtype=np.float32), rng.integers(0, 10, 200000)
    net = fnn.Network([64, 64, 10], seed=0, n_threads=1)
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.fit(X, y, optimiser="adam", max_epochs=1000, validation_fraction=0)
    finally:
        timer.cancel()
    state = net._optimiser_state
    # t counts every update applied, the interrupted epoch's included (the interrupt lands 0.2 s
    # into an epoch of about 0.5 s: t is then not a multiple of the epoch's 200,000 samples).
    assert 0 < state.step and state.step % 200000 != 0


@pytest.mark.parametrize("optimiser", ["sgd", "momentum", "nesterov", "adam", "adamw", "adagrad", "rmsprop"])
@pytest.mark.parametrize("clip_norm", [None, 0.05])
def test_a_step_from_summed_gradients_is_the_mini_batch_kernel_s_step(optimiser, clip_norm):
    """The engine calls of data-parallel training (gradient sums over chosen rows, then one
    optimiser step from them) make the step the mini-batch kernel makes on those rows."""
    from fnn.training.training_loop import Training
    from fnn.training.settings import TrainingSettings

    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(40, 6)), rng.integers(0, 3, size=40)
    rows = np.sort(rng.choice(40, size=16, replace=False)).astype(np.int64)
    kernel = fnn.Network([6, 5, 3], "tanh", dtype="float64", seed=2)
    summed = fnn.Network([6, 5, 3], "tanh", dtype="float64", seed=2)
    settings = dict(learning_rate=0.05, l2=0.01, batch_size=16, max_epochs=1, validation_fraction=0, shuffle=False,
                    optimiser=optimiser, clip_norm=clip_norm)
    for _ in range(2):  # two steps: the optimiser's state carries over
        kernel.fit(X[rows], y[rows], **settings)
    s = TrainingSettings(learning_rate=0.05, l2=0.01, batch_size=16, max_epochs=1, validation_fraction=0.0,
                         optimiser=optimiser, clip_norm=clip_norm)
    training = Training(summed, s)
    engine = summed._core()
    targets = summed._targets(y, 40)
    for _ in range(2):
        grads = [np.empty_like(p) for p in summed.parameters().values()]
        loss = engine.loss_and_gradient_sums(X, targets, grads, 7, 1, None, rows)  # chunks of 7 rows
        engine.apply_gradient_sums(grads, 16, training.update(0.05), training.first, training.second,
                                   training.step_count)
    assert np.isfinite(loss) and training.step_count == 2
    for name, array in kernel.parameters().items():
        np.testing.assert_allclose(summed.parameters()[name], array, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="count must be positive"):
        engine.apply_gradient_sums(grads, 0, training.update(0.05), training.first, training.second)
