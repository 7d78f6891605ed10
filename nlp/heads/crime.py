"""The crime heads: UK policing relevance, categories and urgency (int8 ONNX on onnxruntime).

All heads read the shared encoder's policing view (``doc.features["policing_embedding"]``,
768 numbers: layer 4 and the last layer, pooled; see :class:`nlp.encoder.Encoder`):

* ``crime_relevance.onnx`` - binary head; ``score`` = P(relevant), decision at
  its tuned ``threshold``.
* ``crime_categories.onnx`` - multi-label head: 15 independent sigmoids (one-vs-rest),
  each with its own tuned threshold; used only for posts judged relevant.
* ``crime_urgent.onnx`` - binary head, P(urgent = in_progress or risk_to_life);
  ``crime_urgency_level.onnx`` - binary head, P(risk_to_life | urgent).
* ``crime_incident.onnx`` - binary head trained on CrisisLexT26 ("does the post
  report or inform about an emergency"). It is not part of ``CrimeAssessment``; callers can
  read it with :meth:`CrimeHead.incident_scores`.

Training, tuning and test data: ``nlp/models/crime_*.json`` and docs/analysts/crime.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from bluelamp.post import CrimeAssessment
from nlp.base import NlpDoc
from nlp.heads.model import MODELS_DIR
from nlp.heads.onnx_io import OnnxHead, file_sha256, read_head, write_head

F32 = npt.NDArray[np.float32]

CATEGORIES: tuple[str, ...] = (
    "violence_weapons",
    "burglary",
    "robbery",
    "vehicle_crime",
    "theft",
    "drugs",
    "antisocial_behaviour",
    "criminal_damage_arson",
    "public_order_disorder",
    "hate_crime",
    "sexual_offences",
    "fraud_scams",
    "road_safety",
    "missing_person",
    "abuse_threats_to_officers",
)

RELEVANCE_MODEL = "crime_relevance"
CATEGORIES_MODEL = "crime_categories"
URGENT_MODEL = "crime_urgent"
URGENCY_LEVEL_MODEL = "crime_urgency_level"
INCIDENT_MODEL = "crime_incident"
MODEL_NAMES = (RELEVANCE_MODEL, CATEGORIES_MODEL, URGENT_MODEL, URGENCY_LEVEL_MODEL, INCIDENT_MODEL)


def save_multilabel(
    path: Path, weight: F32, bias: F32, labels: tuple[str, ...], thresholds: F32
) -> OnnxHead:
    """One sigmoid per label (``sigmoid(x @ W0 + b0)``) as an int8 ONNX head, with thresholds."""
    write_head(
        path,
        [(weight, bias)],
        activation="sigmoid",
        labels=labels,
        thresholds=[float(t) for t in thresholds],
    )
    return read_head(path)


def crime_version(models_dir: Path = MODELS_DIR) -> str:
    """``crime:<12 hex>`` from the content hashes of every crime weight file."""
    digest = hashlib.sha256()
    for name in MODEL_NAMES:
        path = models_dir / f"{name}.onnx"
        part = file_sha256(path) if path.is_file() else "missing"
        digest.update(f"{name}={part};".encode())
    return f"crime:{digest.hexdigest()[:12]}"


def _threshold(model: OnnxHead) -> float:
    return model.threshold if model.threshold is not None else 0.5


@dataclass(frozen=True)
class CrimeModels:
    relevance: OnnxHead
    categories: OnnxHead
    urgent: OnnxHead
    urgency_level: OnnxHead
    incident: OnnxHead | None

    @classmethod
    def load(cls, models_dir: Path = MODELS_DIR) -> CrimeModels:
        incident_path = models_dir / f"{INCIDENT_MODEL}.onnx"
        categories = read_head(models_dir / f"{CATEGORIES_MODEL}.onnx")
        if categories.thresholds is None:
            raise ValueError(f"{CATEGORIES_MODEL}.onnx carries no per-label thresholds")
        return cls(
            relevance=read_head(models_dir / f"{RELEVANCE_MODEL}.onnx"),
            categories=categories,
            urgent=read_head(models_dir / f"{URGENT_MODEL}.onnx"),
            urgency_level=read_head(models_dir / f"{URGENCY_LEVEL_MODEL}.onnx"),
            incident=read_head(incident_path) if incident_path.is_file() else None,
        )

    def assess(self, x: F32) -> list[CrimeAssessment]:
        """One :class:`CrimeAssessment` per row of ``x`` (unit embeddings)."""
        x = np.asarray(x, dtype=np.float32)
        if x.shape[0] == 0:
            return []
        p_rel = self.relevance.predict_proba(x)[:, -1]
        p_cat = self.categories.predict_proba(x)
        p_urgent = self.urgent.predict_proba(x)[:, -1]
        p_risk = self.urgency_level.predict_proba(x)[:, -1]
        t_rel = _threshold(self.relevance)
        t_urgent = _threshold(self.urgent)
        t_risk = _threshold(self.urgency_level)
        cat_thresholds = self.categories.thresholds
        if cat_thresholds is None:  # load() refuses such a file; a hand-built one gets 0.5
            cat_thresholds = np.full(len(self.categories.labels), 0.5, dtype=np.float32)
        out = []
        for i in range(x.shape[0]):
            relevant = bool(p_rel[i] >= t_rel)
            categories: list[str] = []
            urgency = "none"
            if relevant:
                hits = np.flatnonzero(p_cat[i] >= cat_thresholds)
                order = sorted(hits, key=lambda k: -float(p_cat[i, k]))
                categories = [self.categories.labels[int(k)] for k in order]
                if p_urgent[i] >= t_urgent:
                    urgency = "risk_to_life" if p_risk[i] >= t_risk else "in_progress"
            out.append(
                CrimeAssessment(
                    relevant=relevant,
                    score=round(float(np.clip(p_rel[i], 0.0, 1.0)), 4),
                    categories=categories,
                    urgency=urgency,
                    urgency_score=round(float(np.clip(p_urgent[i], 0.0, 1.0)), 4),
                )
            )
        return out


class CrimeHead:
    """``enrichment.crime``: relevance score, categories (relevant posts only) and urgency.

    ``score`` is P(relevant) and ``relevant`` is ``score >= threshold`` (tuned on dev);
    ``urgency_score`` is P(urgent), and urgency is above ``none`` only for relevant posts
    whose ``urgency_score`` passes its threshold (the level then comes from the second stage).
    """

    name: ClassVar[str] = "crime"
    version: ClassVar[str] = crime_version()
    reads: ClassVar[tuple[str, ...]] = ("features.policing_embedding",)
    writes: ClassVar[tuple[str, ...]] = ("enrichment.crime",)
    costly: ClassVar[bool] = True

    def __init__(self, models: CrimeModels | None = None) -> None:
        self.models = models or CrimeModels.load()

    def incident_scores(self, x: F32) -> F32 | None:
        """P(reports or informs about an emergency), from the CrisisLex head (or None)."""
        if self.models.incident is None:
            return None
        out: F32 = self.models.incident.predict_proba(np.asarray(x, dtype=np.float32))[:, -1]
        return out

    def __call__(self, docs: list[NlpDoc]) -> None:
        with_vectors = [d for d in docs if d.features.get("policing_embedding") is not None]
        if not with_vectors:
            return
        x = np.stack([d.features["policing_embedding"] for d in with_vectors]).astype(np.float32)
        for doc, assessment in zip(with_vectors, self.models.assess(x), strict=True):
            doc.post.enrichment.crime = assessment
