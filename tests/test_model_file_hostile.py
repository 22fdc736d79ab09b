"""Model files written to hurt: every malformed file is a ModelFileError naming the file, before
anything large is allocated; the command line reports it in one line."""

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fnn
from fnn.io.model_file import ModelFileError

X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
y = np.arange(60) % 3


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The bytes of a saved Network, a saved classifier and a saved regressor."""
    folder = tmp_path_factory.mktemp("models")
    net = fnn.Network([4, 5, 3], "maxout", seed=0)
    net.fit(X, y, max_epochs=2)
    net.save(folder / "net.npz")
    fnn.FNNClassifier((5,), max_epochs=2, random_state=0).fit(X, np.array(["a", "b", "c"])[y]).save(folder / "clf.npz")
    fnn.FNNRegressor((5,), max_epochs=2, random_state=0).fit(X, X[:, 0]).save(folder / "reg.npz")
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer([("n", SimpleImputer(), [0, 1]),
                                 ("c", OneHotEncoder(handle_unknown="ignore", sparse_output=False), [2])],
                                remainder="passthrough")
    pipeline = make_pipeline(columns, StandardScaler(), fnn.FNNClassifier((5,), max_epochs=2, random_state=0))
    fnn.save(pipeline.fit(np.round(X), y), folder / "pipe.npz")
    return {kind: (folder / f"{kind}.npz").read_bytes() for kind in KINDS}


KINDS = ("net", "clf", "reg", "pipe")


def entries(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def metadata_of(blob):
    raw = entries(blob)["__metadata__.npy"]
    return json.loads(np.load(io.BytesIO(raw)).tobytes())


def rebuild(path, blob, metadata=None, replace=None, compression=zipfile.ZIP_STORED):
    """`blob` written to `path` with its metadata and entries replaced as given."""
    files = entries(blob)
    if metadata is not None:
        buffer = io.BytesIO()
        np.save(buffer, np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8))
        files["__metadata__.npy"] = buffer.getvalue()
    files.update(replace or {})
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def assert_refused(path, match=None):
    with pytest.raises(ModelFileError, match=match) as error:
        fnn.load(path)
    assert str(path) in str(error.value)


def test_metadata_claiming_a_huge_network_is_refused_before_allocating(saved, tmp_path):
    meta = metadata_of(saved["net"])
    meta["network"]["widths"] = [50000, 50000, 2]
    assert_refused(rebuild(tmp_path / "m.npz", saved["net"], meta), "weights_1|parameter list")
    meta = metadata_of(saved["net"])
    meta["network"]["activations"][0]["pieces"] = 10 ** 9
    assert_refused(rebuild(tmp_path / "m.npz", saved["net"], meta), "weights_1 has shape")


def test_an_array_header_claiming_more_than_the_file_holds_is_refused(saved, tmp_path):
    header = b"\x93NUMPY\x01\x00" + b"v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }"
    header = header.ljust(8 + 2 + 118, b" ") + b"\n"
    assert_refused(rebuild(tmp_path / "m.npz", saved["net"], replace={"network/weights_1.npy": header}),
                   "declares")


@pytest.mark.parametrize("field, value", [
    ("history", []), ("history", {"train_risk": "x"}), ("random_state", {"state": {"state": 2 ** 200}}),
    ("random_state", None), ("training_settings", 3), ("dtype", "int8"), ("widths", [4, -1, 3]),
    ("activations", [7]), ("n_threads", "many"), ("output", "banana"),
])
def test_malformed_network_metadata_is_a_model_file_error(saved, tmp_path, field, value):
    meta = metadata_of(saved["net"])
    meta["network"][field] = value
    assert_refused(rebuild(tmp_path / "m.npz", saved["net"], meta))


@pytest.mark.parametrize("change", [
    lambda m: m.update(params=[]), lambda m: m.update(fitted="x"), lambda m: m.update(extras=None),
    lambda m: m["fitted"].update(predict=None), lambda m: m["fitted"].update(n_iter_="3"),
    lambda m: m["fitted"].pop("t_"), lambda m: m["params"].update(bogus=1),
    lambda m: m["extras"].update(target_kind="binary"),
])
def test_malformed_estimator_metadata_is_a_model_file_error(saved, tmp_path, change):
    meta = metadata_of(saved["clf"])
    change(meta)
    assert_refused(rebuild(tmp_path / "m.npz", saved["clf"], meta))


def test_classes_must_match_the_output_width(saved, tmp_path):
    assert_refused(rebuild(tmp_path / "m.npz", saved["clf"], replace={"classes_.npy": npy(np.array(["a", "b"]))}),
                   "classes_")


def test_non_finite_parameters_are_refused(saved, tmp_path):
    with zipfile.ZipFile(io.BytesIO(saved["net"])) as archive:
        weights = np.load(io.BytesIO(archive.read("weights_2.npy")))
    weights[0, 0] = np.nan
    assert_refused(rebuild(tmp_path / "m.npz", saved["net"], replace={"weights_2.npy": npy(weights)}), "NaN")


def test_deeply_nested_json_and_compressed_entries_are_refused(saved, tmp_path):
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__metadata__.npy", npy(np.frombuffer(b"[" * 100000 + b"]" * 100000, dtype=np.uint8)))
    assert_refused(path, "nested")
    assert_refused(rebuild(path, saved["net"], compression=zipfile.ZIP_DEFLATED), "compressed")


def test_object_arrays_are_refused_without_running_them(saved, tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.array([print], dtype=object), allow_pickle=True)
    assert_refused(rebuild(tmp_path / "m.npz", saved["net"], replace={"weights_1.npy": buffer.getvalue()}),
                   "Python objects")


def test_save_refuses_a_directory_and_leaves_it_untouched(tmp_path):
    target = tmp_path / "model.npz"
    target.mkdir()
    (target / "keep").write_text("x")
    with pytest.raises(ModelFileError, match="not a regular file"):
        fnn.Network([2, 2], output="identity").save(target)
    assert (target / "keep").read_text() == "x"
    with pytest.raises(ModelFileError, match="not a regular file"):
        fnn.Network([2, 2], output="identity").save("/dev/null")


@pytest.mark.slow
def test_the_command_line_reports_a_hostile_file_in_one_line(saved, tmp_path):
    meta = metadata_of(saved["clf"])
    meta["fitted"] = []
    path = rebuild(tmp_path / "m.npz", saved["clf"], meta)
    for command in (["info", str(path)], ["predict", str(path), "iris"], ["evaluate", str(path), "iris"]):
        result = subprocess.run([sys.executable, "-m", "fnn", *command], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("fnn: error:") and "Traceback" not in result.stderr, result.stderr


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.data())
def test_fuzzed_bytes_load_or_fail_cleanly(saved, tmp_path, data):
    blob = bytearray(saved[data.draw(st.sampled_from(KINDS))])
    action = data.draw(st.sampled_from(["flip", "truncate"]))
    if action == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            blob[data.draw(st.integers(0, len(blob) - 1))] ^= data.draw(st.integers(1, 255))
    else:
        del blob[data.draw(st.integers(0, len(blob) - 1)):]
    path = tmp_path / "fuzz.npz"
    path.write_bytes(bytes(blob))
    try:
        model = fnn.load(path)
    except ModelFileError:
        return
    model.predict(np.round(X))  # a file that loads (a flip in padding, say) is a working model


def mutate(value, draw):
    """`value` with one nested entry replaced by a random JSON value."""
    scalars = st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text(max_size=5)
    json_values = st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6)
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        return {**value, key: mutate(value[key], draw)}
    if isinstance(value, list) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        return value[:index] + [mutate(value[index], draw)] + value[index + 1:]
    return draw(json_values)


@FUZZ
@given(data=st.data())
def test_mutated_metadata_loads_or_fails_cleanly(saved, tmp_path, data):
    kind = data.draw(st.sampled_from(KINDS))
    meta = mutate(metadata_of(saved[kind]), data.draw)
    path = rebuild(tmp_path / "fuzz.npz", saved[kind], meta)
    try:
        model = fnn.load(path)
    except ModelFileError:
        return
    model.predict(np.round(X))


# ---------------------------------------------------------------------------------- allow-lists (issue 25)

def pipeline_meta(saved):
    """The saved pipeline's metadata and its ColumnTransformer's and encoder's descriptions."""
    meta = metadata_of(saved["pipe"])
    columns = meta["steps"][0]["step"]
    encoder = columns["transformers"][1]["step"]
    return meta, columns, encoder


@pytest.mark.parametrize("where, key, value, named", [
    ("columns", "n_jobs", 64, "n_jobs"),                     # would start 64 worker processes
    ("columns", "transformer_weights", {"mapping": [["n", 1e300]]}, "transformer_weights"),
    ("columns", "verbose", True, "verbose"),
    ("columns", "sparse_threshold", 7, "sparse_threshold"),
    ("encoder", "dtype", "os.system", "dtype"),              # a function's name where a dtype goes
    ("encoder", "dtype", "object", "dtype"),
    ("encoder", "handle_unknown", "explode", "handle_unknown"),
    ("encoder", "min_frequency", 3, "min_frequency"),
    ("encoder", "bogus", 1, "bogus"),
    ("scaler", "copy", False, "copy"),                       # would scale the caller's array in place
    ("scaler", "with_mean", "yes", "with_mean"),
])
def test_a_transformer_is_rebuilt_from_its_allow_list_alone(saved, tmp_path, monkeypatch, where, key, value, named):
    import sklearn.compose

    built = []
    real = sklearn.compose.ColumnTransformer.fit
    monkeypatch.setattr(sklearn.compose.ColumnTransformer, "fit",
                        lambda self, *a, **k: (built.append(self), real(self, *a, **k))[1])
    meta, columns, encoder = pipeline_meta(saved)
    target = {"columns": columns, "encoder": encoder, "scaler": meta["steps"][1]["step"]}[where]
    target["params"][key] = value
    assert_refused(rebuild(tmp_path / "m.npz", saved["pipe"], meta), named)
    assert not built  # refused before any transformer was built


def test_the_allow_list_keeps_every_file_fnn_writes_loadable(saved, tmp_path):
    # Files as fnn writes them load; files of earlier versions held copy=True, still accepted.
    meta, columns, encoder = pipeline_meta(saved)
    assert "copy" not in meta["steps"][1]["step"]["params"]
    meta["steps"][1]["step"]["params"]["copy"] = True
    model = fnn.load(rebuild(tmp_path / "m.npz", saved["pipe"], meta))
    model.predict(np.round(X))


def test_a_transformer_fnn_could_not_load_is_not_saved(tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    pipeline = make_pipeline(OneHotEncoder(sparse_output=False), fnn.FNNClassifier((3,), max_epochs=1))
    pipeline.fit(np.round(X), y)[0].dtype = np.complex64  # (a dtype no estimator of fnn takes)
    with pytest.raises(ModelFileError, match="dtype"):
        fnn.save(pipeline, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_estimator_parameters_are_checked_as_fit_would(saved, tmp_path):
    for change, named in ((dict(batch_size=-3), "batch_size"), (dict(activation="os.system"), "activation"),
                          (dict(hidden_layer_sizes={"sequence": [-1], "tuple": True}), "hidden_layer_sizes"),
                          (dict(n_jobs=8), "n_jobs")):
        meta = metadata_of(saved["clf"])
        meta["params"].update(change)
        assert_refused(rebuild(tmp_path / "m.npz", saved["clf"], meta), named)


@pytest.mark.parametrize("kind", KINDS)
def test_an_array_the_model_does_not_use_is_refused(saved, tmp_path, kind):
    path = rebuild(tmp_path / "m.npz", saved[kind], replace={"steps/9/payload.npy": npy(np.zeros(3))})
    assert_refused(path, "not part of the .*payload")


def test_too_many_entries_are_refused_before_reading_any(saved, tmp_path, monkeypatch):
    import fnn.io.model_file

    monkeypatch.setattr(fnn.io.model_file, "MAX_ARRAYS", 50)
    extra = {f"x/{i}.npy": b"" for i in range(60)}  # not even arrays: refused on the count alone
    assert_refused(rebuild(tmp_path / "m.npz", saved["net"], replace=extra), "entries, more than the 50")


def test_metadata_that_would_cost_far_more_than_its_size_is_refused(saved, tmp_path):
    import tracemalloc

    from fnn.io.model_file import MAX_METADATA_BYTES

    path = tmp_path / "m.npz"
    for text in (b"[" + b"[]," * 2_000_000 + b"[]]",    # 6 MB: 2 million empty lists, ~130 MB as Python lists
                 b"[" * 40 + b" " * (10 << 20) + b"]" * 40,  # 10 MB nested too deeply
                 b" " * (MAX_METADATA_BYTES + 1)):      # over the size cap
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("__metadata__.npy", npy(np.frombuffer(text, dtype=np.uint8)))
        tracemalloc.start()
        try:
            assert_refused(path, "values|nested|bytes of metadata, more than")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 * len(text) + (1 << 20), peak  # the file read, a copy and the counts: no parse


json_scalars = st.none() | st.booleans() | st.integers(-2 ** 40, 2 ** 40) | st.floats() | st.text(max_size=8)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=5)
param_names = st.sampled_from(["copy", "with_mean", "with_std", "n_jobs", "dtype", "drop", "handle_unknown",
                               "sparse_output", "sparse_threshold", "verbose", "strategy", "fill_value",
                               "feature_range", "clip", "transformer_weights", "x"]) | st.text(max_size=6)


@FUZZ
@given(data=st.data())
def test_any_parameters_in_a_file_load_within_the_allow_list_or_are_refused(saved, tmp_path, data):
    from fnn.sklearn.transformer_file import PARAMETERS

    meta, columns, encoder = pipeline_meta(saved)
    target = data.draw(st.sampled_from([columns, encoder, meta["steps"][1]["step"],
                                        columns["transformers"][0]["step"]]))
    target["params"].update(data.draw(st.dictionaries(param_names, json_values, min_size=1, max_size=3)))
    try:
        model = fnn.load(rebuild(tmp_path / "fuzz.npz", saved["pipe"], meta))
    except ModelFileError:
        return
    for step in [model[0], model[0].named_transformers_["n"], model[0].named_transformers_["c"], model[1]]:
        params = step.get_params(deep=False)
        assert params.get("n_jobs") is None and params.get("copy", True) is True
    assert set(target["params"]) <= set(PARAMETERS[target["kind"]])  # loaded: nothing outside the list
    model.predict(np.round(X))


@FUZZ
@given(names=st.lists(st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=12),
                      min_size=1, max_size=4, unique=True), kind=st.sampled_from(KINDS))
def test_any_extra_arrays_are_refused(saved, tmp_path, names, kind):
    existing = set(entries(saved[kind]))
    extra = {f"{name}.npy": npy(np.arange(3)) for name in names if f"{name}.npy" not in existing}
    if not extra:
        return
    assert_refused(rebuild(tmp_path / "fuzz.npz", saved[kind], replace=extra), "not part of")


def test_metadata_costs_at_most_twice_its_size_to_read(saved, tmp_path):
    # 1.8 MB of small numbers (~30 MB as Python objects) is refused before the parse.
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__metadata__.npy", npy(np.frombuffer(b"[" + b"0," * 900_000 + b"0]", dtype=np.uint8)))
    assert_refused(path, "twice its size")


def test_a_history_of_any_length_saves_and_loads_within_its_cost(tmp_path):
    # As after 300,000 calls of partial_fit: the curves were JSON and their text passed the cap on
    # metadata (a model saved that could not be loaded); now they are float64 arrays. Loaded, a
    # curve is a Python list again (scikit-learn's convention): 32 bytes an epoch, 4x its 8 in the
    # file, and the array and the list exist together for a moment.
    import tracemalloc

    clf = fnn.FNNClassifier((5,), max_epochs=2, random_state=0).fit(X, y)
    rng = np.random.default_rng(0)
    n = 300_000
    clf.loss_curve_, clf.validation_loss_curve_ = rng.random(n).tolist(), rng.random(n).tolist()
    clf.validation_scores_ = rng.random(n).tolist()
    clf.network_.history_.train_risk = rng.random(n).tolist()
    clf.network_.history_.gradient_norms = rng.random((1000, 2)).tolist()  # (a list per epoch: ~9x its bytes)
    clf.save(tmp_path / "long.npz")
    size = (tmp_path / "long.npz").stat().st_size
    assert len(entries((tmp_path / "long.npz").read_bytes())["__metadata__.npy"]) < 10_000
    tracemalloc.start()
    try:
        loaded = fnn.load(tmp_path / "long.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert loaded.loss_curve_ == clf.loss_curve_ and loaded.validation_scores_ == clf.validation_scores_
    assert loaded.history_.gradient_norms == clf.network_.history_.gradient_norms
    assert peak < 5.5 * size + (8 << 20), (peak, size)
