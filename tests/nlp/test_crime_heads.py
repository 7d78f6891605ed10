"""The crime heads on the real encoder and the committed ``nlp/models/crime_*.onnx`` files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bluelamp.post import CrimeAssessment
from nlp.base import NlpDoc
from nlp.encoder import POLICING_DIM, Encoder, EncoderComponent
from nlp.heads.crime import (
    CATEGORIES,
    MODEL_NAMES,
    CrimeHead,
    CrimeModels,
    crime_version,
)
from nlp.heads.model import MODELS_DIR
from nlp.pipeline import Pipeline, PipelineError
from tests.indexer.helpers import make_post

STABBING = "someone just got stabbed outside the co-op, ambulance here now"
SPORT = "my team got robbed by the ref"


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder(threads=2)


@pytest.fixture(scope="module")
def head() -> CrimeHead:
    return CrimeHead()


def test_weight_files_are_committed_small_and_carded() -> None:
    total = 0
    for name in MODEL_NAMES:
        path = MODELS_DIR / f"{name}.onnx"
        assert path.is_file(), path
        total += path.stat().st_size
        card = json.loads((MODELS_DIR / f"{name}.json").read_text("utf-8"))
        for key in ("training_files", "tuning_files", "test_files", "limits_and_biases"):
            assert card[key], (name, key)
        assert "test_metrics" in card
    assert total < 2_000_000


def test_version_is_the_content_hash_of_every_weight_file(head: CrimeHead) -> None:
    assert CrimeHead.version == crime_version()
    assert CrimeHead.version.startswith("crime:") and "missing" not in CrimeHead.version
    assert len(CrimeHead.version) == len("crime:") + 12


def test_assessments_are_valid_for_any_unit_vector(head: CrimeHead) -> None:
    x = np.random.default_rng(0).normal(size=(50, POLICING_DIM)).astype(np.float32)
    x[:, :384] /= np.linalg.norm(x[:, :384], axis=1, keepdims=True)  # two unit halves
    x[:, 384:] /= np.linalg.norm(x[:, 384:], axis=1, keepdims=True)
    for a in head.models.assess(x):
        assert isinstance(a, CrimeAssessment)
        CrimeAssessment.model_validate(a.model_dump())
        assert 0.0 <= a.score <= 1.0
        assert a.urgency_score is not None and 0.0 <= a.urgency_score <= 1.0
        assert set(a.categories) <= set(CATEGORIES)
        if not a.relevant:
            assert a.categories == [] and a.urgency == "none"
    assert head.models.assess(np.zeros((0, POLICING_DIM), dtype=np.float32)) == []


def test_clear_examples(encoder: Encoder, head: CrimeHead) -> None:
    stab, sport = head.models.assess(encoder.encode_views([STABBING, SPORT])[1])
    assert stab.relevant and stab.score > 0.5
    assert "violence_weapons" in stab.categories
    assert stab.urgency in ("in_progress", "risk_to_life")
    assert not sport.relevant
    assert sport.categories == [] and sport.urgency == "none"


def test_incident_signal(encoder: Encoder, head: CrimeHead) -> None:
    texts = ["explosion at the station, people injured, roads closed", "lovely sunset"]
    scores = head.incident_scores(encoder.encode_views(texts)[1])
    assert scores is not None
    assert scores[0] > scores[1]


def test_pipeline_contract_and_enrichment(head: CrimeHead) -> None:
    pipeline = Pipeline([EncoderComponent(), head])
    posts = pipeline.enrich([make_post(1, text=STABBING), make_post(2, text=SPORT)])
    stab, sport = (p.enrichment.crime for p in posts)
    assert stab is not None and stab.relevant
    assert sport is not None and not sport.relevant
    assert posts[0].enrichment.models["crime"] == CrimeHead.version
    with pytest.raises(PipelineError):
        Pipeline([CrimeHead(head.models)])  # reads an embedding nothing wrote


def test_docs_without_an_embedding_are_left_alone(head: CrimeHead) -> None:
    doc = NlpDoc.of(make_post(3, text="nothing embedded"))
    head([doc])
    assert doc.post.enrichment.crime is None


def test_models_load_from_a_directory() -> None:
    models = CrimeModels.load(MODELS_DIR)
    assert models.categories.labels == CATEGORIES
    assert models.categories.thresholds.shape == (len(CATEGORIES),)
    assert models.relevance.threshold is not None


def test_the_dataset_validator_and_the_heads_share_one_category_list() -> None:
    """datasets/uk_policing/validate.py is stdlib-only on purpose (it runs without
    Bluelamp installed), so it keeps its own copy of the list; it must not drift."""
    import importlib.util

    from nlp.heads.crime import CATEGORIES

    path = Path(__file__).resolve().parents[2] / "datasets" / "uk_policing" / "validate.py"
    spec = importlib.util.spec_from_file_location("uk_policing_validate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert tuple(module.CATEGORIES) == CATEGORIES
