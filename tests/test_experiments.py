"""Every experiment of `fnn experiment`: it runs, writes a PNG, and its key numbers say what the
chapter says. (The pictures' pixels are not compared.)"""

import math

import pytest

from fnn.cli import main
from fnn.chapter.experiments import EXPERIMENTS, run_experiment

pytestmark = pytest.mark.slow  # the chapter's experiments, trained


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("experiments")
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = run_experiment(name, folder / f"{name}.png", seed=0)
            assert cache[name].figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        return cache[name].numbers
    return get


def test_activations_match_table_4_2(results):
    n = results("activations")
    for key, value in n.items():
        if key.endswith("_value_error") or (key.endswith("_derivative_error") and "numeric" not in key):
            assert value < 1e-12, key
        if key.endswith("numeric_derivative_error"):
            assert value < 1e-6, key
    assert n["logistic_derivative_max"] == 0.25 and n["tanh_derivative_max"] == 1.0
    assert n["tanh_identity_error"] < 1e-12 and n["maxout_is_max_of_pieces"] == 0


def test_universal_approximation_error_falls_with_width(results):
    n = results("universal-approximation")
    constructed = [n[f"max_error_constructed_{w}"] for w in (1, 2, 4, 8, 16, 32, 64)]
    assert all(b < a for a, b in zip(constructed, constructed[1:]))
    assert constructed[-1] < 0.01 and n["max_error_constructed_then_SGD_64"] < 0.01


def test_numerical_differentiation_orders(results):
    n = results("numerical-differentiation")
    assert n["forward_truncation_order"] == pytest.approx(1, abs=0.05)
    assert n["central_truncation_order"] == pytest.approx(2, abs=0.05)
    assert 1e-9 < n["forward_best_step"] < 1e-7 and 1e-6 < n["central_best_step"] < 1e-4
    assert n["central_best_error"] < n["forward_best_error"] < 1e-9
    assert n["forward_error_at_1e-14"] > 1e-4  # round-off
    assert n["float32_central_best_step"] > 1e-4


def test_autodiff_gives_the_chapter_derivatives(results):
    n = results("autodiff")
    assert n["forward_df_dw"] == n["reverse_df_dw"] == 0.25
    assert n["forward_df_db"] == n["reverse_df_db"] == 0.25
    assert n["f"] == 0.5 and n["reverse_df_dx"] == 0


def test_loss_surfaces_are_not_convex(results):
    n = results("loss-surface")
    assert n["squared_error_negative_curvature_share"] > 0.2 and n["cross_entropy_negative_curvature_share"] > 0.2
    assert n["squared_error_chord_gap"] > 0.1 and n["cross_entropy_chord_gap"] > 0.1
    assert n["network_vs_formula_max_difference"] < 1e-12


def test_gradients_vanish_through_logistic_layers_only(results):
    n = results("vanishing-gradient")
    assert n["logistic_first_to_last_ratio_at_init"] < 1e-4
    assert n["tanh_first_to_last_ratio_at_init"] > 0.3 and n["relu_first_to_last_ratio_at_init"] > 0.3
    assert 3 < n["logistic_mean_shrink_per_layer"] < 6  # σ' ≤ 0.25
    assert n["logistic_training_accuracy"] < 0.2 < 0.9 < n["tanh_training_accuracy"]
    assert n["relu_training_accuracy"] > 0.9
    # Exercise 4-6: larger learning rates do not rescue the logistic network.
    assert n["logistic_accuracy_learning_rate_0.1"] < 0.2 and not n["logistic_accuracy_learning_rate_1"] > 0.2


def test_xor_by_hand_and_by_sgd(results):
    n = results("xor")
    assert n["hand_made_accuracy"] == 1.0 and n["hand_made_linear_output_error"] == 0
    assert n["learned_accuracy"] == 1.0 and 0 < n["learned_solved_share"] < 1


def test_zero_centred_inputs_converge_faster(results):
    n = results("zero-centred")
    for kind in ("gd", "sgd"):
        epochs = [n[f"{kind}_epochs_offset_{o}"] for o in ("0", "1", "2", "4")]
        assert all(b > a for a, b in zip(epochs, epochs[1:])), kind
        assert epochs[2] > 3 * epochs[0]


def test_parameters_against_depth(results):
    n = results("depth")
    assert n["best_depth"] == 3 and n["formula_matches_networks"] == 1.0
    assert n["parameters_L2"] < n["parameters_L3"] > n["parameters_L4"] > n["parameters_L10"] > n["parameters_L361"]


def test_zero_init_keeps_hidden_units_identical(results):
    n = results("zero-init")
    assert n["zero_hidden_spread"] == 0 and n["zero_hidden_bias_spread"] == 0 and n["zero_output_column_spread"] == 0
    assert n["zero_weights_norm"] > 0  # they did learn, all alike
    assert n["random_hidden_spread"] > 1 and n["random_test_accuracy"] > n["zero_test_accuracy"] + 0.3
    assert n["tanh_zero_init_weights_1_norm"] == 0 and n["relu_zero_init_weights_1_norm"] == 0


def test_dying_relu(results):
    n = results("dying-relu")
    assert n["relu_dead_after_step"] > 0.15 and n["relu_dead_at_end"] >= n["relu_dead_after_step"]
    for kind in ("leaky_relu_0.01", "leaky_relu_0.3", "elu_1"):
        assert n[f"{kind}_dead_after_step"] == 0 and n[f"{kind}_dead_at_end"] == 0
    assert n["leaky_relu_0.3_silent_after_step"] > 0.15 and n["leaky_relu_0.3_silent_at_end"] < 0.05


def test_decision_boundaries(results):
    n = results("decision-boundaries")
    for data in ("XOR", "circles", "two_spirals"):
        assert n[f"{data}_relu_3"] > 0.95, data
    assert n["two_spirals_logistic_3"] < n["two_spirals_relu_3"]


def test_every_experiment_is_tested():
    tested = {"activations", "universal-approximation", "numerical-differentiation", "autodiff", "loss-surface",
              "vanishing-gradient", "xor", "zero-centred", "depth", "zero-init", "dying-relu", "decision-boundaries"}
    assert set(EXPERIMENTS) == tested


def test_command_line_lists_runs_and_rejects(tmp_path, capsys):
    assert main(["experiment", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == list(EXPERIMENTS)
    assert main(["experiment", "depth", "-o", str(tmp_path / "d.png")]) == 0
    out = capsys.readouterr().out
    assert "most parameters at L = 3" in out and (tmp_path / "d.png").exists()
    assert main(["experiment", "nope"]) == 2
    assert "unknown experiment 'nope'" in capsys.readouterr().err
    assert main(["experiment", "depth", "-o", str(tmp_path / "missing" / "d.png")]) == 2


def test_same_seed_same_numbers(tmp_path):
    a = run_experiment("xor", tmp_path / "a.png", seed=3).numbers
    b = run_experiment("xor", tmp_path / "b.png", seed=3).numbers
    assert a.keys() == b.keys() and all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)
