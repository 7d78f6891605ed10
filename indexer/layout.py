"""Where posts live: monthly indices behind one alias, and the index template.

Each post goes to ``<prefix>-posts-YYYY.MM`` by its creation month (so the
same post always lands in the same index, and retention can drop whole
months); reads go through the alias ``<prefix>-posts``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bluelamp.post import Post

_MONTH = re.compile(r"-(\d{4})\.(\d{2})$")


@dataclass(frozen=True)
class IndexLayout:
    prefix: str = "bluelamp"

    @property
    def alias(self) -> str:
        return f"{self.prefix}-posts"

    @property
    def pattern(self) -> str:
        return f"{self.prefix}-posts-*"

    @property
    def template_name(self) -> str:
        return f"{self.prefix}-posts"

    def index_for(self, created_at: datetime) -> str:
        return f"{self.alias}-{created_at.astimezone(UTC):%Y.%m}"

    @staticmethod
    def month_of(index: str) -> tuple[int, int] | None:
        match = _MONTH.search(index)
        return (int(match.group(1)), int(match.group(2))) if match else None


def _keyword() -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": 1024}


def _text(analyzer: str) -> dict[str, Any]:
    return {
        "type": "text",
        "analyzer": analyzer,
        "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}},
    }


def template_body(
    layout: IndexLayout, *, english_available: bool, replicas: int = 0
) -> dict[str, Any]:
    """The index template; explicit mappings, ECS names where one fits.

    Minimal engine builds (the Elasticsearch integ-test zip) lack the
    analysis-common module and so the ``english`` analyzer; there we fall back
    to ``standard`` with English stop words, and say so in the docs.
    """
    if english_available:
        analysis: dict[str, Any] = {"analyzer": {"bluelamp_text": {"type": "english"}}}
    else:
        analysis = {"analyzer": {"bluelamp_text": {"type": "standard", "stopwords": "_english_"}}}
    place = {
        "properties": {
            "name": _keyword(),
            "location": {"type": "geo_point"},
            "confidence": {"type": "float"},
            "method": _keyword(),
        }
    }
    mappings: dict[str, Any] = {
        "dynamic": False,
        "properties": {
            "@timestamp": {"type": "date"},
            "event": {"properties": {"ingested": {"type": "date"}, "created": {"type": "date"}}},
            "url": {"properties": {"full": _keyword()}},
            "geo": {"properties": {"location": {"type": "geo_point"}}},
            "id": _keyword(),
            "platform": _keyword(),
            "native_id": _keyword(),
            "text": _text("bluelamp_text"),
            "language": _keyword(),
            "author": {
                "properties": {
                    "id": _keyword(),
                    "handle": _keyword(),
                    "display_name": _text("bluelamp_text"),
                }
            },
            "references": {"properties": {"kind": _keyword(), "id": _keyword(), "url": _keyword()}},
            "hashtags": _keyword(),
            "mentions": _keyword(),
            "links": _keyword(),
            "media": {
                "properties": {"url": _keyword(), "type": _keyword(), "alt_text": {"type": "text"}}
            },
            "engagement": {
                "properties": {
                    k: {"type": "long"} for k in ("replies", "reposts", "likes", "quotes", "views")
                }
            },
            "source": {"properties": {"name": _keyword(), "query": _keyword()}},
            "synthetic": {"type": "boolean"},
            "enrichment": {
                "properties": {
                    "places": place,
                    "force_area": _keyword(),
                    "neighbourhood": _keyword(),
                    "sentiment": {"properties": {"label": _keyword(), "score": {"type": "float"}}},
                    "crime": {
                        "properties": {
                            "relevant": {"type": "boolean"},
                            "score": {"type": "float"},
                            "categories": _keyword(),
                            "urgency": _keyword(),
                            "urgency_score": {"type": "float"},
                        }
                    },
                    "abuse": {
                        "properties": {"offensive": {"type": "float"}, "hate": {"type": "float"}}
                    },
                    "entities": {"properties": {"type": _keyword(), "text": _keyword()}},
                    "models": {"type": "object", "enabled": False},
                    "model_versions": _keyword(),
                }
            },
        },
    }
    return {
        "index_patterns": [layout.pattern],
        "priority": 200,
        "template": {
            "settings": {
                "number_of_shards": 1,
                "number_of_replicas": replicas,
                "refresh_interval": "1s",
                "analysis": analysis,
            },
            "mappings": mappings,
            "aliases": {layout.alias: {}},
        },
        "_meta": {"managed_by": "bluelamp", "schema_version": 1},
    }


def to_document(post: Post, *, ingested: datetime | None = None) -> dict[str, Any]:
    """The indexed form of a Post: the schema plus ECS fields where one fits."""
    doc = post.model_dump(mode="json", exclude={"url", "geo"}, exclude_none=True)
    doc["@timestamp"] = doc.pop("created_at")
    doc["event"] = {
        "ingested": (ingested or datetime.now(UTC)).isoformat(),
        "created": doc.pop("collected_at"),
    }
    if post.url:
        doc["url"] = {"full": post.url}
    if post.geo:
        doc["geo"] = {"location": {"lat": post.geo.lat, "lon": post.geo.lon}}
    enrichment = doc.get("enrichment", {})
    for place in enrichment.get("places", []):
        place["location"] = {"lat": place.pop("lat"), "lon": place.pop("lon")}
    if enrichment.get("models"):
        enrichment["model_versions"] = [f"{k}@{v}" for k, v in enrichment["models"].items()]
    return doc


def from_document(doc: dict[str, Any]) -> Post:
    """Rebuild a Post from its indexed form (the inverse of to_document)."""
    data = dict(doc)
    data["created_at"] = data.pop("@timestamp")
    event = data.pop("event", {})
    data["collected_at"] = event.get("created", data["created_at"])
    url = data.pop("url", None)
    data["url"] = url.get("full") if isinstance(url, dict) else None
    geo = data.pop("geo", None)
    if isinstance(geo, dict) and "location" in geo:
        data["geo"] = geo["location"]
    enrichment = dict(data.get("enrichment", {}))
    enrichment.pop("model_versions", None)
    enrichment["places"] = [
        {**{k: v for k, v in p.items() if k != "location"}, **p["location"]}
        for p in enrichment.get("places", [])
    ]
    data["enrichment"] = enrichment
    return Post.model_validate(data)
