"""A head's weights in training (``HeadModel``), and loading the committed head files.

While training, candidates are plain numpy: ``W0, b0, W1, b1, ...`` with ReLU
between layers and a softmax out, scored on validation data. The chosen one
is written as int8 ONNX (:mod:`nlp.heads.onnx_io`), and that file is what
runs, and what the test figures are measured on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from nlp.heads.onnx_io import OnnxHead, read_head, write_head

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class HeadModel:
    name: str
    version: str
    labels: tuple[str, ...]
    weights: tuple[F32, ...]
    biases: tuple[F32, ...]
    threshold: float | None = None

    @property
    def input_dim(self) -> int:
        return int(self.weights[0].shape[0])

    def logits(self, x: F32) -> F32:
        h = np.asarray(x, dtype=np.float32)
        if h.ndim != 2 or h.shape[1] != self.input_dim:
            raise ValueError(f"{self.name}: expected (n, {self.input_dim}) input, got {h.shape}")
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < last:
                h = np.maximum(h, 0.0)
        return h

    def predict_proba(self, x: F32) -> F32:
        """Class probabilities, ``(n, len(labels))``, rows summing to 1."""
        z = self.logits(x)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out: F32 = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        return out


def save_head(
    path: Path, arrays: dict[str, F32], labels: tuple[str, ...], threshold: float | None
) -> OnnxHead:
    """Write ``W0, b0, ...`` (softmax out) as the int8 ONNX head at ``path``; return it loaded."""
    n = len([k for k in arrays if k.startswith("W")])
    layers = [(arrays[f"W{i}"], arrays[f"b{i}"]) for i in range(n)]
    write_head(path, layers, activation="softmax", labels=labels, threshold=threshold)
    return read_head(path)


@lru_cache(maxsize=16)
def load_head(name: str, models_dir: Path = MODELS_DIR) -> OnnxHead:
    """The committed head ``nlp/models/<name>.onnx`` (loaded once per process)."""
    return read_head(models_dir / f"{name}.onnx")
