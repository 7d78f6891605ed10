"""Post search: user text becomes a ``simple_query_string``, never raw query DSL.

``simple_query_string`` cannot raise a parse error and ignores syntax it does
not know, so hostile text (``title:(a OR b``, JSON, script) is just words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bluelamp.post import Post
from indexer.engine import SearchEngine
from indexer.layout import IndexLayout, from_document

MAX_QUERY_CHARS = 1000
SEARCH_FIELDS = ["text^2", "author.display_name", "hashtags", "author.handle"]


@dataclass(frozen=True)
class PostQuery:
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    platforms: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    size: int = 20
    offset: int = 0


@dataclass
class SearchResult:
    total: int
    posts: list[Post] = field(default_factory=list)
    took_ms: int = 0


def build_query(query: PostQuery) -> dict[str, Any]:
    must: list[dict[str, Any]] = []
    filters: list[dict[str, Any]] = []
    text = (query.text or "").strip()[:MAX_QUERY_CHARS]
    if text:
        must.append(
            {
                "simple_query_string": {
                    "query": text,
                    "fields": SEARCH_FIELDS,
                    "default_operator": "and",
                    "flags": "AND|OR|NOT|PHRASE|PREFIX|WHITESPACE|PRECEDENCE",
                    "lenient": True,
                }
            }
        )
    if query.since or query.until:
        bounds: dict[str, str] = {}
        if query.since:
            bounds["gte"] = query.since.isoformat()
        if query.until:
            bounds["lt"] = query.until.isoformat()
        filters.append({"range": {"@timestamp": bounds}})
    if query.platforms:
        filters.append({"terms": {"platform": [p.lower() for p in query.platforms]}})
    if query.areas:
        filters.append({"terms": {"enrichment.force_area": list(query.areas)}})
    return {"bool": {"must": must or [{"match_all": {}}], "filter": filters}}


async def search_posts(engine: SearchEngine, layout: IndexLayout, query: PostQuery) -> SearchResult:
    body = {
        "query": build_query(query),
        "size": max(0, min(query.size, 500)),
        "from": max(0, min(query.offset, 10_000)),
        "sort": [{"@timestamp": "desc"}, {"id": "asc"}]
        if not query.text
        else ["_score", {"@timestamp": "desc"}],
        "track_total_hits": True,
    }
    result = await engine.search(layout.alias, body)
    hits = result.get("hits", {})
    total = hits.get("total", {})
    return SearchResult(
        total=int(total.get("value", 0)) if isinstance(total, dict) else int(total or 0),
        posts=[from_document(h["_source"]) for h in hits.get("hits", [])],
        took_ms=int(result.get("took", 0)),
    )
