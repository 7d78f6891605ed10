from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bluelamp.post import InvalidRecord, Post, validate_post
from indexer.layout import from_document, to_document


def _base(**extra: object) -> dict[str, object]:
    data: dict[str, object] = {
        "id": "bluesky:abc123",
        "platform": "bluesky",
        "native_id": "abc123",
        "text": "Car broken into on Deansgate #gmp",
        "created_at": "2026-11-20T10:00:00Z",
        "source": {"name": "bluesky-search", "query": "deansgate"},
    }
    data.update(extra)
    return data


def test_a_full_post_round_trips_through_the_index_document() -> None:
    post = validate_post(
        _base(
            url="https://bsky.app/profile/a/post/abc123",
            author={"id": "did:plc:1", "handle": "a.bsky.social", "display_name": "A"},
            references=[{"kind": "reply", "id": "bluesky:parent"}],
            hashtags=["#GMP", "gmp", "Manchester"],
            mentions=["@gmpolice"],
            links=["https://example.org"],
            media=[{"url": "https://cdn.example/x.jpg", "type": "image", "alt_text": "car"}],
            geo={"lat": 53.48, "lon": -2.25},
            engagement={"likes": 3, "reposts": 1},
            enrichment={
                "places": [
                    {
                        "name": "Deansgate",
                        "lat": 53.4794,
                        "lon": -2.2487,
                        "confidence": 0.9,
                        "method": "gazetteer",
                    }
                ],
                "force_area": "Greater Manchester Police",
                "sentiment": {"label": "negative", "score": 0.8},
                "crime": {
                    "relevant": True,
                    "score": 0.93,
                    "categories": ["vehicle crime"],
                    "urgency": "none",
                },
                "models": {"sentiment": "minilm-sent-1"},
            },
        )
    )
    assert post.hashtags == ["gmp", "manchester"]  # normalised and de-duplicated
    assert post.mentions == ["gmpolice"]
    doc = to_document(post)
    assert doc["@timestamp"].startswith("2026-11-20T10:00:00")
    assert doc["url"] == {"full": "https://bsky.app/profile/a/post/abc123"}
    assert doc["geo"] == {"location": {"lat": 53.48, "lon": -2.25}}
    assert doc["enrichment"]["places"][0]["location"] == {"lat": 53.4794, "lon": -2.2487}
    assert doc["enrichment"]["model_versions"] == ["sentiment@minilm-sent-1"]
    assert "event" in doc and "ingested" in doc["event"]
    assert from_document(doc) == post


def test_times_are_normalised_to_utc() -> None:
    post = validate_post(_base(created_at="2026-07-01T12:00:00+01:00"))
    assert post.created_at == datetime(2026, 7, 1, 11, 0, tzinfo=UTC)
    naive = validate_post(_base(created_at="2026-07-01T12:00:00"))
    assert naive.created_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "bluesky:other"}, "record"),
        ({"platform": "Blue Sky"}, "platform"),
        ({"native_id": "has space"}, "native_id"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"text": "x" * 100_001}, "text"),
        ({"geo": {"lat": 91, "lon": 0}}, "geo.lat"),
        ({"engagement": {"likes": -1}}, "engagement.likes"),
        ({"language": "English!"}, "language"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_invalid_records_are_rejected_with_a_field_level_reason(
    change: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidRecord) as info:
        validate_post(_base(**change))
    assert any(reason.startswith(field) for reason in info.value.reasons), info.value.reasons


def test_nul_characters_are_removed_from_text() -> None:
    assert validate_post(_base(text="a\x00b")).text == "ab"


def test_post_is_the_single_schema_with_required_source() -> None:
    with pytest.raises(InvalidRecord) as info:
        validate_post({k: v for k, v in _base().items() if k != "source"})
    assert "source: Field required" in str(info.value)
    assert isinstance(validate_post(_base()), Post)
