"""The playground's server side: data sets, uploads, the session's training and chapter panel
against the NumPy reference, and the HTTP server under good and bad requests (no browser here;
tests/test_playground_browser.py drives the page)."""

import json
import math
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
import fnn.cli
import fnn.playground
from fnn.playground.data import DOMAIN, GENERATORS, PlaygroundDataError, make_data, read_upload, split
from fnn.playground.layers import layer_values
from fnn.playground.server import MAX_BODY, PlaygroundServer
from fnn.playground.session import ACTIVATIONS, MAX_WIDTH, PlaygroundError, Session
from reference import Reference

# ------------------------------------------------------------------ data


@pytest.mark.parametrize("name", list(GENERATORS))
def test_every_data_set_lies_in_the_plot_and_repeats_for_a_seed(name):
    data = make_data(name, 300, 0.2, seed=4)
    assert data.X.shape == (300, 2) and data.y.shape == (300,)
    assert np.abs(data.X).max() <= DOMAIN
    if data.classification:
        assert set(np.unique(data.y)) == {0.0, 1.0}
        assert 100 < data.y.sum() < 200  # both classes, about half each
    else:
        assert np.unique(data.y).size > 100
    again = make_data(name, 300, 0.2, seed=4)
    np.testing.assert_array_equal(data.X, again.X)
    assert not np.array_equal(data.X, make_data(name, 300, 0.2, seed=5).X)


def test_a_split_keeps_every_point_once():
    data = make_data("xor", 101, 0.0, seed=0)
    train, test = split(data, 0.3, seed=0)
    assert (train.X.shape[0], test.X.shape[0]) == (30, 71)
    together = np.concatenate([train.X, test.X])
    assert np.array_equal(np.unique(together, axis=0), np.unique(data.X, axis=0))


def test_an_upload_with_a_header_and_two_labels_is_a_classification_filling_the_plot():
    text = "a,b,label\n" + "\n".join(f"{i},{100 + 2 * i},{'yes' if i % 2 else 'no'}".replace("yes", "7").replace(
        "no", "3") for i in range(10))
    data = read_upload(text)
    assert data.classification and data.X.shape == (10, 2)
    np.testing.assert_allclose(data.X.min(axis=0), -5) and np.testing.assert_allclose(data.X.max(axis=0), 5)
    np.testing.assert_array_equal(data.y, [i % 2 for i in range(10)])  # 3 → class 0, 7 → class 1


def test_an_upload_of_real_targets_is_a_regression_and_semicolons_are_read():
    data = read_upload("\n".join(f"{i};{i * i};{i / 3}" for i in range(20)))
    assert not data.classification and data.y[3] == pytest.approx(1.0)


def test_a_spreadsheet_export_with_a_byte_order_mark_crlf_and_decimal_commas_is_read_whole():
    text = "\ufeff" + "\r\n".join(f"{i},5;{-i},25;{i % 2}" for i in range(6)) + "\r\n"
    data = read_upload(text)
    assert data.X.shape == (6, 2) and data.classification  # no row taken for a header
    np.testing.assert_allclose(data.X[:, 0], np.linspace(-5, 5, 6))


@pytest.mark.parametrize("text, says", [
    ("", "0 rows"),
    ("1,2,0\n3,4,1\n", "at least 4"),
    ("1,2,0\n3,4,1\n5,6\n7,8,1\n", "row 3 has 2 values"),
    ("1,2,0\n3,4,1\n5,six,1\n7,8,1\n", "not a number"),
    ("1,2,0\n3,4,0\n5,6,0\n7,8,0\n", "the same target"),
    ("1,2,0\n3,nan,1\n5,6,0\n7,8,1\n", "NaN"),
    ("x" * 2_000_001, "bytes"),
])
def test_a_malformed_upload_is_refused_with_a_reason(text, says):
    with pytest.raises(PlaygroundDataError, match=says):
        read_upload(text)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_text_uploaded_either_reads_or_is_refused_with_a_playground_error(text):
    try:
        data = read_upload(text)
    except PlaygroundDataError:
        return
    assert np.isfinite(data.X).all() and np.abs(data.X).max() <= 5 + 1e-9


# ------------------------------------------------------------------ every layer's values


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("output", ["logistic", "softmax", "identity"])
def test_layer_values_follow_the_reference_and_end_at_the_engines_output(activation, output):
    f = ACTIVATIONS[activation]
    net = fnn.Network([3, 5, 4, 2], [f, f], output, seed=1, dtype="float64")
    X = np.random.default_rng(0).normal(size=(16, 3))
    values = layer_values(net, X)
    zs, acts = Reference.of(net).forward(X)
    for l, (z, a) in enumerate(values):
        np.testing.assert_allclose(z.reshape(z.shape[0], -1), zs[l], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a, acts[l + 1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(values[-1][1], net.forward(X), rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ the session


def test_the_first_view_is_a_2_8_8_1_tanh_network_on_the_circle():
    state = Session().state(points=True)
    assert state["widths"] == [2, 8, 8, 1] and state["settings"]["activations"] == ["tanh", "tanh"]
    assert len(state["surface"]) == state["surface_grid"] ** 2
    assert [len(layer) for layer in state["maps"]] == [2, 8, 8, 1]
    assert len(state["points"]["train"]) + len(state["points"]["test"]) == 500
    json.dumps(state, allow_nan=False)  # plain, finite JSON


def test_training_the_circle_lowers_the_test_loss_and_reaches_high_accuracy():
    session = Session()
    first = session.state()["losses"]["test"][-1]
    for _ in range(60):
        state = session.step_epochs(1)
    assert state["epoch"] == 60 and len(state["losses"]["test"]) == 61
    assert state["losses"]["test"][-1] < 0.5 * first
    assert state["accuracy"]["test"] > 0.9


def test_a_sample_step_is_algorithm_4_1_on_that_sample_exactly():
    session = Session()
    session.configure({"activations": ["relu", "logistic"], "learning_rate": 0.1})
    net = session.network.astype(np.float64)  # the reference runs in float64 from the same weights
    reference = Reference.of(net)
    n = int(session.order[0])
    x = session.train_inputs[n:n + 1].astype(np.float64)
    t = session.train.y[n:n + 1, None]
    zs, acts = reference.forward(x)
    state = session.step_sample()
    trace = state["trace"]
    assert trace["sample"] == n and state["updates"] == 1 and state["cursor"] == 1
    for l, layer in enumerate(trace["layers"]):
        np.testing.assert_allclose(layer["z"], zs[l][0], atol=2e-4)
        np.testing.assert_allclose(layer["a"], acts[l + 1][0], atol=2e-4)
    # δ⁽ᴸ⁾ = ŷ − y for the logistic output with cross-entropy
    np.testing.assert_allclose(trace["layers"][-1]["delta"], acts[-1][0] - t[0], atol=1e-5)
    # lines 10-11: W ← W − αδaᵀ, once
    reference.sgd_epoch(x, t, [0], 0.1, 0.0, 1)
    for l, layer in enumerate(reference.layers, start=1):
        np.testing.assert_allclose(session.network.parameters()[f"weights_{l}"], layer["W"], rtol=1e-4, atol=1e-5)


def test_a_sample_steps_trace_shows_the_loss_and_gradient_without_the_penalty_the_update_applies():
    session = Session()
    session.configure({"l2": 0.5, "learning_rate": 0.1})
    reference = Reference.of(session.network.astype(np.float64))
    n = int(session.order[0])
    x, t = session.train_inputs[n:n + 1].astype(np.float64), session.train.y[n:n + 1, None]
    trace = session.step_sample()["trace"]
    assert trace["loss"] == pytest.approx(reference.losses(x, t)[0], rel=1e-5)  # L (4.38), not the risk
    gradients = reference.gradients(x, t, 0.0)
    for layer, g in zip(trace["layers"], gradients):
        assert layer["weight_gradient_norm"] == pytest.approx(np.linalg.norm(g["W"]), rel=1e-4)
    reference.sgd_epoch(x, t, [0], 0.1, 0.5, 1)  # line 10 with λ = 0.5
    for l, layer in enumerate(reference.layers, start=1):
        np.testing.assert_allclose(session.network.parameters()[f"weights_{l}"], layer["W"], rtol=1e-4, atol=1e-5)


def test_a_whole_pass_of_sample_steps_completes_an_epoch():
    session = Session()
    session.configure({"points": 40, "train_fraction": 0.5})
    for _ in range(20):
        state = session.step_sample()
    assert state["epoch"] == 1 and state["cursor"] == 0 and len(state["losses"]["train"]) == 2


def test_changing_only_the_learning_rate_keeps_the_weights_and_a_reset_draws_new_ones():
    session = Session()
    session.step_epochs(3)
    weights = session.network.parameters()["weights_1"].copy()
    state = session.configure({**session.settings.__dict__, "learning_rate": 0.1}, reset=False)
    assert state["epoch"] == 3 and session.settings.learning_rate == 0.1
    np.testing.assert_array_equal(session.network.parameters()["weights_1"], weights)
    state = session.configure({**session.settings.__dict__, "widths": [3], "activations": ["tanh"]},
                              reset=False)  # structure: a new net
    assert state["epoch"] == 0 and state["widths"] == [2, 3, 1]


@pytest.mark.parametrize("settings, says", [
    ({"widths": [10**6], "activations": ["tanh"]}, f"up to {MAX_WIDTH}"),
    ({"widths": [0], "activations": ["tanh"]}, "whole number"),
    ({"widths": [math.inf], "activations": ["tanh"]}, "whole number"),
    ({"widths": [math.nan], "activations": ["tanh"]}, "whole number"),
    ({"widths": [8] * 7, "activations": ["tanh"] * 7}, "hidden layers"),
    ({"activations": ["tanh", "swish"]}, "unknown activation"),
    ({"learning_rate": -1}, "learning_rate"),
    ({"learning_rate": "fast"}, "learning_rate must be a number"),
    ({"noise": float("inf")}, "noise"),
    ({"features": ["x3"]}, "unknown input features"),
    ({"data": "upload"}, "unknown data set"),
    ({"optimiser": "lbfgs"}, "unknown optimiser"),
    ({"colour": "red"}, "unknown settings"),
])
def test_refused_settings_name_the_problem_and_keep_the_network(settings, says):
    session = Session()
    session.step_epochs(2)
    with pytest.raises(PlaygroundError, match=says):
        session.configure(settings)
    assert session.epoch == 2 and session.network.widths == [2, 8, 8, 1]
    assert session.step_epochs(1)["epoch"] == 3


def test_a_diverging_learning_rate_is_reported_and_training_goes_on_after_lowering_it():
    session = Session()
    session.configure({"data": "plane", "learning_rate": 10.0, "activations": ["identity", "identity"],
                       "features": ["x1", "x2", "x1_squared"]})
    state = session.step_epochs(1)
    assert state["diverged"] and "diverged" in state["message"] and state["epoch"] == 0
    assert all(np.isfinite(p).all() for p in session.network.parameters().values())
    session.configure({**session.settings.__dict__, "learning_rate": 1e-4}, reset=False)
    state = session.step_epochs(2)
    assert not state["diverged"] and state["epoch"] == 2


def test_the_gradient_check_agrees_for_a_smooth_network():
    session = Session()
    session.step_epochs(2)
    result = session.gradient_check()
    assert result["agrees"] and result["worst"] < 1e-5 and set(result["errors"]) == {
        "weights_1", "biases_1", "weights_2", "biases_2", "weights_3", "biases_3"}


def test_the_exported_model_file_loads_and_predicts_as_the_page_does(tmp_path):
    session = Session()
    session.configure({"features": ["x1", "x2", "x1_x2"], "activations": ["maxout", "prelu"], "output": "softmax"})
    session.step_epochs(3)
    path = tmp_path / "playground.npz"
    path.write_bytes(session.model_file())
    model = fnn.load(path)
    np.testing.assert_array_equal(model.forward(session.test_inputs), session.network.forward(session.test_inputs))


def test_the_chapter_panel_names_this_networks_equations():
    session = Session()
    session.configure({"widths": [4], "activations": ["elu"], "l2": 0.01, "optimiser": "adam"})
    chapter = session.state()["chapter"]
    formulas = [row[0] for row in chapter["forward"]]
    assert "a⁽¹⁾ = ELU(z⁽¹⁾)" in formulas and any("(4.24)" in row[1] for row in chapter["forward"])
    assert any("ℝ^4×2" in row[2] for row in chapter["forward"])
    assert "0.01" in chapter["backward"][1][0]
    assert [line for line, _ in chapter["algorithm"]] == list(range(1, 14))
    assert "adam" in chapter["update_rule"]


def test_a_regression_data_set_gets_an_identity_output():
    state = Session().configure({"data": "bumps", "output": "logistic"})
    assert state["settings"]["output"] == "identity" and not state["classification"]
    assert state["accuracy"] is None


# ------------------------------------------------------------------ the HTTP server


def request(server, path, body=None, headers=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(server.url.rstrip("/") + path, data=data, headers=headers or {},
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_the_page_and_its_files_are_served(server):
    status, page, headers = request(server, "/")
    assert status == 200 and b"playground.js" in page and headers["Content-Type"].startswith("text/html")
    for name in ("playground.js", "playground.css"):
        assert request(server, f"/static/{name}")[0] == 200
    assert request(server, "/static/../session.py")[0] == 404
    assert request(server, "/static/%2e%2e/session.py")[0] == 404
    assert request(server, "/nothing")[0] == 404


def test_a_session_trains_over_http_and_downloads_its_model(server, tmp_path):
    status, body, _ = request(server, "/api/session", {})
    answer = json.loads(body)
    token = answer["session"]
    assert status == 200 and "relu" in answer["choices"]["activations"]
    status, body, _ = request(server, "/api/step", {"session": token, "epochs": 5})
    assert status == 200 and json.loads(body)["epoch"] == 5
    status, data, headers = request(server, f"/api/model?session={token}")
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    (tmp_path / "m.npz").write_bytes(data)
    assert fnn.load(tmp_path / "m.npz").widths == [2, 8, 8, 1]


def test_bad_requests_are_answered_and_the_server_keeps_serving(server):
    token = json.loads(request(server, "/api/session", {})[1])["session"]
    cases = [
        (request(server, "/api/step", {"session": "nobody"}), 404, "reload"),
        (request(server, "/api/step", raw=b"{not json"), 400, "not JSON"),
        (request(server, "/api/step", raw=b"[1, 2]"), 400, "JSON object"),
        (request(server, "/api/configure", {"session": token, "settings": {"widths": [10**6],
                                                                           "activations": ["relu"]}}), 400, "32"),
        (request(server, "/api/upload", {"session": token, "csv": "1,2\n"}), 400, "cannot use this file"),
        (request(server, "/api/upload", {"session": token, "csv": 5}), 400, "CSV"),
        (request(server, "/api/step", {"session": token, "epochs": 10**9}), 400, "epochs"),
        (request(server, "/api/nothing", {"session": token}), 404, "no such request"),
        (request(server, "/api/model?session=nobody"), 404, "reload"),
    ]
    for (status, body, _), expected, says in cases:
        assert status == expected and says in json.loads(body)["error"]
    status, body, _ = request(server, "/api/step", raw=b" " * (MAX_BODY + 1))
    assert status == 413
    assert json.loads(request(server, "/api/step", {"session": token})[1])["epoch"] == 1


def test_a_request_naming_another_host_is_refused_on_loopback(server):
    status, body, _ = request(server, "/", headers={"Host": "attacker.example:80"})
    assert status == 403 and "localhost" in json.loads(body)["error"]


def test_a_bug_in_a_request_is_a_500_and_the_server_lives_on(server, monkeypatch, capsys):
    token = json.loads(request(server, "/api/session", {})[1])["session"]
    monkeypatch.setattr(Session, "gradient_check", lambda self: 1 / 0)
    status, body, _ = request(server, "/api/gradient-check", {"session": token})
    assert status == 500 and "ZeroDivisionError" in json.loads(body)["error"]
    assert "Traceback" in capsys.readouterr().err
    assert request(server, "/api/step", {"session": token})[0] == 200


def test_two_pages_train_apart_and_concurrent_requests_of_one_page_take_turns(server):
    tokens = [json.loads(request(server, "/api/session", {})[1])["session"] for _ in range(2)]
    results = []

    def train(token):
        for _ in range(5):
            results.append(request(server, "/api/step", {"session": token})[0])

    threads = [threading.Thread(target=train, args=(token,)) for token in tokens * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 20
    for token in tokens:
        assert json.loads(request(server, "/api/step", {"session": token})[1])["epoch"] == 11


def test_non_finite_figures_reach_the_page_as_null():
    from fnn.playground.server import _json

    assert json.loads(_json({"loss": [1.0, math.inf, math.nan]})) == {"loss": [1.0, None, None]}


# ------------------------------------------------------------------ the command


@pytest.mark.slow
def test_fnn_playground_serves_until_ctrl_c():
    with subprocess.Popen([sys.executable, "-m", "fnn", "playground", "--port", "0", "--no-browser"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            # (an editable install may first print its rebuild)
            lines = iter(process.stdout.readline, "")
            line = next((line for line in lines if line.startswith("fnn playground: http")), "")
            assert line.startswith("fnn playground: http://127.0.0.1:"), line
            url = line.split()[2]
            with urllib.request.urlopen(url, timeout=30) as response:
                assert b"fnn playground" in response.read()
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        finally:
            process.kill()
    assert process.returncode == 0 and "stopped" in out and "Traceback" not in err


def test_a_port_in_use_is_one_line_naming_port(capsys):
    taken = PlaygroundServer("127.0.0.1", 0)
    try:
        port = taken.server_address[1]
        assert fnn.cli.main(["playground", "--port", str(port), "--no-browser"]) == 2
    finally:
        taken.server_close()
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err and len(err.strip().splitlines()) == 1


def test_the_playground_listens_only_on_loopback_by_default():
    from fnn.cli.commands import _subcommand_parser

    args = _subcommand_parser().parse_args(["playground"])
    assert args.host == "127.0.0.1" and args.browser and args.port == 8050
    assert os.path.isfile(os.path.join(os.path.dirname(fnn.playground.__file__), "static", "index.html"))


# (floats include NaN and ±infinity: Python's JSON parser reads them, so a request may carry them)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=4),
                    max_leaves=12)
SETTING_NAMES = st.sampled_from(["data", "noise", "train_fraction", "points", "seed", "features", "widths",
                                 "activations", "output", "optimiser", "learning_rate", "batch_size", "l2"])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(SETTING_NAMES, JSON, max_size=4), st.booleans())
def test_any_json_settings_either_configure_or_are_refused_with_a_reason(values, reset):
    session = Session()
    try:
        state = session.configure(values, reset=reset)
    except PlaygroundError:
        assert session.network.widths == [2, 8, 8, 1]  # the first view, untouched
        return
    json.dumps(state, allow_nan=False)


BODIES = JSON | st.fixed_dictionaries({}, optional={
    "settings": JSON | st.dictionaries(SETTING_NAMES, JSON, max_size=4), "reset": JSON,
    "epochs": JSON, "csv": JSON | st.text(alphabet="0123456789.,;-e \n\tx", max_size=200)})


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["/api/configure", "/api/step", "/api/sample", "/api/gradient-check", "/api/upload",
                        "/api/session"]), BODIES, st.booleans())
def test_any_json_request_is_answered_without_a_failure_of_fnn(server, path, body, with_session):
    if with_session and isinstance(body, dict):
        body["session"] = json.loads(request(server, "/api/session", {})[1])["session"]
    status, answer, _ = request(server, path, raw=json.dumps(body).encode())
    assert status in (200, 400, 404), (status, answer[:300])
    json.loads(answer)
