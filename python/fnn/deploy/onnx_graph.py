"""The ONNX nodes of a network and of an estimator's prediction, built with the ``onnx`` package.

A :class:`Graph` collects nodes and constants under a name prefix; :func:`network_nodes` adds the
forward pass (4.28)-(4.32) of a :class:`fnn.Network` (Gemm, then each layer's activation as the
chapter defines it); :func:`classifier_nodes` and :func:`regressor_nodes` add what the estimators
do around it (input standardisation, labels and probabilities as scikit-learn's converters lay
them out, the regressor's target un-standardisation). The same nodes serve a whole model
(:func:`fnn.to_onnx`) and skl2onnx's converters (:mod:`fnn.deploy.onnx_export`).

Every constant takes the network's dtype and every operation is the one fnn computes in that
dtype (x − μ then ÷ s, a Wᵀ + b, …), so onnxruntime's outputs differ from fnn's only by the
rounding of its own matrix products and exponentials.
"""

from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from .._extras import import_optional

#: The opset of the default ``to_onnx``: ONNX 1.12 (2022) and every onnxruntime since 1.12 read it.
DEFAULT_OPSET = 17
#: The lowest opset the graphs need (Clip's bounds as inputs, Softmax on one axis, GreaterOrEqual).
MINIMUM_OPSET = 13
#: The ai.onnx.ml operator set (its OneHotEncoder, for the text columns of a pipeline).
ML_OPSET = 3


def onnx_modules():
    """The ``onnx`` package and its ``helper`` and ``numpy_helper``, or one line naming the extra."""
    onnx = import_optional("onnx", "exporting to ONNX")
    from onnx import helper, numpy_helper

    return onnx, helper, numpy_helper


class Graph:
    """Nodes and constants of an ONNX graph under construction; every name it makes starts with
    `prefix` (unique within a skl2onnx scope)."""

    def __init__(self, opset: int, prefix: str = "", dtype=np.float32):
        self.onnx, self.helper, self.numpy_helper = onnx_modules()
        self.opset = opset
        self.prefix = prefix
        self.dtype = np.dtype(dtype)
        self.nodes: List = []
        self.initializers: List = []
        self.uses_ml = False
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{self.prefix}{hint}_{self._count}"

    def constant(self, hint: str, value, dtype=None) -> str:
        """A constant tensor (in the graph's dtype unless `dtype` is given)."""
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.name(hint)
        if array.dtype.kind in "OU":
            tensor = self.helper.make_tensor(name, self.onnx.TensorProto.STRING, array.shape,
                                             [str(v).encode("utf-8") for v in array.ravel()])
        else:
            tensor = self.numpy_helper.from_array(np.ascontiguousarray(array), name)
        self.initializers.append(tensor)
        return name

    def node(self, op: str, inputs: List[str], hint: Optional[str] = None, *, outputs: Optional[List[str]] = None,
             domain: str = "", **attributes) -> str:
        """Adds one node; returns its (first) output's name."""
        outputs = outputs or [self.name(hint or op.lower())]
        if domain == "ai.onnx.ml":
            self.uses_ml = True
        self.nodes.append(self.helper.make_node(op, inputs, outputs, name=self.name(f"{op}_node"), domain=domain,
                                                **attributes))
        return outputs[0]

    def tensor_type(self, dtype=None) -> int:
        return self.helper.np_dtype_to_tensor_dtype(np.dtype(self.dtype if dtype is None else dtype))

    def reduce_max(self, x: str, axis: int) -> str:
        """max over one axis, dropped (ReduceMax took its axes as an attribute before opset 18)."""
        if self.opset >= 18:
            return self.node("ReduceMax", [x, self.constant("axes", [axis], np.int64)], keepdims=0)
        return self.node("ReduceMax", [x], axes=[axis], keepdims=0)


def activation_nodes(graph: Graph, activation, z: str, slopes: Optional[np.ndarray], units: int) -> str:
    """a = f(z) for a hidden layer, as the chapter defines f (section 4.1)."""
    name = activation.name
    if name == "identity":
        return z
    if name in ("logistic", "tanh", "relu"):
        return graph.node({"logistic": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}[name], [z])
    # onnxruntime has Softplus and Elu for float32 only: in float64 they are spelt out, as fnn computes them.
    if name == "softplus":  # (4.25): max(x, 0) + log(1 + exp(−|x|))
        if graph.dtype == np.float32:
            return graph.node("Softplus", [z])
        tail = graph.node("Log", [graph.node("Add", [graph.constant("one", 1.0), graph.node(
            "Exp", [graph.node("Neg", [graph.node("Abs", [z])])])])])
        return graph.node("Add", [graph.node("Relu", [z]), tail])
    if name == "elu" and graph.dtype != np.float32:  # (4.24): max(0, x) + min(0, γ(exp(x) − 1))
        below = graph.node("Mul", [graph.constant("gamma", activation.gamma), graph.node(
            "Sub", [graph.node("Exp", [z]), graph.constant("one", 1.0)])])
        return graph.node("Add", [graph.node("Relu", [z]), graph.node("Min", [below, graph.constant("zero", 0.0)])])
    if name == "hard_logistic":  # (4.11): max(min(0.25x + 0.5, 1), 0)
        # (HardSigmoid computes the same, but onnxruntime has it for float32 only.)
        line = graph.node("Add", [graph.node("Mul", [z, graph.constant("quarter", 0.25)]), graph.constant("half", 0.5)])
        return graph.node("Clip", [line, graph.constant("zero", 0.0), graph.constant("one", 1.0)])
    if name == "hard_tanh":  # (4.15)
        return graph.node("Clip", [z, graph.constant("minus_one", -1.0), graph.constant("one", 1.0)])
    if name == "leaky_relu":  # (4.19), as PRelu with a constant slope: LeakyRelu's α is a float32 attribute
        return graph.node("PRelu", [z, graph.constant("gamma", [activation.gamma])])
    if name == "elu":  # (4.24)
        return graph.node("Elu", [z], alpha=float(activation.gamma))
    if name == "prelu":  # (4.22): one slope per unit, or one for the layer (broadcast)
        return graph.node("PRelu", [z, graph.constant("slopes", slopes)])
    if name == "maxout":  # (4.27): the K net inputs of each unit side by side, their max
        pieces = graph.node("Reshape", [z, graph.constant("pieces_shape", [-1, units, activation.pieces], np.int64)])
        return graph.reduce_max(pieces, axis=2)
    raise ValueError(f"the activation {activation!r} has no ONNX form")


def network_nodes(graph: Graph, network, x: str) -> str:
    """The forward pass of `network` from the input `x` (rows of features in the network's dtype);
    returns the name of ŷ = a⁽ᴸ⁾, shape (n, m⁽ᴸ⁾)."""
    parameters = network.parameters()
    a = x
    for l in range(1, network.n_layers + 1):
        weights = parameters[f"weights_{l}"]
        units = network.widths[l]
        W = weights.reshape(-1, weights.shape[-1])  # a maxout layer's (m, K, m⁽ˡ⁻¹⁾) as (m·K, m⁽ˡ⁻¹⁾)
        b = parameters[f"biases_{l}"].reshape(-1)
        z = graph.node("Gemm", [a, graph.constant(f"weights_{l}", W), graph.constant(f"biases_{l}", b)], f"z_{l}",
                       transB=1)  # z = a Wᵀ + b (4.30), one row per sample
        if l < network.n_layers:
            a = activation_nodes(graph, network.layer_activation(l), z, parameters.get(f"slopes_{l}"), units)
        else:
            a = output_nodes(graph, network.output, z)
    return a


def output_nodes(graph: Graph, output: str, z: str) -> str:
    """ŷ = the output layer's activation of z⁽ᴸ⁾: softmax (4.37), logistic units or the identity."""
    if output == "softmax":
        return graph.node("Softmax", [z], "y_hat", axis=1)
    if output == "logistic":
        return graph.node("Sigmoid", [z], "y_hat")
    return z


def standardised(graph: Graph, x: str, scaler) -> str:
    """(x − μ) ÷ s with the estimator's input scaler (in the network's dtype, as fnn computes it)."""
    if scaler is None:
        return x
    centred = graph.node("Sub", [x, graph.constant("input_mean", scaler.mean_)])
    return graph.node("Div", [centred, graph.constant("input_scale", scaler.scale_)], "scaled")


def classifier_nodes(graph: Graph, classifier, x: str, label: str, probabilities: str) -> None:
    """`label` (n,) from ``classes_`` and `probabilities` (n, C) as ``predict``/``predict_proba``
    give them; a multi-label classifier's `label` is its (n, k) 0/1 indicator matrix (int64)."""
    p = network_nodes(graph, classifier.network_, standardised(graph, x, getattr(classifier, "input_scaler_", None)))
    kind = classifier._target_kind
    if kind == "multilabel-indicator":
        graph.node("Identity", [p], outputs=[probabilities])
        at_least_half = graph.node("GreaterOrEqual", [p, graph.constant("half", 0.5)])
        graph.node("Cast", [at_least_half], outputs=[label], to=graph.onnx.TensorProto.INT64)
        return
    if kind == "binary":  # p(y = classes_[1] | x) in one logistic unit (4.36)
        graph.node("Concat", [graph.node("Sub", [graph.constant("one", 1.0), p]), p], outputs=[probabilities],
                   axis=1)
        positive = graph.node("Reshape", [p, graph.constant("flat", [-1], np.int64)])
        chosen = graph.node("Cast", [graph.node("GreaterOrEqual", [positive, graph.constant("half", 0.5)])],
                            to=graph.onnx.TensorProto.INT64)
    else:
        graph.node("Identity", [p], outputs=[probabilities])
        chosen = graph.node("ArgMax", [p], axis=1, keepdims=0)  # the first of equal maxima, as NumPy's
    labels = label_values(classifier.classes_)
    graph.node("Gather", [graph.constant("classes", labels, labels.dtype), chosen], outputs=[label], axis=0)


def label_values(classes: np.ndarray) -> np.ndarray:
    """``classes_`` as an ONNX label tensor holds them: int64, float64 or text; other labels are refused."""
    kind = classes.dtype.kind
    if kind in "iub":
        return classes.astype(np.int64)
    if kind == "f":
        return classes.astype(np.float64)
    if kind == "U" or (kind == "O" and all(isinstance(c, str) for c in classes)):
        return classes.astype(str).astype(object)
    raise ValueError(f"classes_ {list(classes)[:5]} mix types: an ONNX label tensor holds numbers or text, one type")


def label_type(classifier) -> int:
    """The ONNX element type of the classifier's label output."""
    from onnx import TensorProto

    if classifier._target_kind == "multilabel-indicator":
        return TensorProto.INT64
    return {"i": TensorProto.INT64, "f": TensorProto.DOUBLE, "O": TensorProto.STRING}[
        label_values(classifier.classes_).dtype.kind]


def regressor_nodes(graph: Graph, regressor, x: str, variable: str) -> None:
    """ŷ in the targets' units, (n, k): the network's output × s_y + μ_y (``target_scaling``)."""
    y_hat = network_nodes(graph, regressor.network_, standardised(graph, x, getattr(regressor, "input_scaler_", None)))
    scaled = graph.node("Mul", [y_hat, graph.constant("target_scale", regressor.target_scale_)])
    graph.node("Add", [scaled, graph.constant("target_mean", regressor.target_mean_)], outputs=[variable])


def model_proto(graph: Graph, inputs: List, outputs: List, name: str, doc: str):
    """A checked ModelProto of the graph's nodes with these inputs and outputs (ValueInfoProtos)."""
    onnx, helper = graph.onnx, graph.helper
    opsets = [helper.make_opsetid("", graph.opset)]
    if graph.uses_ml:
        opsets.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
    model = helper.make_model(helper.make_graph(graph.nodes, name, inputs, outputs, graph.initializers),
                              opset_imports=opsets, producer_name="fnn", doc_string=doc)
    # The oldest file format these opsets allow (make_model writes the onnx package's newest, which
    # runtimes older than that package refuse to read).
    model.ir_version = helper.find_min_ir_version_for(opsets, ignore_unknown=True)
    from .._version import __version__

    model.producer_version = __version__
    onnx.checker.check_model(model, full_check=True)
    return model


def outputs_of(graph: Graph, names_and_types: Dict[str, tuple]) -> List:
    """ValueInfoProtos for `name: (element type, shape)`."""
    return [graph.helper.make_tensor_value_info(name, element, shape) for name, (element, shape) in
            names_and_types.items()]
