"""Heads as int8 ONNX files: written by training, served by onnxruntime.

A head file ``nlp/models/<name>.onnx`` maps ``embedding`` ``(n, dim)`` float32
to ``probabilities`` ``(n, k)``: a small feed-forward net (``MatMul``, ``Add``,
``Relu`` between layers) ending in a softmax (one class per row) or in
independent sigmoids (multi-label). Its weights are stored as int8 with one
scale per output channel (:mod:`nlp.onnx_int8` says why weight-only), and the
file carries what
a caller needs in its metadata: ``labels`` (JSON list, in output order),
``activation``, and the tuned decision ``threshold`` (binary heads) or
``thresholds`` (JSON list, multi-label heads).

Writing needs the ``onnx`` package (a training dependency); reading needs
only onnxruntime. A head's version is its name plus the first 12 hex digits of
the file's sha256, so new weights always mean a new version on the post.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from nlp.onnx_int8 import quantise_weights
from nlp.onnx_int8 import session as int8_session

F32 = npt.NDArray[np.float32]
Activation = Literal["softmax", "sigmoid"]

INPUT = "embedding"
OUTPUT = "probabilities"
OPSET = 17


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_version(path: Path) -> str:
    return f"{path.stem}:{file_sha256(path)[:12]}"


def write_head(
    path: Path,
    layers: Sequence[tuple[F32, F32]],
    *,
    activation: Activation,
    labels: Sequence[str],
    threshold: float | None = None,
    thresholds: Sequence[float] | None = None,
) -> None:
    """Build the fp32 graph for ``layers`` and write it quantised to int8 at ``path``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if not layers:
        raise ValueError(f"{path.name}: a head needs at least one layer")
    if layers[-1][0].shape[1] != len(labels):
        raise ValueError(f"{path.name}: {layers[-1][0].shape[1]} outputs, {len(labels)} labels")
    nodes: list[Any] = []
    inits: list[Any] = []
    current = INPUT
    for i, (w, b) in enumerate(layers):
        inits += [
            numpy_helper.from_array(np.asarray(w, dtype=np.float32), f"W{i}"),
            numpy_helper.from_array(np.asarray(b, dtype=np.float32), f"b{i}"),
        ]
        nodes += [
            helper.make_node("MatMul", [current, f"W{i}"], [f"mm{i}"]),
            helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"z{i}"]),
        ]
        current = f"z{i}"
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [current], [f"h{i}"]))
            current = f"h{i}"
    if activation == "softmax":
        nodes.append(helper.make_node("Softmax", [current], [OUTPUT], axis=1))
    else:
        nodes.append(helper.make_node("Sigmoid", [current], [OUTPUT]))
    dim = int(layers[0][0].shape[0])
    graph = helper.make_graph(
        nodes,
        path.stem,
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["n", dim])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["n", len(labels)])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    meta: dict[str, str] = {"labels": json.dumps(list(labels)), "activation": activation}
    if threshold is not None:
        meta["threshold"] = repr(float(threshold))
    if thresholds is not None:
        meta["thresholds"] = json.dumps([float(t) for t in thresholds])
    quantise_weights(model)
    onnx.checker.check_model(model)
    for key, value in sorted(meta.items()):
        model.metadata_props.add(key=key, value=value)
    model.doc_string = f"Bluelamp head {path.stem} (int8 weights, per-channel scales)"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".onnx.tmp")
    onnx.save(model, str(tmp))
    tmp.replace(path)


@dataclass(frozen=True)
class OnnxHead:
    """A head file loaded into onnxruntime: probabilities for rows of embeddings."""

    name: str
    version: str
    labels: tuple[str, ...]
    activation: Activation
    threshold: float | None
    thresholds: F32 | None
    input_dim: int
    session: Any

    def predict_proba(self, x: F32) -> F32:
        """``(n, len(labels))`` probabilities (softmax rows sum to 1)."""
        h = np.ascontiguousarray(x, dtype=np.float32)
        if h.ndim != 2 or h.shape[1] != self.input_dim:
            raise ValueError(f"{self.name}: expected (n, {self.input_dim}) input, got {h.shape}")
        if h.shape[0] == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        (out,) = self.session.run([OUTPUT], {INPUT: h})
        result: F32 = np.asarray(out, dtype=np.float32)
        return result

    def predict(self, x: F32) -> npt.NDArray[np.bool_]:
        """Multi-label decisions: each probability against its label's threshold."""
        if self.thresholds is None:
            raise ValueError(f"{self.name} is not a multi-label head")
        return self.predict_proba(x) >= self.thresholds


def read_head(path: Path) -> OnnxHead:
    if not path.is_file():
        raise FileNotFoundError(f"head file {path} is missing (bluelamp train rebuilds it)")
    # A few small matrices: more threads would cost more than they save.
    session = int8_session(path, threads=1)
    meta = session.get_modelmeta().custom_metadata_map
    try:
        labels = tuple(str(x) for x in json.loads(meta["labels"]))
        activation = meta["activation"]
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path}: not a Bluelamp head (metadata {sorted(meta)})") from exc
    if activation not in ("softmax", "sigmoid"):
        raise ValueError(f"{path}: unknown activation {activation!r}")
    thresholds = (
        np.asarray(json.loads(meta["thresholds"]), dtype=np.float32)
        if "thresholds" in meta
        else None
    )
    if thresholds is not None and thresholds.shape != (len(labels),):
        raise ValueError(f"{path}: {thresholds.shape[0]} thresholds for {len(labels)} labels")
    shape = session.get_inputs()[0].shape
    return OnnxHead(
        name=path.stem,
        version=file_version(path),
        labels=labels,
        activation=activation,
        threshold=float(meta["threshold"]) if "threshold" in meta else None,
        thresholds=thresholds,
        input_dim=int(shape[1]),
        session=session,
    )
