"""int8 ONNX files: int8 weights, float32 arithmetic, so results never depend on batching.

Why weight-only quantisation rather than onnxruntime's dynamic quantisation:
dynamic quantisation picks one int8 scale for the activations of the whole
batch, so a post's embedding (and every score read from it) changed with the
posts it happened to be batched with, by up to 2% in cosine. An analyst or a
duty inspector must get the same score for the same post every time. Here
each weight matrix is stored as int8 with one float scale per output channel
(symmetric, zero point 0) behind a ``DequantizeLinear`` node; onnxruntime folds
those nodes into float32 weights once, when the session is created, so
inference runs at full float speed and is exactly batch-independent, while the
file is a quarter of the float size.

Writing (:func:`quantise_weights`) needs the ``onnx`` package (training only);
loading (:func:`session`) needs only onnxruntime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

MIN_SIZE = 256  # smaller tensors (biases, norms) stay float: nothing to gain


def quantise_weights(model: Any) -> Any:
    """Replace each large float ``MatMul``/``Gather`` weight of ``model`` with int8 + scales.

    ``MatMul`` weights ``(k, n)`` get one scale per output column; ``Gather``
    tables (token embeddings) one scale per row. Returns the same ModelProto.
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    nodes: list[Any] = []
    done: set[str] = set()
    for node in graph.node:
        index = {"MatMul": 1, "Gather": 0}.get(node.op_type)
        name = node.input[index] if index is not None else ""
        init = inits.get(name)
        if (
            init is not None
            and name not in done
            and init.data_type == TensorProto.FLOAT
            and len(init.dims) == 2
            and int(np.prod(init.dims)) >= MIN_SIZE
        ):
            w = numpy_helper.to_array(init).astype(np.float32)
            axis = 1 if node.op_type == "MatMul" else 0
            scale = np.abs(w).max(axis=1 - axis) / 127.0
            scale[scale == 0] = 1.0
            shape = (1, -1) if axis == 1 else (-1, 1)
            q = np.clip(np.rint(w / scale.reshape(shape)), -127, 127).astype(np.int8)
            graph.initializer.remove(init)
            graph.initializer.extend(
                [
                    numpy_helper.from_array(q, f"{name}_int8"),
                    numpy_helper.from_array(scale.astype(np.float32), f"{name}_scale"),
                    numpy_helper.from_array(np.zeros(scale.shape, np.int8), f"{name}_zero"),
                ]
            )
            nodes.append(
                helper.make_node(
                    "DequantizeLinear",
                    [f"{name}_int8", f"{name}_scale", f"{name}_zero"],
                    [name],
                    axis=axis,
                    name=f"{name}_dequantise",
                )
            )
            done.add(name)
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    return model


def int8_weight_count(model: Any) -> int:
    """How many int8 weight tensors ``model`` carries (0 means it is not quantised)."""
    from onnx import TensorProto

    return sum(1 for i in model.graph.initializer if i.data_type == TensorProto.INT8)


def session(path: Path, *, threads: int) -> Any:
    """An onnxruntime CPU session that folds the int8 weights into float32 at load."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Without this, onnxruntime keeps DequantizeLinear in the graph (it waits for
    # activation Q/DQ pairs that never come) and dequantises every weight on every run.
    options.add_session_config_entry("session.disable_quant_qdq", "1")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
