"""Pipeline components that turn the shared embedding into enrichment fields.

The sentiment and abuse heads were trained on English tweets only, so they
score a post only when its ``language`` is English or undetermined. A post
detected as Welsh, Polish, ... keeps ``sentiment``/``abuse`` empty: an
English model's score for it means nothing, and on a dashboard it would be
counted with the real ones. The crime heads (``nlp.heads.crime``) score every
language: their training set holds Welsh posts, and a missed crime report
costs more than a noisy score.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bluelamp.post import Abuse, Sentiment
from nlp.base import NlpDoc
from nlp.heads.model import MODELS_DIR, load_head
from nlp.heads.onnx_io import OnnxHead, file_version
from nlp.language import primary_language

SENTIMENT_MODEL = "sentiment"
# The primary language codes the English-only heads score (plus posts with none).
SCORED_LANGUAGES = frozenset({"en"})
# Appended to the heads' versions: outputs changed when the gate came in (2026-11-29).
_GATE = "+en"
OFFENSIVE_MODEL = "offensive"
HATE_MODEL = "hate"


def _version(*names: str) -> str:
    # Computed from the committed files at import, so the version changes with the weights.
    # A missing file (only while training the first head) gives "<name>:missing"; the
    # component then fails when constructed.
    return "+".join(
        file_version(path) if (path := MODELS_DIR / f"{n}.onnx").is_file() else f"{n}:missing"
        for n in names
    )


def english_or_unknown(doc: NlpDoc) -> bool:
    """True unless the post's language is known and not one the heads were trained on.

    The language step's low-confidence guess (nothing declared, 70-90 % sure) counts as
    known: on the English sentiment test tweets its guesses were more often right (a
    German or French tweet) than wrong (docs/analysts/scores.md).
    """
    primary = primary_language(doc.post.language)
    return primary is None or primary in SCORED_LANGUAGES


def _scored(docs: list[NlpDoc]) -> tuple[list[NlpDoc], np.ndarray]:
    """The documents an English-only head scores (embedded; English or unknown), and vectors."""
    with_vectors = [
        d for d in docs if d.features.get("embedding") is not None and english_or_unknown(d)
    ]
    if not with_vectors:
        return [], np.zeros((0, 0), dtype=np.float32)
    return with_vectors, np.stack([d.features["embedding"] for d in with_vectors])


class SentimentHead:
    """``enrichment.sentiment``: the likeliest of negative/neutral/positive, and its probability.

    English and undetermined-language posts only (see the module doc).
    """

    name: ClassVar[str] = "sentiment"
    version: ClassVar[str] = _version(SENTIMENT_MODEL) + _GATE
    reads: ClassVar[tuple[str, ...]] = ("features.embedding", "post.language")
    writes: ClassVar[tuple[str, ...]] = ("enrichment.sentiment",)
    costly: ClassVar[bool] = True

    def __init__(self, model: OnnxHead | None = None) -> None:
        self.model = model or load_head(SENTIMENT_MODEL)

    def __call__(self, docs: list[NlpDoc]) -> None:
        docs, x = _scored(docs)
        if not docs:
            return
        probs = self.model.predict_proba(x)
        best = probs.argmax(axis=1)
        for doc, row, k in zip(docs, probs, best, strict=True):
            label = self.model.labels[int(k)]
            doc.post.enrichment.sentiment = Sentiment.model_validate(
                {"label": label, "score": round(float(row[k]), 4)}
            )


class AbuseHead:
    """``enrichment.abuse``: probabilities that a post is offensive and that it is hateful.

    English and undetermined-language posts only (see the module doc).

    ``thresholds`` holds each head's decision threshold (tuned on validation
    data) for callers that need a yes/no.
    """

    name: ClassVar[str] = "abuse"
    version: ClassVar[str] = _version(OFFENSIVE_MODEL, HATE_MODEL) + _GATE
    reads: ClassVar[tuple[str, ...]] = ("features.embedding", "post.language")
    writes: ClassVar[tuple[str, ...]] = ("enrichment.abuse",)
    costly: ClassVar[bool] = True

    def __init__(self, offensive: OnnxHead | None = None, hate: OnnxHead | None = None) -> None:
        self.offensive = offensive or load_head(OFFENSIVE_MODEL)
        self.hate = hate or load_head(HATE_MODEL)
        self.thresholds = {
            "offensive": self.offensive.threshold if self.offensive.threshold is not None else 0.5,
            "hate": self.hate.threshold if self.hate.threshold is not None else 0.5,
        }

    def __call__(self, docs: list[NlpDoc]) -> None:
        docs, x = _scored(docs)
        if not docs:
            return
        offensive = self.offensive.predict_proba(x)[:, -1]
        hate = self.hate.predict_proba(x)[:, -1]
        for doc, p_off, p_hate in zip(docs, offensive, hate, strict=True):
            doc.post.enrichment.abuse = Abuse(
                offensive=round(float(p_off), 4), hate=round(float(p_hate), 4)
            )
