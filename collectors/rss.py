"""RSS and Atom feeds, parsed by feedparser from bytes the framework fetched.

Feed text is attacker-controlled. Every field that becomes part of a Post is
reduced to plain text: all markup is removed (the contents of ``script``,
``style`` and similar elements dropped), entities are decoded, and whitespace
is folded. No HTML survives, so nothing downstream has to sanitise it again
(renderers still escape, as they must for any text).

The cursor is JSON: the feed's ``ETag`` and ``Last-Modified`` (for a
conditional GET: 304 means nothing new) and the ids of recent entries (so a
changed feed only yields the entries not seen before).
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import html
import io
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import feedparser  # no stubs
import nh3
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bluelamp.post import MAX_TEXT_CHARS, Author, Post, SourceRef, make_id
from bluelamp.text import strip_invisible
from collectors.base import (
    Collector,
    CollectorError,
    CollectResult,
    HttpSource,
    load_json_cursor,
    own_http,
)
from collectors.config import SourceBase, http_url
from collectors.registry import BuildContext

PLATFORM = "rss"
# Elements whose content is never text a reader sees.
_DROP_CONTENT = {
    "script",
    "style",
    "template",
    "noscript",
    "iframe",
    "object",
    "embed",
    "applet",
    "noembed",
    "noframes",
    "xmp",
    "title",
    "head",
    "svg",
    "math",
}
_TAG_LIKE = re.compile(r"<(?=[A-Za-z/!?])")
_SPACE = re.compile(r"\s+")
_MAX_URL = 4096


class RssOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_entries: int = Field(500, ge=1, le=10_000)  # entries read per poll, newest first
    remember: int = Field(500, ge=0, le=5_000)  # entry ids kept in the cursor to skip repeats


class RssSource(SourceBase):
    kind: Literal["rss"]
    url: str
    options: RssOptions = Field(default_factory=RssOptions)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)


SOURCE_MODEL = RssSource


def build(config: SourceBase, context: BuildContext) -> RssCollector:
    assert isinstance(config, RssSource)
    return RssCollector(config)


class FeedError(CollectorError):
    """The body is not a feed feedparser can read anything from."""


def to_plain_text(value: str | None, limit: int = MAX_TEXT_CHARS) -> str:
    """Markup (or text that may contain markup) to safe plain text.

    Stripping repeats until no tag-like ``<`` is left, because decoding
    entities can turn ``&lt;script&gt;`` into markup again; a ``<`` that
    still starts something tag-like is replaced by a lookalike (U+2039).
    """
    text = value or ""
    for _ in range(5):
        text = nh3.clean(
            text,
            tags=set(),
            clean_content_tags=_DROP_CONTENT,
            attributes={},
            strip_comments=True,
        )
        text = html.unescape(text)
        if not _TAG_LIKE.search(text):
            break
    text = _TAG_LIKE.sub("\u2039", text)
    text = _SPACE.sub(" ", strip_invisible(text)).strip()
    return text[:limit]


def safe_url(value: Any) -> str | None:
    """An http(s) URL with a host, or None (javascript:, data:, relative and junk dropped)."""
    if not isinstance(value, str):
        return None
    candidate = strip_invisible(value).strip()
    if not candidate or len(candidate) > _MAX_URL or any(c.isspace() for c in candidate):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if "<" in candidate or ">" in candidate or '"' in candidate:
        return None
    return candidate


def native_id(feed_url: str, entry: Any) -> str:
    """A stable id: the feed URL plus the entry's own id (or link, or content)."""
    key = entry.get("id") or entry.get("link")
    if not key:
        key = "\x1f".join(str(entry.get(k) or "") for k in ("title", "summary", "published"))
    digest = hashlib.sha256(f"{feed_url}\n{key}".encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:40]


def _when(entry: Any, fallback: datetime) -> datetime:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, ValueError, OSError, TypeError):
                continue
    return fallback


def _body_text(entry: Any) -> str:
    """The full content when the feed has it, else the summary (often an excerpt)."""
    content = entry.get("content") or []
    parts = [str(part.get("value") or "") for part in content if isinstance(part, dict)]
    full = " ".join(p for p in parts if p)
    return full or str(entry.get("summary") or "")


def entry_to_post(entry: Any, *, source: str, feed_url: str, fetched_at: datetime) -> Post:
    title = to_plain_text(entry.get("title"), 2_000)
    body = to_plain_text(_body_text(entry))
    text = f"{title}\n\n{body}" if title and body and body != title else (title or body)
    handle = to_plain_text(entry.get("author"), 256) or None
    ident = native_id(feed_url, entry)
    return Post(
        id=make_id(PLATFORM, ident),
        platform=PLATFORM,
        native_id=ident,
        url=safe_url(entry.get("link")),
        text=text[:MAX_TEXT_CHARS],
        created_at=_when(entry, fetched_at),
        collected_at=fetched_at,
        author=Author(handle=handle),
        source=SourceRef(name=source, query=feed_url),
    )


def parse_feed(body: bytes, *, url: str, content_type: str | None) -> Any:
    """feedparser over bytes only: a string would make it open files or URLs."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    return feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=True)


class RssCollector(Collector):
    kind = "rss"

    def __init__(self, config: RssSource, http: HttpSource | None = None) -> None:
        super().__init__(config.name)
        self.config = config
        self.http = own_http(http, self.health, config.fetch_policy())

    async def close(self) -> None:
        await self.http.close()

    async def poll(self, cursor: str | None) -> CollectResult:
        state = load_json_cursor(cursor)
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9"}
        if state.get("etag"):
            headers["If-None-Match"] = str(state["etag"])
        if state.get("last_modified"):
            headers["If-Modified-Since"] = str(state["last_modified"])
        url = self.config.url
        response = await self.http.fetch(url, headers=headers)
        if response.status == 304:
            return CollectResult(cursor=None)

        fetched_at = datetime.now(UTC)
        parsed = await asyncio.to_thread(
            parse_feed, response.body, url=url, content_type=response.headers.get("Content-Type")
        )
        warnings: list[str] = []
        if parsed.get("bozo"):
            reason = f"malformed feed: {_bozo_reason(parsed)}"
            if not parsed.entries and not parsed.get("version"):
                raise FeedError(
                    f"not a readable RSS/Atom feed ({len(response.body)} bytes): {reason}",
                    source=self.name,
                    url=url,
                    status=response.status,
                )
            warnings.append(f"{reason}; {len(parsed.entries)} entries read anyway")
        elif not parsed.get("version") and not parsed.entries:
            raise FeedError(
                "not an RSS or Atom document", source=self.name, url=url, status=response.status
            )

        seen = set(state.get("seen") or [])
        posts: list[Post] = []
        rejected = 0
        for entry in parsed.entries[: self.config.options.max_entries]:
            try:
                post = entry_to_post(entry, source=self.name, feed_url=url, fetched_at=fetched_at)
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                rejected += 1
                if rejected == 1:
                    warnings.append(f"entry skipped: {str(exc)[:300]}")
                continue
            if post.native_id not in seen:
                posts.append(post)
        if rejected > 1:
            warnings.append(f"{rejected} entries skipped in all")

        remember = self.config.options.remember
        current = [native_id(url, e) for e in parsed.entries[: self.config.options.max_entries]]
        kept = list(dict.fromkeys(current + list(state.get("seen") or [])))[:remember]
        new_state = {
            "etag": response.headers.get("ETag"),
            "last_modified": response.headers.get("Last-Modified"),
            "seen": kept,
        }
        return CollectResult(posts=posts, cursor=json.dumps(new_state), warnings=warnings)


def _bozo_reason(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    if exc is None:
        return "unknown problem"
    return f"{exc.__class__.__name__}: {str(exc)[:300]}"
