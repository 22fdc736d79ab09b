"""``fnn.to_onnx``: a network, an estimator or a whole pipeline as an ONNX model, and skl2onnx's
converters for fnn's estimators (so that ``skl2onnx.to_onnx`` converts any scikit-learn
``Pipeline`` that ends in one).

What each kind of model becomes:

- :class:`fnn.Network`: input ``X`` (n, m⁽⁰⁾), output ``y_hat`` = a⁽ᴸ⁾, as ``Network.forward``.
- :class:`fnn.FNNClassifier`: input ``X``; outputs ``label`` (n,) and ``probabilities`` (n, C), as
  skl2onnx lays a classifier out with ``zipmap=False`` (a multi-label classifier's ``label`` is its
  (n, k) 0/1 matrix).
- :class:`fnn.FNNRegressor`: input ``X``; output ``variable`` (n, k), skl2onnx's regressor output
  (a 1-D target is a column).
- ``fnn.with_preprocessing(...)`` (and the command line's models): one input per table column,
  named as the column: numbers as double (n, 1), missing values NaN; text and categorical columns
  as strings (n, 1), a missing value the empty string. :func:`onnx_inputs` makes that dictionary
  from a DataFrame exactly as fnn reads it.
- any other scikit-learn ``Pipeline`` ending in an fnn estimator: through skl2onnx, input ``X``.

A bfloat16 network exports its float32 weights: onnxruntime computes in float32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from .._extras import import_optional
from .onnx_graph import (
    DEFAULT_OPSET, MINIMUM_OPSET, Graph, classifier_nodes, label_type, model_proto, network_nodes, onnx_modules,
    outputs_of, regressor_nodes,
)

#: What a missing value of a text column is in an ONNX string input (string tensors hold no NaN).
MISSING_TEXT = ""


def to_onnx(model, path: Union[str, Path, None] = None, *, opset: Optional[int] = None):
    """The ONNX model (an ``onnx.ModelProto``, checked by ``onnx.checker``) that predicts as `model` does.

    The outputs are laid out as scikit-learn's converters lay them out (see :mod:`fnn.deploy.onnx_export`);
    onnxruntime's predictions match fnn's to the rounding of its own products (probabilities within
    1e-5 in float32). Needs ``pip install 'fnn[onnx]'``.

    Parameters
    ----------
    model : fnn.Network, fnn.FNNClassifier, fnn.FNNRegressor or a fitted scikit-learn Pipeline
        A fitted model; a pipeline made by :func:`fnn.with_preprocessing` (or saved by ``fnn train``)
        gets one ONNX input per table column, any other pipeline ending in an fnn estimator goes
        through skl2onnx.
    path : str or Path, optional
        Also write the model to this file (``.onnx``).
    opset : int, optional
        The ONNX operator set (default 17; at least 13).
    """
    onnx, _, _ = onnx_modules()
    opset = _checked_opset(opset)
    if _is_pipeline(model):
        proto = _pipeline_proto(model, opset)
    else:
        graph = Graph(opset, dtype=_network_of(model).dtype)
        inputs, outputs = _model_nodes(graph, model, "X")
        proto = model_proto(graph, inputs, outputs, type(model).__name__, _doc(model))
    if path is not None:
        onnx.save_model(proto, str(path))
    return proto


def _checked_opset(opset) -> int:
    if opset is None:
        return DEFAULT_OPSET
    onnx, _, _ = onnx_modules()
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not MINIMUM_OPSET <= opset <= newest:
        raise ValueError(f"opset must be an integer from {MINIMUM_OPSET} to {newest} (this onnx package's newest), "
                         f"got {opset!r}")
    return int(opset)


def _is_pipeline(model) -> bool:
    return hasattr(model, "steps") and hasattr(model, "named_steps")


def _network_of(model):
    from ..network import Network

    if isinstance(model, Network):
        return model
    from ..sklearn.estimator_base import FNNEstimator

    if isinstance(model, FNNEstimator):
        if not hasattr(model, "network_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this {type(model).__name__} is not fitted yet: fit it before exporting it")
        return model.network_
    raise TypeError(f"to_onnx exports an fnn.Network, an FNNClassifier, an FNNRegressor or a Pipeline ending in one, "
                    f"not {type(model).__name__}")


def _model_nodes(graph: Graph, model, x: str) -> Tuple[List, List]:
    """Adds the nodes of a Network or an estimator reading the input `x`; returns the graph's
    inputs and outputs (ValueInfoProtos)."""
    from ..network import Network

    network = _network_of(model)
    features = network.widths[0]
    inputs = [graph.helper.make_tensor_value_info(x, graph.tensor_type(), [None, features])]
    element = graph.tensor_type()
    if isinstance(model, Network):
        y_hat = network_nodes(graph, network, x)
        graph.node("Identity", [y_hat], outputs=["y_hat"])
        return inputs, outputs_of(graph, {"y_hat": (element, [None, network.widths[-1]])})
    if hasattr(model, "classes_"):
        label = label_type(model)
        multilabel = model._target_kind == "multilabel-indicator"
        classifier_nodes(graph, model, x, "label", "probabilities")
        return inputs, outputs_of(graph, {"label": (label, [None, model.classes_.size] if multilabel else [None]),
                                          "probabilities": (element, [None, _probability_columns(model)])})
    regressor_nodes(graph, model, x, "variable")
    return inputs, outputs_of(graph, {"variable": (element, [None, network.widths[-1]])})


def _probability_columns(classifier) -> int:
    return 2 if classifier._target_kind == "binary" else classifier.classes_.size


def _doc(model) -> str:
    from .._version import __version__

    return f"{type(model).__name__} exported by fnn {__version__}: {model!r}"


# ------------------------------------------------------------------ pipelines


def _pipeline_proto(pipeline, opset: int):
    """A pipeline of fnn's preprocessing and an fnn estimator, built here; any other through skl2onnx."""
    *steps, (_, final) = pipeline.steps
    network = _network_of(final)
    if len(steps) == 1 and _is_fnn_preprocessor(steps[0][1]):
        graph = Graph(opset, dtype=network.dtype)
        inputs, x = _preprocessor_nodes(graph, steps[0][1])
        _, outputs = _model_nodes(graph, final, x)
        return model_proto(graph, inputs, outputs, "Pipeline", _doc(pipeline))
    return _through_skl2onnx(pipeline, network, opset)


def _is_fnn_preprocessor(step) -> bool:
    """fnn's tabular preprocessor: a ColumnTransformer of numbers (AsNumbers, then SimpleImputer) and
    Categories, nothing passed through."""
    from sklearn.compose import ColumnTransformer

    from ..sklearn.column_kinds import Categories

    if not isinstance(step, ColumnTransformer) or not hasattr(step, "transformers_"):
        return False
    for _, transformer, _ in step.transformers_:
        if transformer == "drop" or isinstance(transformer, Categories) or _numbers_imputer(transformer) is not None:
            continue
        return False
    return True


def _numbers_imputer(transformer):
    """The SimpleImputer of fnn's numbers pipeline (AsNumbers, then SimpleImputer), else None."""
    from sklearn.impute import SimpleImputer

    from ..sklearn.column_kinds import AsNumbers

    steps = getattr(transformer, "steps", None)
    if steps and len(steps) == 2 and isinstance(steps[0][1], AsNumbers) and isinstance(steps[1][1], SimpleImputer):
        return steps[1][1]
    return None


def _column_positions(preprocessor, columns) -> List[int]:
    """A fitted ColumnTransformer's resolved column choice (mask, positions or names) as positions."""
    if isinstance(columns, slice):
        return list(range(len(preprocessor.feature_names_in_)))[columns]
    columns = np.atleast_1d(np.asarray(columns))
    if columns.dtype == bool:
        return np.flatnonzero(columns).tolist()
    if columns.dtype.kind in "iu":
        return columns.tolist()
    names = {str(name): j for j, name in enumerate(preprocessor.feature_names_in_)}
    return [names[str(name)] for name in columns]


def _input_names(preprocessor) -> List[str]:
    names = getattr(preprocessor, "feature_names_in_", None)
    if names is None:
        return [f"x{j}" for j in range(preprocessor.n_features_in_)]
    return [str(name) for name in names]


def _preprocessor_nodes(graph: Graph, preprocessor) -> Tuple[List, str]:
    """One input per column the preprocessor uses; returns them and the name of the features it
    makes (in the network's dtype, in the ColumnTransformer's order)."""
    names = _input_names(preprocessor)
    used: Dict[int, object] = {}
    blocks = []
    for _, transformer, columns in preprocessor.transformers_:
        if transformer == "drop":
            continue
        positions = _column_positions(preprocessor, columns)
        if not positions:
            continue
        imputer = _numbers_imputer(transformer)
        if imputer is not None:
            for j in positions:
                used[j] = np.float64
            blocks.append(_numbers_nodes(graph, imputer, [names[j] for j in positions]))
        else:
            for j in positions:
                used[j] = object
            blocks.append(_categories_nodes(graph, transformer, [names[j] for j in positions]))
    inputs = [graph.helper.make_tensor_value_info(names[j], graph.tensor_type(kind) if kind is not object else
                                                  graph.onnx.TensorProto.STRING, [None, 1])
              for j, kind in sorted(used.items())]
    features = blocks[0] if len(blocks) == 1 else graph.node("Concat", blocks, "features", axis=1)
    return inputs, features


def _numbers_nodes(graph: Graph, imputer, columns: List[str]) -> str:
    """Missing values (NaN) replaced by the imputer's statistics (float64, as scikit-learn), columns
    it dropped (missing throughout training) left out, then the network's dtype."""
    if imputer.strategy not in ("median", "mean", "most_frequent", "constant") or imputer.add_indicator \
            or not (isinstance(imputer.missing_values, float) and np.isnan(imputer.missing_values)):
        raise ValueError(f"{imputer!r} has no ONNX form here: fnn exports SimpleImputer replacing NaN, without "
                         "an indicator")
    x = columns[0] if len(columns) == 1 else graph.node("Concat", columns, "numbers", axis=1)
    statistics = np.asarray(imputer.statistics_, dtype=np.float64)
    kept = ~np.isnan(statistics) if not getattr(imputer, "keep_empty_features", False) else np.ones_like(
        statistics, dtype=bool)
    if not kept.all():
        x = graph.node("Gather", [x, graph.constant("kept_columns", np.flatnonzero(kept), np.int64)], axis=1)
    filled = np.where(np.isnan(statistics[kept]), 0.0, statistics[kept])
    imputed = graph.node("Where", [graph.node("IsNaN", [x]), graph.constant("statistics", filled, np.float64), x],
                         "imputed")
    return graph.node("Cast", [imputed], to=graph.tensor_type())


def _categories_nodes(graph: Graph, encoder, columns: List[str]) -> str:
    """One-hot codes of each text column (ai.onnx.ml's OneHotEncoder; a category not seen in
    training is all zeros, as ``handle_unknown="ignore"``), in the network's dtype."""
    if encoder.drop is not None or encoder.min_frequency is not None or encoder.max_categories is not None:
        raise ValueError(f"{encoder!r} has no ONNX form here: fnn exports one-hot encoders without drop, "
                         "min_frequency or max_categories")
    blocks = []
    for column, categories in zip(columns, encoder.categories_):
        names = [MISSING_TEXT if _missing(c) else str(c) for c in categories.tolist()]
        if len(set(names)) < len(names):
            raise ValueError(f"column {column!r} has both missing values and the empty string among its categories: "
                             f"ONNX string inputs carry a missing value as {MISSING_TEXT!r}, so the two cannot be "
                             "told apart")
        codes = graph.node("OneHotEncoder", [column], domain="ai.onnx.ml", cats_strings=names, zeros=1)
        blocks.append(graph.node("Reshape", [codes, graph.constant("one_hot_shape", [-1, len(names)], np.int64)]))
    x = blocks[0] if len(blocks) == 1 else graph.node("Concat", blocks, "one_hot", axis=1)
    return graph.node("Cast", [x], to=graph.tensor_type())  # (ai.onnx.ml's OneHotEncoder gives float32)


def _missing(value) -> bool:
    from ..sklearn.column_kinds import _missing as missing

    return missing(value)


def onnx_inputs(model, X) -> Dict[str, np.ndarray]:
    """The input dictionary for ``onnxruntime.InferenceSession.run`` of ``to_onnx(model)``, made from
    the rows `X` that ``model.predict`` would take: for a pipeline of fnn's preprocessing, a DataFrame
    read column by column as fnn reads it (numbers as float64 with what is not a number NaN; text as
    fnn's category names, a missing value ``""``); otherwise ``{"X": X}`` in the network's dtype."""
    if _is_pipeline(model) and len(model.steps) == 2 and _is_fnn_preprocessor(model.steps[0][1]):
        return _column_inputs(model.steps[0][1], X)
    network = _network_of(model.steps[-1][1] if _is_pipeline(model) else model)
    return {"X": np.ascontiguousarray(X, dtype=network.dtype)}


def _column_inputs(preprocessor, frame) -> Dict[str, np.ndarray]:
    from ..sklearn.column_kinds import AsNumbers, _column, as_text

    names = _input_names(preprocessor)
    feed = {}
    for _, transformer, columns in preprocessor.transformers_:
        if transformer == "drop":
            continue
        numbers = _numbers_imputer(transformer) is not None
        for j in _column_positions(preprocessor, columns):
            column = _column(frame, j)
            if numbers:
                with np.errstate(invalid="ignore"):
                    values = AsNumbers().fit(column[:, None]).transform(column[:, None])
                feed[names[j]] = values.astype(np.float64)
            else:
                text = as_text(column)
                feed[names[j]] = np.array([MISSING_TEXT if _missing(v) else v for v in text.tolist()],
                                          dtype=object)[:, None]
    return feed


# ------------------------------------------------------------------ skl2onnx


def register_onnx_converters() -> None:
    """Teaches skl2onnx fnn's estimators: afterwards ``skl2onnx.to_onnx(pipeline, X[:1])`` converts a
    scikit-learn Pipeline ending in an FNNClassifier or FNNRegressor like any scikit-learn model (a
    classifier's ``zipmap`` option as for scikit-learn's). Needs skl2onnx (``pip install 'fnn[onnx]'``).
    Idempotent; :func:`to_onnx` calls it when it needs skl2onnx."""
    update_registered_converter, _ = _skl2onnx()
    from ..sklearn.classifier import FNNClassifier
    from ..sklearn.regressor import FNNRegressor

    update_registered_converter(FNNClassifier, "FnnFNNClassifier", _classifier_shapes, _convert_classifier,
                                options={"zipmap": [True, False, "columns"], "nocl": [True, False]})
    update_registered_converter(FNNRegressor, "FnnFNNRegressor", _regressor_shapes, _convert_regressor)


def _skl2onnx():
    skl2onnx = import_optional("skl2onnx", "converting a scikit-learn pipeline to ONNX")
    return skl2onnx.update_registered_converter, skl2onnx


def _tensor_types(dtype):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    return DoubleTensorType if np.dtype(dtype) == np.float64 else FloatTensorType


def _classifier_shapes(operator) -> None:
    from onnx import TensorProto
    from skl2onnx.common.data_types import Int64TensorType, StringTensorType

    model = operator.raw_operator
    if model._target_kind == "multilabel-indicator":
        raise ValueError("skl2onnx's classifier outputs hold one label per row: export a multi-label FNNClassifier "
                         "with fnn.to_onnx")
    element = label_type(model)
    if element == TensorProto.DOUBLE:
        raise ValueError(f"skl2onnx's classifiers label with integers or text, and this FNNClassifier's classes_ are "
                         f"floating-point numbers ({list(model.classes_)[:5]}): fit it on integer labels, or export "
                         "it with fnn.to_onnx, whose label output may be double")
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = (Int64TensorType if element == TensorProto.INT64 else StringTensorType)([n])
    operator.outputs[1].type = _tensor_types(model.network_.dtype)([n, _probability_columns(model)])


def _regressor_shapes(operator) -> None:
    model = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = _tensor_types(model.network_.dtype)([n, model.network_.widths[-1]])


def _convert_classifier(scope, operator, container) -> None:
    graph, x = _converter_graph(scope, operator, container)
    classifier_nodes(graph, operator.raw_operator, x, operator.outputs[0].full_name, operator.outputs[1].full_name)
    _into_container(graph, container)


def _convert_regressor(scope, operator, container) -> None:
    graph, x = _converter_graph(scope, operator, container)
    regressor_nodes(graph, operator.raw_operator, x, operator.outputs[0].full_name)
    _into_container(graph, container)


def _converter_graph(scope, operator, container) -> Tuple[Graph, str]:
    """A Graph for one converter call (names unique in skl2onnx's scope) and its input, cast to the
    network's dtype when the step before gives another."""
    network = operator.raw_operator.network_
    opset = container.target_opset if isinstance(container.target_opset, int) else DEFAULT_OPSET
    graph = Graph(max(opset, MINIMUM_OPSET), prefix=scope.get_unique_variable_name("fnn") + "_", dtype=network.dtype)
    x = operator.inputs[0].full_name
    if operator.inputs[0].type.to_onnx_type().tensor_type.elem_type != graph.tensor_type():
        x = graph.node("Cast", [x], to=graph.tensor_type())
    return graph, x


def _into_container(graph: Graph, container) -> None:
    onnx, helper, _ = onnx_modules()
    for tensor in graph.initializers:
        content = list(tensor.string_data) if tensor.data_type == onnx.TensorProto.STRING else tensor
        container.add_initializer(tensor.name, tensor.data_type, list(tensor.dims), content)
    for node in graph.nodes:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(node.op_type, list(node.input), list(node.output), op_domain=node.domain, name=node.name,
                           **attributes)


def _through_skl2onnx(pipeline, network, opset: int):
    _, skl2onnx = _skl2onnx()
    register_onnx_converters()
    features = getattr(pipeline, "n_features_in_", None)
    if features is None:
        raise ValueError("the pipeline does not say how many features it takes (n_features_in_): fit it first")
    try:
        proto = skl2onnx.to_onnx(pipeline, initial_types=[("X", _tensor_types(network.dtype)([None, features]))],
                                 target_opset={"": opset, "ai.onnx.ml": 3}, options={id(pipeline.steps[-1][1]): {
                                     "zipmap": False}} if hasattr(pipeline.steps[-1][1], "classes_") else None)
    except Exception as error:  # skl2onnx's own messages say which step it could not convert
        raise ValueError(f"skl2onnx could not convert this pipeline: {error}") from error
    return proto
