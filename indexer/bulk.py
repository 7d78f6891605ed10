"""Async bulk indexing with bounded concurrency, retries and per-document reports.

Nothing is dropped silently: every post handed in comes back in the report as
indexed, failed (the engine rejected it for good, with the reason) or deferred
(still retryable after the retry budget, e.g. the engine is down; the caller
keeps it and tries later).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from bluelamp.backoff import backoff_delay
from bluelamp.logging import get_logger
from bluelamp.post import Post
from bluelamp.settings import IndexerSettings
from indexer.engine import EngineError, SearchEngine
from indexer.layout import IndexLayout, template_body, to_document

log = get_logger(__name__)


@dataclass
class BulkReport:
    indexed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    deferred: dict[str, str] = field(default_factory=dict)
    retries: int = 0

    def merge(self, other: BulkReport) -> None:
        self.indexed.extend(other.indexed)
        self.failed.update(other.failed)
        self.deferred.update(other.deferred)
        self.retries += other.retries


@dataclass(frozen=True)
class _Item:
    id: str
    lines: bytes  # action line + source line, newline-terminated


class BulkIndexer:
    def __init__(
        self,
        engine: SearchEngine,
        layout: IndexLayout,
        settings: IndexerSettings | None = None,
        *,
        replicas: int = 0,
    ) -> None:
        self.engine = engine
        self.layout = layout
        self.settings = settings or IndexerSettings()
        self.replicas = replicas
        self._template_ready = False

    async def ensure_template(self) -> None:
        """Install (or update) the index template; safe to call repeatedly."""
        if self._template_ready:
            return
        english = await self.engine.analyzer_exists("english")
        if not english:
            log.warning(
                "english analyzer missing; using standard analyzer with English stop words",
                engine=self.engine.info.url,
            )
        await self.engine.put_index_template(
            self.layout.template_name,
            template_body(self.layout, english_available=english, replicas=self.replicas),
        )
        self._template_ready = True

    def _item(self, post: Post, ingested: datetime) -> _Item:
        action = {"index": {"_index": self.layout.index_for(post.created_at), "_id": post.id}}
        doc = to_document(post, ingested=ingested)
        return _Item(post.id, orjson.dumps(action) + b"\n" + orjson.dumps(doc) + b"\n")

    def _chunks(self, items: list[_Item]) -> list[list[_Item]]:
        chunks: list[list[_Item]] = []
        current: list[_Item] = []
        size = 0
        for item in items:
            if current and (
                len(current) >= self.settings.chunk_docs
                or size + len(item.lines) > self.settings.chunk_bytes
            ):
                chunks.append(current)
                current, size = [], 0
            current.append(item)
            size += len(item.lines)
        if current:
            chunks.append(current)
        return chunks

    async def index_posts(self, posts: Sequence[Post], *, refresh: bool = False) -> BulkReport:
        await self.ensure_template()
        now = datetime.now(UTC)
        items = [self._item(post, now) for post in posts]
        report = BulkReport()
        if not items:
            return report
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def run(chunk: list[_Item]) -> BulkReport:
            async with limit:
                return await self._send_chunk(chunk)

        for part in await asyncio.gather(*(run(c) for c in self._chunks(items))):
            report.merge(part)
        if refresh and report.indexed:
            await self.engine.refresh(self.layout.alias)
        return report

    async def _send_chunk(self, chunk: list[_Item]) -> BulkReport:
        report = BulkReport()
        pending = chunk
        attempt = 0
        while pending:
            try:
                response = await self.engine.bulk(b"".join(i.lines for i in pending))
            except EngineError as exc:
                if exc.status == 413 and len(pending) > 1:
                    half = len(pending) // 2
                    for part in (pending[:half], pending[half:]):
                        report.merge(await self._send_chunk(part))
                    return report
                if not exc.retryable:
                    for item in pending:
                        report.failed[item.id] = str(exc)
                    return report
                attempt += 1
                if attempt > self.settings.max_retries:
                    for item in pending:
                        report.deferred[item.id] = str(exc)
                    return report
                report.retries += 1
                log.warning(
                    "bulk request failed; retrying",
                    error=str(exc),
                    attempt=attempt,
                    docs=len(pending),
                )
                await asyncio.sleep(self._delay(attempt))
                continue
            pending = self._sort_items(pending, response, report)
            if pending:
                attempt += 1
                if attempt > self.settings.max_retries:
                    for item in pending:
                        report.deferred.setdefault(item.id, "still rejected after retries")
                    return report
                report.retries += 1
                await asyncio.sleep(self._delay(attempt))
        return report

    def _sort_items(
        self, sent: list[_Item], response: dict[str, Any], report: BulkReport
    ) -> list[_Item]:
        """Record each item's outcome; return the ones worth retrying."""
        retry: list[_Item] = []
        for item, result in zip(sent, response.get("items", []), strict=False):
            outcome = next(iter(result.values()))
            status = int(outcome.get("status", 0))
            if 200 <= status < 300:
                report.indexed.append(item.id)
                report.deferred.pop(item.id, None)
                continue
            error = outcome.get("error") or {}
            reason = f"HTTP {status} {error.get('type')}: {error.get('reason')}"
            if status == 429 or status >= 500:
                report.deferred[item.id] = reason
                retry.append(item)
            else:
                report.failed[item.id] = reason
        if len(response.get("items", [])) < len(sent):
            for item in sent[len(response.get("items", [])) :]:
                retry.append(item)
        return retry

    def _delay(self, attempt: int) -> float:
        return backoff_delay(attempt, self.settings.backoff_base_s, self.settings.backoff_max_s)

    async def delete_posts(self, ids: Sequence[str]) -> int:
        """Delete posts by id wherever they are (platform deletions, erasure).

        Finds each post's monthly index, then bulk-deletes: this needs no
        ``_delete_by_query`` (absent from minimal engine builds).
        """
        if not ids:
            return 0
        unique = list(dict.fromkeys(ids))
        found = await self.engine.search(
            self.layout.alias,
            {"query": {"ids": {"values": unique}}, "_source": False, "size": len(unique)},
        )
        lines = [
            orjson.dumps({"delete": {"_index": hit["_index"], "_id": hit["_id"]}})
            for hit in found["hits"]["hits"]
        ]
        if not lines:
            return 0
        response = await self.engine.bulk(b"\n".join(lines) + b"\n", refresh=True)
        deleted = 0
        for item in response.get("items", []):
            outcome = item["delete"]
            status = int(outcome.get("status", 0))
            if 200 <= status < 300 or status == 404:
                deleted += status != 404
            else:
                error = outcome.get("error") or {}
                raise EngineError(
                    f"deleting {outcome.get('_id')} failed: HTTP {status} {error.get('reason')}",
                    status=status,
                )
        return deleted
