"""The committed model files: int8 ONNX, pinned, small, and faithful to their weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from nlp.encoder import (
    ENCODER_VERSION,
    MODEL_CARD,
    MODEL_FILE,
    MODEL_SHA256,
    Encoder,
    EncoderUnavailable,
)
from nlp.heads.crime import save_multilabel
from nlp.heads.model import MODELS_DIR, save_head
from nlp.heads.onnx_io import file_sha256, read_head
from nlp.onnx_int8 import int8_weight_count


def _unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_every_committed_model_is_int8_onnx_and_all_fit_in_40_mb() -> None:
    files = sorted(MODELS_DIR.glob("*.onnx"))
    names = {f.stem for f in files}
    assert {"encoder", "sentiment", "offensive", "hate", "crime_relevance"} <= names
    assert not list(MODELS_DIR.glob("*.npz")), "old float weight files left behind"
    for path in files:
        assert int8_weight_count(onnx.load(str(path))) > 0, f"{path.name} is not quantised"
        assert (MODELS_DIR / f"{path.stem}.json").is_file(), f"{path.name} has no model card"
    total = sum(p.stat().st_size for p in MODELS_DIR.iterdir() if p.is_file())
    assert total < 40 * 1024 * 1024, total


def test_every_head_was_trained_on_the_shipped_encoder_and_normalisation() -> None:
    # A new encoder file or a change to normalise_for_model moves every vector:
    # heads trained before it would be reading the wrong inputs.
    cards = [p for p in MODELS_DIR.glob("*.json") if p.stem != "encoder"]
    assert len(cards) >= 8
    for card in cards:
        assert json.loads(card.read_text("utf-8"))["encoder"] == ENCODER_VERSION, card.name


def test_encoder_file_matches_the_sha256_its_card_pins(tmp_path: Path) -> None:
    card = json.loads(MODEL_CARD.read_text("utf-8"))
    assert file_sha256(MODEL_FILE) == card["file_sha256"] == MODEL_SHA256
    assert card["limits_and_biases"] and card["command"]
    altered = tmp_path / "encoder.onnx"
    shutil.copy(MODEL_FILE, altered)
    with altered.open("r+b") as fh:  # one byte changed in the middle of the weights
        fh.seek(altered.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(EncoderUnavailable, match="sha256"):
        Encoder(model_path=altered)


def test_a_softmax_head_round_trips_through_int8_onnx(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    arrays = {
        "W0": rng.normal(scale=0.3, size=(384, 16)).astype(np.float32),
        "b0": rng.normal(size=16).astype(np.float32),
        "W1": rng.normal(scale=0.3, size=(16, 3)).astype(np.float32),
        "b1": rng.normal(size=3).astype(np.float32),
    }
    labels = ("negative", "neutral", "positive")
    head = save_head(tmp_path / "mood.onnx", arrays, labels, 0.4)
    x = _unit_rows(64, 384, 4)
    z = np.maximum(x @ arrays["W0"] + arrays["b0"], 0) @ arrays["W1"] + arrays["b1"]
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    got = head.predict_proba(x)
    again = np.concatenate([head.predict_proba(x[i : i + 1]) for i in range(64)])
    assert np.array_equal(got, again)  # a row's answer never depends on its batch
    assert got.shape == (64, 3) and np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(got - expected).max() < 0.03  # int8 weights, near the float answer
    assert (got.argmax(1) == expected.argmax(1)).mean() > 0.9
    assert head.labels == labels and head.threshold == pytest.approx(0.4)
    assert head.version == f"mood:{file_sha256(tmp_path / 'mood.onnx')[:12]}"
    assert head.predict_proba(np.zeros((0, 384), dtype=np.float32)).shape == (0, 3)
    with pytest.raises(ValueError, match="expected"):
        head.predict_proba(x[:, :10])
    arrays["b1"] = arrays["b1"] + 1.0
    assert save_head(tmp_path / "mood.onnx", arrays, labels, 0.4).version != head.version


def test_a_multilabel_head_keeps_its_thresholds(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    w = rng.normal(scale=0.3, size=(384, 4)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    labels = ("a", "b", "c", "d")
    head = save_multilabel(tmp_path / "tags.onnx", w, b, labels, np.array([0.1, 0.2, 0.3, 0.9]))
    x = _unit_rows(32, 384, 6)
    expected = 1.0 / (1.0 + np.exp(-(x @ w + b)))
    assert np.abs(head.predict_proba(x) - expected).max() < 0.03
    assert head.thresholds is not None
    assert np.allclose(head.thresholds, [0.1, 0.2, 0.3, 0.9])
    assert head.predict(x).shape == (32, 4)


def test_a_file_without_head_metadata_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a Bluelamp head"):
        read_head(MODEL_FILE)  # an ONNX file, but the encoder
    with pytest.raises(FileNotFoundError, match="bluelamp train"):
        read_head(tmp_path / "absent.onnx")
