"""A head's weights: ``W0, b0, W1, b1, ...`` with ReLU between layers and a softmax out.

The ``.npz`` holds, besides the layers, ``labels`` (the class names, in
output order) and, for binary heads, ``threshold`` (the decision threshold on
the positive class's probability, tuned on the validation split). Version =
the head's name plus the first 12 hex digits of a sha256 over the arrays, so
new weights always mean a new version in ``enrichment.models``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

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


def content_hash(arrays: dict[str, npt.NDArray[np.generic]]) -> str:
    """sha256 over the arrays' names, dtypes, shapes and bytes (not the zip's timestamps)."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        value = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}|{value.dtype.str}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def file_version(path: Path) -> str:
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return f"{path.stem}:{content_hash(arrays)[:12]}"


def head_from_file(path: Path) -> HeadModel:
    with np.load(path, allow_pickle=False) as npz:
        n_layers = sum(1 for k in npz.files if k.startswith("W"))
        if n_layers == 0:
            raise ValueError(f"{path}: no layers")
        weights = tuple(npz[f"W{i}"].astype(np.float32) for i in range(n_layers))
        biases = tuple(npz[f"b{i}"].astype(np.float32) for i in range(n_layers))
        labels = tuple(str(x) for x in npz["labels"])
        threshold = float(npz["threshold"]) if "threshold" in npz.files else None
    for i in range(1, n_layers):
        if weights[i].shape[0] != weights[i - 1].shape[1]:
            raise ValueError(f"{path}: layer {i} does not fit layer {i - 1}")
    if weights[-1].shape[1] != len(labels):
        raise ValueError(f"{path}: {weights[-1].shape[1]} outputs but {len(labels)} labels")
    return HeadModel(
        name=path.stem,
        version=file_version(path),
        labels=labels,
        weights=weights,
        biases=biases,
        threshold=threshold,
    )


@lru_cache(maxsize=16)
def load_head(name: str, models_dir: Path = MODELS_DIR) -> HeadModel:
    """The committed head ``nlp/models/<name>.npz`` (loaded once per process)."""
    return head_from_file(models_dir / f"{name}.npz")
