"""The crime heads: UK policing relevance, categories and urgency (numpy only at run time).

All heads read the shared encoder embedding (``doc.features["embedding"]``):

* ``crime_relevance.npz`` - binary :class:`HeadModel`; ``score`` = P(relevant), decision at
  its tuned ``threshold``.
* ``crime_categories.npz`` - :class:`MultiLabelHead`: 15 independent sigmoids (one-vs-rest),
  each with its own tuned threshold; used only for posts judged relevant.
* ``crime_urgent.npz`` - binary :class:`HeadModel`, P(urgent = in_progress or risk_to_life);
  ``crime_urgency_level.npz`` - binary :class:`HeadModel`, P(risk_to_life | urgent).
* ``crime_incident.npz`` - binary :class:`HeadModel` trained on CrisisLexT26 ("does the post
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
from nlp.heads.model import MODELS_DIR, HeadModel, content_hash, head_from_file

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


@dataclass(frozen=True)
class MultiLabelHead:
    """Independent sigmoid outputs: ``sigmoid(x @ W0 + b0)``, one column per label.

    The ``.npz`` holds ``W0`` ``(dim, k)``, ``b0`` ``(k,)``, ``labels`` ``(k,)`` and
    ``thresholds`` ``(k,)`` (each label's decision threshold, tuned on dev data).
    """

    name: str
    version: str
    labels: tuple[str, ...]
    weight: F32
    bias: F32
    thresholds: F32

    @property
    def input_dim(self) -> int:
        return int(self.weight.shape[0])

    def predict_proba(self, x: F32) -> F32:
        h = np.asarray(x, dtype=np.float32)
        if h.ndim != 2 or h.shape[1] != self.input_dim:
            raise ValueError(f"{self.name}: expected (n, {self.input_dim}) input, got {h.shape}")
        z = np.clip(h @ self.weight + self.bias, -50.0, 50.0)
        out: F32 = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
        return out

    def predict(self, x: F32) -> npt.NDArray[np.bool_]:
        return self.predict_proba(x) >= self.thresholds


def save_multilabel(
    path: Path, weight: F32, bias: F32, labels: tuple[str, ...], thresholds: F32
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        W0=np.asarray(weight, dtype=np.float32),
        b0=np.asarray(bias, dtype=np.float32),
        labels=np.asarray(labels),
        thresholds=np.asarray(thresholds, dtype=np.float32),
    )


def _arrays(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def multilabel_from_file(path: Path) -> MultiLabelHead:
    arrays = _arrays(path)
    weight = arrays["W0"].astype(np.float32)
    bias = arrays["b0"].astype(np.float32)
    labels = tuple(str(x) for x in arrays["labels"])
    thresholds = arrays["thresholds"].astype(np.float32)
    if weight.ndim != 2 or weight.shape[1] != len(labels) != 0:
        raise ValueError(f"{path}: W0 {weight.shape} does not fit {len(labels)} labels")
    if bias.shape != (len(labels),) or thresholds.shape != (len(labels),):
        raise ValueError(f"{path}: b0/thresholds do not fit {len(labels)} labels")
    return MultiLabelHead(
        name=path.stem,
        version=f"{path.stem}:{content_hash(arrays)[:12]}",
        labels=labels,
        weight=weight,
        bias=bias,
        thresholds=thresholds,
    )


def crime_version(models_dir: Path = MODELS_DIR) -> str:
    """``crime:<12 hex>`` from the content hashes of every crime weight file."""
    digest = hashlib.sha256()
    for name in MODEL_NAMES:
        path = models_dir / f"{name}.npz"
        part = content_hash(_arrays(path)) if path.is_file() else "missing"
        digest.update(f"{name}={part};".encode())
    return f"crime:{digest.hexdigest()[:12]}"


def _threshold(model: HeadModel) -> float:
    return model.threshold if model.threshold is not None else 0.5


@dataclass(frozen=True)
class CrimeModels:
    relevance: HeadModel
    categories: MultiLabelHead
    urgent: HeadModel
    urgency_level: HeadModel
    incident: HeadModel | None

    @classmethod
    def load(cls, models_dir: Path = MODELS_DIR) -> CrimeModels:
        incident_path = models_dir / f"{INCIDENT_MODEL}.npz"
        return cls(
            relevance=head_from_file(models_dir / f"{RELEVANCE_MODEL}.npz"),
            categories=multilabel_from_file(models_dir / f"{CATEGORIES_MODEL}.npz"),
            urgent=head_from_file(models_dir / f"{URGENT_MODEL}.npz"),
            urgency_level=head_from_file(models_dir / f"{URGENCY_LEVEL_MODEL}.npz"),
            incident=head_from_file(incident_path) if incident_path.is_file() else None,
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
        out = []
        for i in range(x.shape[0]):
            relevant = bool(p_rel[i] >= t_rel)
            categories: list[str] = []
            urgency = "none"
            if relevant:
                hits = np.flatnonzero(p_cat[i] >= self.categories.thresholds)
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
    reads: ClassVar[tuple[str, ...]] = ("features.embedding",)
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
        with_vectors = [d for d in docs if d.features.get("embedding") is not None]
        if not with_vectors:
            return
        x = np.stack([d.features["embedding"] for d in with_vectors]).astype(np.float32)
        for doc, assessment in zip(with_vectors, self.models.assess(x), strict=True):
            doc.post.enrichment.crime = assessment
