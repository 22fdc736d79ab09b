"""Fitted scikit-learn transformers and pipelines in model files, as arrays and JSON (no pickle).

Supported: ``StandardScaler``, ``MinMaxScaler``, ``SimpleImputer``, ``OneHotEncoder``, fnn's
``AsNumbers`` and ``Categories`` (:mod:`fnn.sklearn.column_kinds`), ``ColumnTransformer`` and ``Pipeline``
(nested freely), and a ``Pipeline`` whose last step is an fnn estimator. Each is rebuilt from
its public fitted attributes, or, where scikit-learn keeps private state (the imputer's and the
encoder's dtypes, the column transformer's bookkeeping), by fitting it on a few synthetic rows
that reproduce the stored state exactly; the state is then compared with what the file holds, so
a file that does not rebuild exactly is refused instead of predicting differently.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Dict, List, Tuple

import numpy as np

from ..io.model_file import ModelFileError, require
from .._extras import import_optional

State = Tuple[Dict[str, Any], Dict[str, np.ndarray]]

#: What a model file can hold, for the error that names it.
SUPPORTED = ("StandardScaler, MinMaxScaler, SimpleImputer, OneHotEncoder, fnn's AsNumbers and Categories, "
             "ColumnTransformer and Pipeline, "
             "ending in an FNNClassifier or FNNRegressor")


def transformer_state(transformer, prefix: str) -> State:
    """(JSON-able description, arrays named under `prefix`) of a fitted transformer."""
    if transformer is None or isinstance(transformer, str):
        if transformer not in (None, "drop", "passthrough"):
            raise ModelFileError(f"cannot save the step {transformer!r}")
        return {"kind": transformer}, {}
    kind = type(transformer).__name__
    writer = _WRITERS.get(kind)
    if writer is None or type(transformer).__module__.split(".")[0] not in ("sklearn", "fnn"):
        raise ModelFileError(f"cannot save a {kind} in an fnn model file: it stores {SUPPORTED}")
    state, arrays = writer(transformer, prefix)
    if kind not in ("Pipeline", "FNNClassifier", "FNNRegressor"):
        state["n_features_in_"] = int(transformer.n_features_in_)
        if hasattr(transformer, "feature_names_in_"):
            arrays[prefix + "feature_names_in_"] = np.asarray(transformer.feature_names_in_, dtype=str)
    return {"kind": kind, **state}, arrays


def transformer_from_state(path, state: Dict[str, Any], arrays: Dict[str, np.ndarray], prefix: str):
    """The fitted transformer that `transformer_state` described."""
    require(isinstance(state, dict) and "kind" in state, path, "a pipeline step is not a described transformer")
    kind = state["kind"]
    if kind is None or kind in ("drop", "passthrough"):
        return kind
    reader = _READERS.get(kind)
    if reader is None:
        raise ModelFileError(f"{path}: unknown transformer kind {kind!r}")
    if kind in ("Pipeline", "FNNClassifier", "FNNRegressor"):
        return reader(path, state, arrays, prefix)
    n_features = state.get("n_features_in_")
    require(isinstance(n_features, int) and n_features >= 1, path, f"{kind}: n_features_in_ is invalid")
    names = arrays.get(prefix + "feature_names_in_")
    if names is not None:
        require(names.dtype.kind == "U" and names.shape == (n_features,), path,
                f"{kind}: feature_names_in_ must hold {n_features} names")
        names = names.astype(object)
    return reader(path, state, arrays, prefix, n_features, names)


# ---------------------------------------------------------------------------------- parameters

def _params(transformer, skip=()) -> Dict[str, Any]:
    from .estimator_base import _plain

    owner = type(transformer).__name__
    params = {name: _plain(value, name, owner) for name, value in transformer.get_params(deep=False).items()
              if name not in skip and name != "copy"}  # (a loaded transformer copies, as by default)
    allowed = PARAMETERS[owner]
    for name, value in params.items():  # what a file could not be loaded with is not written
        if name not in allowed or not allowed[name](value):
            raise ModelFileError(f"cannot save a {owner} with {name}={transformer.get_params()[name]!r} in an fnn "
                                 "model file")
    return params


def _boolean(value) -> bool:
    return isinstance(value, bool)


def _is_true(value) -> bool:
    return value is True


def _is(*allowed):
    """A check that a value is one of `allowed` (None, booleans and strings compared with their type)."""
    return lambda value: any(type(value) is type(a) and value == a for a in allowed)


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _short_text(value) -> bool:
    return isinstance(value, str) and len(value) <= 1000


def _feature_range(value) -> bool:
    return (isinstance(value, dict) and set(value) <= {"sequence", "tuple"} and isinstance(value.get("sequence"), list)
            and len(value["sequence"]) == 2 and all(_finite_number(v) for v in value["sequence"])
            and value["sequence"][0] < value["sequence"][1])


def _fill_value(value) -> bool:
    return value is None or _short_text(value) or _finite_number(value)


def _drop(value) -> bool:
    if value is None or value in ("first", "if_binary"):
        return True
    return (isinstance(value, dict) and set(value) <= {"sequence", "tuple"} and isinstance(value.get("sequence"), list)
            and all(v is None or _short_text(v) or _finite_number(v) for v in value["sequence"]))


#: The output dtypes an encoder may be given in a model file.
ENCODER_DTYPES = ("float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                  "bool")

#: Every constructor parameter a model file may give each transformer, with the check of its
#: value: a file is rebuilt from these alone, so it cannot ask for worker processes (`n_jobs`),
#: in-place changes of the caller's data (`copy=False`), weights, or a dtype that is a function
#: name. `copy` is accepted only as True, the value files written so far hold.
PARAMETERS: Dict[str, Dict[str, Any]] = {
    "StandardScaler": {"copy": _is_true, "with_mean": _boolean, "with_std": _boolean},
    "MinMaxScaler": {"copy": _is_true, "clip": _boolean, "feature_range": _feature_range},
    "SimpleImputer": {"copy": _is_true, "add_indicator": _is(False), "fill_value": _fill_value,
                      "keep_empty_features": _boolean, "strategy": _is("mean", "median", "most_frequent", "constant")},
    "OneHotEncoder": {"drop": _drop, "dtype": _is(*ENCODER_DTYPES), "feature_name_combiner": _is("concat"),
                      "handle_unknown": _is("error", "ignore", "infrequent_if_exist", "warn"),
                      "max_categories": _is(None), "min_frequency": _is(None), "sparse_output": _boolean},
    "ColumnTransformer": {"sparse_threshold": lambda v: _finite_number(v) and 0 <= v <= 1,
                          "verbose_feature_names_out": lambda v: _boolean(v) or _short_text(v),
                          "force_int_remainder_cols": _boolean},
}
PARAMETERS["Categories"] = PARAMETERS["OneHotEncoder"]


def _unparams(path, kind: str, params) -> Dict[str, Any]:
    """The constructor parameters a file gives a transformer, each checked against PARAMETERS
    before anything is built (a ModelFileError names the first that is not allowed)."""
    from .estimator_base import _unplain

    require(isinstance(params, dict), path, f"{kind}: parameters are not a mapping")
    allowed = PARAMETERS[kind]
    for name, value in params.items():
        require(name in allowed, path, f"{kind}: parameter {name!r} is not one a model file may set "
                f"(allowed: {', '.join(sorted(allowed))})")
        require(allowed[name](value), path, f"{kind}: parameter {name}={value!r} is not allowed in a model file")
    return {name: _unplain(value) for name, value in params.items()}


def _float_array(path, arrays, name: str, shape, what: str) -> np.ndarray:
    array = arrays.get(name)
    require(array is not None and array.dtype == np.float64 and array.shape == shape, path,
            f"{what} must be {shape[0] if shape else 1} float64 value(s)")
    return array


def _frame(columns: List[np.ndarray], names):
    """Rows for a synthetic fit: a DataFrame with the fitted column names (as the original was
    fitted), else an array."""
    if names is None:
        if all(column.dtype != object for column in columns):
            return np.column_stack(columns).astype(np.float64)
        return np.column_stack(columns).astype(object)
    pd = import_optional("pandas", "loading a model fitted on a DataFrame")

    if all(column.dtype == np.float64 for column in columns):  # one block: a column each costs ~25 µs
        return pd.DataFrame(np.column_stack(columns), columns=pd.Index(list(names), dtype=object))
    return pd.DataFrame({name: column for name, column in zip(names, columns)})


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values, NaN equal to NaN, for numeric or object arrays."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fiu" and b.dtype.kind in "fiu":
        return bool(np.array_equal(a, b, equal_nan=True))
    return all((x is None and y is None) or (_nan(x) and _nan(y)) or (x is not None and y is not None and x == y)
               for x, y in zip(a.ravel().tolist(), b.ravel().tolist()))


def _nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


#: How a missing entry of a text array is stored: NaN and None are different values to scikit-learn
#: (an imputer replaces NaN but keeps None, which an encoder then takes as a category).
_PRESENT, _NAN, _NONE = 0, 1, 2


def _mixed_array(values: np.ndarray, prefix: str, name: str, arrays: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """Store a 1-D array of numbers, or of text with missing entries (NaN or None), as arrays."""
    values = np.asarray(values)
    if values.dtype.kind in "fiub":
        arrays[prefix + name] = values
        return {"text": False}
    if values.dtype.kind == "U":
        values = values.astype(object)
    items = values.tolist()
    codes = np.array([_NONE if v is None else _NAN if _missing(v) else _PRESENT for v in items], dtype=np.uint8)
    if values.dtype != object or not all(isinstance(v, str) for v, c in zip(items, codes) if c == _PRESENT):
        raise ModelFileError(f"cannot save {name}: it mixes text with other values")
    arrays[prefix + name] = np.array([v if c == _PRESENT else "" for v, c in zip(items, codes)], dtype=str)
    arrays[prefix + name + "#missing"] = codes
    return {"text": True}


def _read_mixed(path, arrays, prefix: str, name: str, text: bool) -> np.ndarray:
    values = arrays.get(prefix + name)
    require(values is not None and values.ndim == 1, path, f"{name} is missing or not 1-D")
    if not text:
        require(values.dtype.kind in "fiub", path, f"{name} must hold numbers")
        return values
    codes = arrays.get(prefix + name + "#missing")
    require(values.dtype.kind == "U" and codes is not None and codes.dtype == np.uint8 and
            codes.shape == values.shape and bool((codes <= _NONE).all()), path,
            f"{name} must hold text and a missing-value code per entry")
    result = values.astype(object)
    result[codes == _NAN] = np.nan
    result[codes == _NONE] = None
    return result


# ---------------------------------------------------------------------------------- scalers

def _write_standard_scaler(scaler, prefix: str) -> State:
    arrays, absent = {}, []
    for name in ("mean_", "scale_", "var_"):
        value = getattr(scaler, name)
        if value is None:
            absent.append(name)
        else:
            arrays[prefix + name] = np.asarray(value, dtype=np.float64)
    arrays[prefix + "n_samples_seen_"] = np.asarray(scaler.n_samples_seen_, dtype=np.int64)
    return {"params": _params(scaler), "absent": absent}, arrays


def _read_standard_scaler(path, state, arrays, prefix, n_features, names):
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler(**_unparams(path, "StandardScaler", state.get("params")))
    absent = state.get("absent", [])
    require(isinstance(absent, list), path, "StandardScaler: absent is not a list")
    for name in ("mean_", "scale_", "var_"):
        value = None if name in absent else _float_array(path, arrays, prefix + name, (n_features,),
                                                          f"StandardScaler {name}")
        require(value is None or bool(np.isfinite(value).all()), path, f"StandardScaler {name} is not finite")
        setattr(scaler, name, value)
    require(scaler.scale_ is None or bool((scaler.scale_ > 0).all()), path, "StandardScaler has a non-positive scale")
    seen = arrays.get(prefix + "n_samples_seen_")
    require(seen is not None and seen.dtype.kind in "iu" and seen.size >= 1 and bool((seen > 0).all()), path,
            "StandardScaler n_samples_seen_ must be positive")
    scaler.n_samples_seen_ = int(seen) if seen.ndim == 0 else seen
    return _with_features(scaler, n_features, names)


def _write_min_max_scaler(scaler, prefix: str) -> State:
    arrays = {prefix + name: np.asarray(getattr(scaler, name), dtype=np.float64)
              for name in ("min_", "scale_", "data_min_", "data_max_", "data_range_")}
    arrays[prefix + "n_samples_seen_"] = np.asarray(scaler.n_samples_seen_, dtype=np.int64)
    return {"params": _params(scaler)}, arrays


def _read_min_max_scaler(path, state, arrays, prefix, n_features, names):
    from sklearn.preprocessing import MinMaxScaler

    scaler = MinMaxScaler(**_unparams(path, "MinMaxScaler", state.get("params")))
    for name in ("min_", "scale_", "data_min_", "data_max_", "data_range_"):
        value = _float_array(path, arrays, prefix + name, (n_features,), f"MinMaxScaler {name}")
        require(bool(np.isfinite(value).all()), path, f"MinMaxScaler {name} is not finite")
        setattr(scaler, name, value)
    seen = arrays.get(prefix + "n_samples_seen_")
    require(seen is not None and seen.dtype.kind in "iu" and seen.ndim == 0 and int(seen) > 0, path,
            "MinMaxScaler n_samples_seen_ must be positive")
    scaler.n_samples_seen_ = int(seen)
    return _with_features(scaler, n_features, names)


def _with_features(transformer, n_features, names):
    transformer.n_features_in_ = n_features
    if names is not None:
        transformer.feature_names_in_ = names
    return transformer


# ---------------------------------------------------------------------------------- imputer

def _write_imputer(imputer, prefix: str) -> State:
    if imputer.add_indicator:
        raise ModelFileError("cannot save a SimpleImputer with add_indicator=True in an fnn model file")
    if not _nan(imputer.missing_values):
        raise ModelFileError("cannot save a SimpleImputer whose missing_values is not NaN in an fnn model file")
    arrays: Dict[str, np.ndarray] = {}
    how = _mixed_array(imputer.statistics_, prefix, "statistics_", arrays)
    return {"params": _params(imputer, skip=("missing_values",)), **how}, arrays


def _read_imputer(path, state, arrays, prefix, n_features, names):
    from sklearn.impute import SimpleImputer

    params = _unparams(path, "SimpleImputer", state.get("params"))
    require(params.get("strategy") in ("mean", "median", "most_frequent", "constant"), path,
            f"SimpleImputer: unknown strategy {params.get('strategy')!r}")
    statistics = _read_mixed(path, arrays, prefix, "statistics_", bool(state.get("text")))
    require(statistics.shape == (n_features,), path, f"SimpleImputer statistics_ must hold {n_features} values")
    # One row holding the statistics: its mean, median, most frequent value and constant are the
    # statistics themselves, and fitting on it sets the dtypes scikit-learn keeps privately.
    imputer = SimpleImputer(**params).fit(_frame([statistics[j:j + 1] for j in range(n_features)], names))
    require(_same(imputer.statistics_, statistics), path, "the SimpleImputer's statistics could not be restored")
    return imputer


# ---------------------------------------------------------------------------------- one-hot encoder

def _write_encoder(encoder, prefix: str) -> State:
    if encoder.min_frequency is not None or encoder.max_categories is not None:
        raise ModelFileError("cannot save a OneHotEncoder with min_frequency or max_categories (infrequent "
                             "categories) in an fnn model file")
    if not isinstance(encoder.feature_name_combiner, str):
        raise ModelFileError("cannot save a OneHotEncoder whose feature_name_combiner is a function")
    arrays: Dict[str, np.ndarray] = {}
    columns = [_mixed_array(categories, prefix, f"categories_/{j}", arrays)
               for j, categories in enumerate(encoder.categories_)]
    explicit = not isinstance(encoder.categories, str)
    drop = None if encoder.drop_idx_ is None else [None if d is None else int(d) for d in encoder.drop_idx_]
    return {"params": _params(encoder, skip=("categories",)), "explicit_categories": explicit, "columns": columns,
            "drop_idx_": drop}, arrays


def _read_encoder(path, state, arrays, prefix, n_features, names, kind: str = "OneHotEncoder"):
    from sklearn.preprocessing import OneHotEncoder

    from .column_kinds import Categories

    encoder_class = Categories if kind == "Categories" else OneHotEncoder

    params = _unparams(path, kind, state.get("params"))
    columns = state.get("columns")
    require(isinstance(columns, list) and len(columns) == n_features and all(isinstance(c, dict) for c in columns),
            path, f"OneHotEncoder must describe {n_features} columns")
    categories = [_read_mixed(path, arrays, prefix, f"categories_/{j}", bool(c.get("text")))
                  for j, c in enumerate(columns)]
    require(all(len(c) >= 1 for c in categories), path, "OneHotEncoder has a column without categories")
    if not state.get("explicit_categories"):
        require(all(_sorted_categories(c) for c in categories), path,
                "OneHotEncoder categories learnt from data must be sorted, each once (a missing value last)")
    # Rows cycling through every column's categories: fitted with those categories given
    # explicitly, the encoder is the one that was saved.
    rows = max(len(c) for c in categories)
    synthetic = [np.array([c[i % len(c)] for i in range(rows)], dtype=c.dtype) for c in categories]
    encoder = encoder_class(categories=[np.asarray(c) for c in categories], **params).fit(_frame(synthetic, names))
    if not state.get("explicit_categories"):
        encoder.categories = "auto"
    drop = None if encoder.drop_idx_ is None else [None if d is None else int(d) for d in encoder.drop_idx_]
    require(all(_same(a, b) for a, b in zip(encoder.categories_, categories)) and drop == state.get("drop_idx_"),
            path, "the OneHotEncoder's categories could not be restored")
    return encoder


def _sorted_categories(categories: np.ndarray) -> bool:
    """Whether categories are in the order ``categories="auto"`` learns them: sorted, unique, a
    missing value (NaN) only at the end."""
    values = categories.tolist()
    while values and _missing(values[-1]):  # None and NaN, when categories, come last
        values = values[:-1]
    if any(_missing(v) for v in values):
        return False
    return all(a < b for a, b in zip(values, values[1:]))


def _read_categories(path, state, arrays, prefix, n_features, names):
    return _read_encoder(path, state, arrays, prefix, n_features, names, kind="Categories")


def _write_as_numbers(transformer, prefix: str) -> State:
    return {}, {}  # nothing but the features, which transformer_state saves


def _read_as_numbers(path, state, arrays, prefix, n_features, names):
    from .column_kinds import AsNumbers

    return AsNumbers().fit(_frame([np.zeros(1) for _ in range(n_features)], names))


# ---------------------------------------------------------------------------------- column transformer

def _write_column_transformer(ct, prefix: str) -> State:
    if ct.sparse_output_:
        raise ModelFileError("cannot save a ColumnTransformer with sparse output: fnn's estimators take dense input "
                             "(set sparse_threshold=0 or sparse_output=False on its encoders)")
    if not isinstance(ct.remainder, str):
        raise ModelFileError("cannot save a ColumnTransformer whose remainder is a transformer; list it in "
                             "transformers instead")
    if ct.transformer_weights is not None:
        raise ModelFileError("cannot save a ColumnTransformer with transformer_weights")
    arrays: Dict[str, np.ndarray] = {}
    entries = []
    fitted = ct.named_transformers_
    for i, (name, given, columns) in enumerate(ct.transformers):
        step = given if isinstance(given, str) else fitted[name]
        state, more = transformer_state(step, f"{prefix}transformers/{i}/")
        arrays.update(more)
        entries.append({"name": name, "step": state, "columns": _columns(ct, name, columns)})
    params = _params(ct, skip=("transformers", "remainder", "n_jobs", "verbose", "transformer_weights"))
    return {"params": params, "remainder": ct.remainder, "transformers": entries}, arrays


def _columns(ct, name: str, columns):
    """A transformer's columns as saved: names or indices as given, or resolved if a selector."""
    if isinstance(columns, (str, numbers.Integral)):
        return {"scalar": columns if isinstance(columns, str) else int(columns)}
    values = list(columns) if isinstance(columns, (list, tuple, np.ndarray)) else None
    if values is not None and all(isinstance(v, str) for v in values):
        return {"list": [str(v) for v in values]}
    if values is not None and all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
                                  for v in values):
        return {"list": [int(v) for v in values]}
    indices = [int(i) for i in ct._transformer_to_input_indices[name]]  # a selector, mask or slice, resolved
    if hasattr(ct, "feature_names_in_"):
        return {"list": [str(ct.feature_names_in_[i]) for i in indices]}
    return {"list": indices}


def _read_column_transformer(path, state, arrays, prefix, n_features, names):
    from sklearn.compose import ColumnTransformer

    params = _unparams(path, "ColumnTransformer", state.get("params"))
    remainder = state.get("remainder")
    require(remainder in ("drop", "passthrough"), path, f"ColumnTransformer: unknown remainder {remainder!r}")
    entries = state.get("transformers")
    require(isinstance(entries, list) and all(isinstance(e, dict) for e in entries), path,
            "ColumnTransformer: transformers is not a list")
    require(len({e.get("name") for e in entries}) == len(entries), path, "ColumnTransformer: names repeat")
    steps, specs = [], []
    for i, entry in enumerate(entries):
        name, columns = entry.get("name"), entry.get("columns")
        require(isinstance(name, str) and isinstance(columns, dict), path, "ColumnTransformer: a malformed entry")
        spec = columns["scalar"] if "scalar" in columns else columns.get("list")
        require(isinstance(spec, (str, int, list)), path, f"ColumnTransformer: the columns of {name!r} are invalid")
        steps.append(transformer_from_state(path, entry.get("step"), arrays, f"{prefix}transformers/{i}/"))
        specs.append(spec)
    # Fitting on one synthetic row with every transformer a placeholder sets the column
    # bookkeeping scikit-learn keeps privately; the restored transformers then take their places.
    # (Columns by position for that fit: scikit-learn looks names up one by one in a list of all of
    # them, quadratic in the columns; the names are put back below.)
    positions = None if names is None else {name: j for j, name in enumerate(names)}

    def positional(spec):
        if positions is None or not isinstance(spec, list) or not all(isinstance(c, str) for c in spec):
            return spec
        unknown = [c for c in spec if c not in positions]
        require(not unknown, path, f"ColumnTransformer: column(s) {unknown[:5]} are not among its features")
        return [positions[c] for c in spec]

    placeholders = [(e["name"], s if isinstance(s, str) or s is None else "passthrough", positional(c))
                    for e, s, c in zip(entries, steps, specs)]
    ct = ColumnTransformer(placeholders, remainder=remainder, **params)
    ct.fit(_frame([np.zeros(1) for _ in range(n_features)], names))
    ct.transformers = [(e["name"], s, c) for e, s, c in zip(entries, steps, specs)]
    restored = {e["name"]: s for e, s in zip(entries, steps)}
    given = {e["name"]: c for e, c in zip(entries, specs)}
    ct.transformers_ = [(name, restored[name] if name in restored and not isinstance(restored[name], str) else step,
                         given.get(name, columns)) for name, step, columns in ct.transformers_]
    for name, step, _ in ct.transformers_:
        if not isinstance(step, str):
            taken = len(ct._transformer_to_input_indices[name])
            require(step.n_features_in_ == taken, path, f"ColumnTransformer: {name!r} takes {step.n_features_in_} "
                    f"features, but is given {taken} columns")
    ct.output_indices_ = _output_indices(ct)
    return ct


def _output_indices(ct) -> Dict[str, slice]:
    """Which output columns each transformer writes, from the restored transformers' widths."""
    indices, start = {}, 0
    for name, step, _ in ct.transformers_:
        if isinstance(step, str) and step == "drop":
            width = 0
        else:
            inputs = ct._transformer_to_input_indices[name]
            given = ct.feature_names_in_[inputs] if hasattr(ct, "feature_names_in_") else None
            width = len(step.get_feature_names_out(given)) if len(inputs) else 0
        indices[name] = slice(start, start + width)
        start += width
    for name, _, _ in ct.transformers:
        indices.setdefault(name, slice(0, 0))
    indices.setdefault("remainder", slice(0, 0))
    return indices


# ---------------------------------------------------------------------------------- pipelines

def _write_pipeline(pipeline, prefix: str) -> State:
    arrays: Dict[str, np.ndarray] = {}
    steps = []
    for i, (name, step) in enumerate(pipeline.steps):
        state, more = transformer_state(step, f"{prefix}steps/{i}/")
        arrays.update(more)
        steps.append({"name": name, "step": state})
    return {"steps": steps}, arrays


def _read_pipeline(path, state, arrays, prefix):
    from sklearn.pipeline import Pipeline

    steps = state.get("steps")
    require(isinstance(steps, list) and bool(steps) and all(isinstance(s, dict) and isinstance(s.get("name"), str)
                                                      for s in steps), path, "a pipeline without valid steps")
    pipeline = Pipeline([(s["name"], transformer_from_state(path, s.get("step"), arrays, f"{prefix}steps/{i}/"))
                         for i, s in enumerate(steps)])
    width = None  # each step must take what the one before it gives
    for name, step in pipeline.steps:
        if step is None or isinstance(step, str):
            continue
        require(width is None or step.n_features_in_ == width, path,
                f"step {name!r} takes {step.n_features_in_} features, but the step before it gives {width}")
        width = len(step.get_feature_names_out()) if hasattr(step, "get_feature_names_out") else None
    return pipeline


def _write_estimator(estimator, prefix: str) -> State:
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator, "network_")
    metadata, arrays = estimator._file_contents()
    return metadata, {prefix + name: array for name, array in arrays.items()}


def _read_estimator(path, state, arrays, prefix):
    import importlib

    module = importlib.import_module(".classifier" if state["kind"] == "FNNClassifier" else ".regressor", __package__)
    return getattr(module, state["kind"])._from_file(path, state, arrays.under(prefix))


_WRITERS = {
    "StandardScaler": _write_standard_scaler, "MinMaxScaler": _write_min_max_scaler,
    "SimpleImputer": _write_imputer, "OneHotEncoder": _write_encoder, "Categories": _write_encoder,
    "AsNumbers": _write_as_numbers, "ColumnTransformer": _write_column_transformer, "Pipeline": _write_pipeline,
    "FNNClassifier": _write_estimator, "FNNRegressor": _write_estimator,
}
# (Any: the readers take different arguments; _transformer_from_state calls each as its kind needs.)
_READERS: Dict[str, Any] = {
    "StandardScaler": _read_standard_scaler, "MinMaxScaler": _read_min_max_scaler,
    "SimpleImputer": _read_imputer, "OneHotEncoder": _read_encoder, "Categories": _read_categories,
    "AsNumbers": _read_as_numbers, "ColumnTransformer": _read_column_transformer, "Pipeline": _read_pipeline,
    "FNNClassifier": _read_estimator, "FNNRegressor": _read_estimator,
}


# ---------------------------------------------------------------------------------- files

def save_pipeline(pipeline, path) -> None:
    """Write a fitted Pipeline of supported transformers ending in an fnn estimator."""
    from ..io.model_file import write_model

    steps = pipeline.steps
    if not steps or type(steps[-1][1]).__name__ not in ("FNNClassifier", "FNNRegressor"):
        raise ModelFileError(f"cannot save this Pipeline: its last step must be an FNNClassifier or FNNRegressor "
                             f"(it is {type(steps[-1][1]).__name__ if steps else 'missing'})")
    state, arrays = _write_pipeline(pipeline, "")
    write_model(path, "Pipeline", state, arrays)


def _check_parameters(path, state) -> None:
    """Every transformer's parameters in a described pipeline checked against PARAMETERS before
    anything is built (the estimator, built last, checks its own)."""
    if not isinstance(state, dict):
        return
    if state.get("kind") in PARAMETERS:
        _unparams(path, state["kind"], state.get("params", {}))
    for key in ("steps", "transformers"):
        entries = state.get(key)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                _check_parameters(path, entry.get("step"))


def _load_pipeline(path, header, arrays):
    _check_parameters(path, header)
    pipeline = _read_pipeline(path, header, arrays, "")
    final = pipeline.steps[-1][1]
    require(type(final).__name__ in ("FNNClassifier", "FNNRegressor"), path,
            "the pipeline does not end in an fnn estimator")
    return pipeline


def _register() -> None:
    from ..io.model_file import register

    register("Pipeline", _load_pipeline, save_pipeline)


_register()
