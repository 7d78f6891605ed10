"""Mastodon: public, hashtag and list timelines and status search (polled), and the
streaming API (server-sent events) with a REST backfill on every (re)connect.

Each configured source is one instance and one timeline, so every instance gets
its own HTTP session, rate-limit state (300 requests / 5 min per account and per
IP), circuit breaker and health. Status ids are per-instance database ids: the
same number on two instances is two different statuses, and a federated status
has a different id on every instance that holds it. The native id is therefore
``<instance host>/<status id>`` (e.g. ``mastodon.social/113…``): ids cannot
collide across instances, and a streamed ``delete`` (which carries only the
local id) maps to exactly the post it deletes.

The cursor is JSON ``{"min_id": "<newest status id collected>"}``. A poll asks
for what is newer than it (``min_id``) and follows ``Link: rel="prev"`` until a
page brings nothing new, at most ``max_pages`` pages per poll (the rest follows
on the next poll, since pages run oldest to newest from the cursor). The first
poll (no cursor) takes only the newest page rather than the whole history.

Boosts (reblogs): by default the boosted status is collected in place of the
boost (``reblogs: original``): its text is what is being spread, it is keyed by
its own id so boosting it again adds nothing, and thematic monitoring needs no
list of who boosted. ``reblogs: repost`` also keeps the boost itself as a post
by the booster with a ``repost`` reference; ``reblogs: skip`` drops boosts.

Status text is hostile: ``content``, ``spoiler_text``, display names and media
descriptions go through :func:`collectors.rss.to_plain_text`, URLs through
:func:`collectors.rss.safe_url`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from bluelamp.post import (
    MAX_TEXT_CHARS,
    Author,
    Engagement,
    Media,
    Post,
    PostRef,
    SourceRef,
    make_id,
)
from collectors.base import (
    Collector,
    CollectorError,
    CollectResult,
    HttpResponse,
    HttpSource,
    StreamCollector,
)
from collectors.config import SourceBase, http_url
from collectors.registry import BuildContext
from collectors.rss import safe_url, to_plain_text
from collectors.secrets import SecretRef

PLATFORM = "mastodon"
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_STATUS_ID = re.compile(r"^[0-9]{1,30}$")
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r"""rel\s*=\s*"?([^";,]*)"?""")
_MEDIA_TYPES: dict[str, Literal["image", "video", "gif", "audio", "other"]] = {
    "image": "image",
    "video": "video",
    "gifv": "gif",
    "audio": "audio",
}
_MAX_EVENT_BYTES = 1024 * 1024  # a status is a few KB; anything this big is refused


# ------------------------------------------------------------------ config
class MastodonOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_limit: int = Field(40, ge=1, le=40)  # statuses per request (Mastodon's maximum: 40)
    max_pages: int = Field(10, ge=1, le=100)  # requests per poll; the rest follows next poll
    batch_events: int = Field(200, ge=1, le=10_000)  # stream: events per batch at most
    batch_s: float = Field(0.5, gt=0, le=60)  # stream: a batch is yielded at least this often
    idle_timeout_s: float = Field(90.0, gt=0, le=3600)  # stream: silence (no heartbeat) = dead


class MastodonSource(SourceBase):
    """One instance and one timeline (or search) on it."""

    kind: Literal["mastodon"]
    instance: str  # https://mastodon.social
    timeline: Literal["public", "hashtag", "list", "search"] = "public"
    tag: str | None = Field(None, pattern=r"^[^\s#/?&]{1,100}$")  # hashtag, without '#'
    any_tags: list[str] = Field(default_factory=list, max_length=10)  # hashtag: OR these too
    list_id: str | None = Field(None, pattern=r"^[0-9]{1,30}$")
    query: str | None = Field(None, min_length=1, max_length=500)  # search
    scope: Literal["all", "local", "remote"] = "all"  # public/hashtag: which statuses
    only_media: bool = False
    stream: bool = False  # use the streaming API (with a REST backfill) instead of polling
    streaming_url: str | None = None  # default: from /api/v2/instance, else `instance`
    reblogs: Literal["original", "repost", "skip"] = "original"
    access_token: SecretRef | None = None
    options: MastodonOptions = Field(default_factory=MastodonOptions)

    @field_validator("instance", "streaming_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value).rstrip("/")

    @model_validator(mode="after")
    def _timeline_fields(self) -> MastodonSource:
        needs = {"hashtag": ("tag", self.tag), "list": ("list_id", self.list_id)}
        needs["search"] = ("query", self.query)
        if self.timeline in needs and needs[self.timeline][1] is None:
            raise ValueError(f"timeline {self.timeline!r} needs '{needs[self.timeline][0]}'")
        if self.timeline in ("list", "search") and self.access_token is None:
            raise ValueError(f"timeline {self.timeline!r} needs an 'access_token' (Mastodon rule)")
        if self.timeline == "search" and self.stream:
            raise ValueError("search has no streaming API: set stream: false")
        if self.any_tags and self.timeline != "hashtag":
            raise ValueError("any_tags only applies to timeline 'hashtag'")
        return self

    @property
    def host(self) -> str:
        """The instance's host (with a non-default port), lower case: the id prefix."""
        parts = urlsplit(self.instance)
        host = (parts.hostname or "").lower()
        return f"{host}:{parts.port}" if parts.port else host


SOURCE_MODEL = MastodonSource


def build(config: SourceBase, context: BuildContext) -> MastodonCollector | MastodonStream:
    assert isinstance(config, MastodonSource)
    token = None
    if config.access_token is not None:
        token = config.access_token.resolve(source=config.name, what="access_token")
    if config.stream:
        return MastodonStream(config, token=token)
    return MastodonCollector(config, token=token)


# ------------------------------------------------------------ status → post
class _Anchors(HTMLParser):
    """Hrefs of ordinary links in status HTML (mentions and hashtags excluded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        href = safe_url(values.get("href"))
        if href and "mention" not in classes and "hashtag" not in classes:
            self.hrefs.append(href)


def _links(content: str, card: Any) -> list[str]:
    parser = _Anchors()
    try:
        parser.feed(content)
        parser.close()
    except Exception:  # noqa: S110 - links are a nicety; the text is already safe
        pass
    links = parser.hrefs
    if isinstance(card, dict) and (url := safe_url(card.get("url"))):
        links.append(url)
    return list(dict.fromkeys(links))[:50]


def _status_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _STATUS_ID.match(value):
        raise ValueError(f"id: not a status id: {str(value)[:40]!r}")
    return value


def _id_key(status_id: str) -> tuple[int, str]:
    """Mastodon ids are decimal snowflakes: longer is newer, then lexical."""
    return (len(status_id), status_id)


def newest_id(ids: Iterable[str | None]) -> str | None:
    valid = [i for i in ids if i]
    return max(valid, key=_id_key) if valid else None


def _required(data: Mapping[str, Any], key: str) -> Any:
    value = data.get(key)
    if value is None or value == "":
        raise ValueError(f"{key}: missing")
    return value


def _when(value: Any) -> datetime:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"created_at: not an ISO 8601 time: {str(value)[:40]!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _author(account: Any, host: str) -> Author:
    if not isinstance(account, dict):
        raise ValueError("account: missing")
    handle = _handle(str(_required(account, "acct")), host)
    return Author(
        id=f"{host}/{_status_id(account.get('id'))}",
        handle=handle,
        display_name=to_plain_text(str(account.get("display_name") or ""), 512) or None,
    )


def _handle(acct: str, host: str) -> str:
    """Local accounts have a bare acct ("admin"); every handle becomes user@host."""
    acct = to_plain_text(acct, 200).lstrip("@")
    if not acct.strip("@"):
        raise ValueError("account.acct: empty once made safe")
    return (acct if "@" in acct else f"{acct}@{host.split(':')[0]}")[:256]


def _media(items: Any) -> list[Media]:
    out: list[Media] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        url = safe_url(item.get("url")) or safe_url(item.get("remote_url"))
        if url is None:
            continue
        alt = to_plain_text(item.get("description"), 5_000) or None
        kind = _MEDIA_TYPES.get(str(item.get("type")), "other")
        out.append(Media(url=url, type=kind, alt_text=alt))
    return out


def status_to_post(
    status: Mapping[str, Any], *, host: str, source: str, query: str | None, fetched_at: datetime
) -> Post:
    """One Mastodon status (not a boost wrapper) as a Post; ValueError if unusable."""
    local = _status_id(status.get("id"))
    ident = f"{host}/{local}"
    content = to_plain_text(str(status.get("content") or ""))
    spoiler = to_plain_text(str(status.get("spoiler_text") or ""), 2_000)
    text = f"{spoiler}\n\n{content}" if spoiler and content else (spoiler or content)
    refs: list[PostRef] = []
    if status.get("in_reply_to_id") is not None:
        parent = _status_id(status.get("in_reply_to_id"))
        refs.append(PostRef(kind="reply", id=make_id(PLATFORM, f"{host}/{parent}")))
    quote_of = status.get("quote")
    if isinstance(quote_of, dict) and isinstance(quote_of.get("quoted_status"), dict):
        quoted = quote_of["quoted_status"]
        refs.append(
            PostRef(
                kind="quote",
                id=make_id(PLATFORM, f"{host}/{_status_id(quoted.get('id'))}"),
                url=safe_url(quoted.get("url")),
            )
        )
    language = status.get("language")
    tags = [t.get("name") for t in status.get("tags") or [] if isinstance(t, dict)]
    mentions = [m.get("acct") for m in status.get("mentions") or [] if isinstance(m, dict)]
    return Post(
        id=make_id(PLATFORM, ident),
        platform=PLATFORM,
        native_id=ident,
        url=safe_url(status.get("url")) or safe_url(status.get("uri")),
        text=text[:MAX_TEXT_CHARS],
        language=language if isinstance(language, str) and _LANGUAGE.match(language) else None,
        created_at=_when(_required(status, "created_at")),
        collected_at=fetched_at,
        author=_author(status.get("account"), host),
        references=refs,
        hashtags=[to_plain_text(t, 200) for t in tags if isinstance(t, str)],
        mentions=[_handle(m, host) for m in mentions if isinstance(m, str)],
        links=_links(str(status.get("content") or ""), status.get("card")),
        media=_media(status.get("media_attachments")),
        engagement=Engagement(
            replies=_count(status.get("replies_count")),
            reposts=_count(status.get("reblogs_count")),
            likes=_count(status.get("favourites_count")),
            quotes=_count(status.get("quotes_count")),
        ),
        source=SourceRef(name=source, query=query),
    )


def statuses_to_posts(
    statuses: Iterable[Any],
    config: MastodonSource,
    *,
    query: str | None,
    fetched_at: datetime,
) -> tuple[list[Post], list[str]]:
    """Posts and warnings: a malformed status is skipped with a warning naming it."""
    posts: list[Post] = []
    warnings: list[str] = []
    for index, status in enumerate(statuses):
        label = f"status #{index}"
        try:
            if not isinstance(status, dict):
                raise ValueError("not a JSON object")
            label = f"status {str(status.get('id'))[:40]!r}"
            posts.extend(_convert(status, config, query=query, fetched_at=fetched_at))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            reason = " ".join(str(exc).split())[:300]
            warnings.append(f"{config.name}: {label} skipped: {reason}")
    return posts, warnings


def _convert(
    status: Mapping[str, Any], config: MastodonSource, *, query: str | None, fetched_at: datetime
) -> list[Post]:
    def post(s: Mapping[str, Any]) -> Post:
        return status_to_post(
            s, host=config.host, source=config.name, query=query, fetched_at=fetched_at
        )

    boosted = status.get("reblog")
    if not isinstance(boosted, dict):
        return [post(status)]
    if config.reblogs == "skip":
        _status_id(status.get("id"))
        return []
    original = post(boosted)
    if config.reblogs == "original":
        return [original]
    boost = post({**status, "content": boosted.get("content"), "reblog": None})
    boost.references = [PostRef(kind="repost", id=original.id, url=original.url)]
    return [original, boost]


# --------------------------------------------------------------- REST paging
def parse_links(header: str | None) -> dict[str, str]:
    """``Link: <url>; rel="next", <url>; rel="prev"`` → {"next": url, "prev": url}."""
    out: dict[str, str] = {}
    for match in _LINK.finditer(header or ""):
        url, params = match.group(1).strip(), match.group(2)
        rel = _REL.search(params)
        if rel:
            for name in rel.group(1).split():
                out.setdefault(name.lower(), url)
    return out


def _load_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        state = json.loads(cursor)
    except ValueError:
        return None
    value = state.get("min_id") if isinstance(state, dict) else None
    return value if isinstance(value, str) and _STATUS_ID.match(value) else None


def dump_cursor(min_id: str) -> str:
    return json.dumps({"min_id": min_id})


def _with_cursor(batch: CollectResult, newest: str | None) -> CollectResult:
    batch.cursor = dump_cursor(newest) if newest is not None else None
    return batch


class MastodonApi:
    """Timeline and search requests for one source, over its :class:`HttpSource`."""

    def __init__(self, config: MastodonSource, http: HttpSource, token: SecretStr | None) -> None:
        self.config = config
        self.http = http
        self._token = token  # SecretStr: its repr is ********** if it ends up in a log
        self.more_pending = False

    @property
    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return headers

    def endpoint(self) -> tuple[str, list[tuple[str, str]]]:
        """The REST path and fixed parameters of this source's timeline."""
        c = self.config
        params: list[tuple[str, str]] = []
        if c.timeline in ("public", "hashtag") and c.scope != "all":
            params.append((c.scope, "true"))
        if c.only_media and c.timeline in ("public", "hashtag"):
            params.append(("only_media", "true"))
        if c.timeline == "hashtag":
            params.extend(("any[]", t) for t in c.any_tags)
            return f"/api/v1/timelines/tag/{quote(c.tag or '', safe='')}", params
        if c.timeline == "list":
            return f"/api/v1/timelines/list/{c.list_id}", params
        if c.timeline == "search":
            return "/api/v2/search", [("q", c.query or ""), ("type", "statuses")]
        return "/api/v1/timelines/public", params

    def url(self, min_id: str | None) -> str:
        path, params = self.endpoint()
        params = [*params, ("limit", str(self.config.options.page_limit))]
        if min_id:
            params.append(("min_id", min_id))
        return f"{self.config.instance}{path}?{urlencode(params)}"

    def _same_origin(self, url: str) -> bool:
        """Only follow a Link to the instance itself: our token must not go elsewhere."""
        mine, theirs = urlsplit(self.config.instance), urlsplit(url)
        return (mine.scheme, mine.netloc.lower()) == (theirs.scheme, theirs.netloc.lower())

    async def page(self, url: str) -> tuple[list[Any], HttpResponse]:
        response = await self.http.fetch(url, headers=self.headers)
        try:
            data = json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise CollectorError(
                f"not a JSON response ({len(response.body)} bytes): {exc.__class__.__name__}:"
                f" {str(exc)[:200]}",
                source=self.config.name,
                url=url,
                status=response.status,
            ) from None
        if self.config.timeline == "search" and isinstance(data, dict):
            data = data.get("statuses")
        if not isinstance(data, list):
            raise CollectorError(
                f"expected a JSON list of statuses, got {type(data).__name__}",
                source=self.config.name,
                url=url,
                status=response.status,
            )
        return data, response

    async def collect(
        self, min_id: str | None, max_pages: int
    ) -> AsyncIterator[tuple[list[Any], str | None]]:
        """Pages of statuses newer than ``min_id`` (oldest page first) with the
        newest id so far; without ``min_id``, only the newest page. Sets
        ``more_pending`` when ``max_pages`` ended it before an empty page."""
        self.more_pending = False
        url = self.url(min_id)
        newest = min_id
        for page in range(max_pages):
            items, response = await self.page(url)
            ids = [_safe_id(s) for s in items]
            # Keep only what is newer than the cursor: a real instance does this
            # itself, a proxy or an old server that ignores min_id does not. A
            # status without a usable id is passed on, to be reported as malformed.
            fresh = [s for s, i in zip(items, ids, strict=True) if i is None or _newer(i, min_id)]
            fresh_ids = [i for i in ids if i is not None and _newer(i, min_id)]
            newest = newest_id([newest, *fresh_ids])
            if fresh:
                yield fresh, newest
            if min_id is None or not fresh_ids or newest is None:
                return  # first poll: the newest page is enough; no newer ids: caught up
            min_id = newest
            prev = parse_links(response.headers.get("Link")).get("prev")
            usable = prev and self._same_origin(prev) and _min_id_in(prev) == newest
            url = prev if prev and usable else self.url(newest)
            self.more_pending = page == max_pages - 1

    async def streaming_base(self) -> str:
        """The streaming server's base URL: configured, else as the instance says."""
        if self.config.streaming_url:
            return self.config.streaming_url
        url = f"{self.config.instance}/api/v2/instance"
        try:
            response = await self.http.fetch(url, headers=self.headers)
            return streaming_base_from(json.loads(response.body)) or self.config.instance
        except (CollectorError, ValueError, UnicodeDecodeError):
            return self.config.instance  # most instances proxy /api/v1/streaming themselves


def streaming_base_from(instance: Any) -> str | None:
    """``configuration.urls.streaming`` (v2) or ``urls.streaming_api`` (v1), as http(s)."""
    if not isinstance(instance, dict):
        return None
    urls = (instance.get("configuration") or {}).get("urls") or instance.get("urls") or {}
    value = urls.get("streaming") or urls.get("streaming_api") if isinstance(urls, dict) else None
    if not isinstance(value, str):
        return None
    value = re.sub(r"^ws(s?)://", r"http\1://", value.strip())
    return safe_url(value.rstrip("/"))


def _safe_id(status: Any) -> str | None:
    try:
        return _status_id(status.get("id")) if isinstance(status, dict) else None
    except ValueError:
        return None


def _newer(status_id: str, than: str | None) -> bool:
    return than is None or _id_key(status_id) > _id_key(than)


def _min_id_in(url: str) -> str | None:
    match = re.search(r"[?&]min_id=([0-9]+)", url)
    return match.group(1) if match else None


# ------------------------------------------------------------- polled kind
class MastodonCollector(Collector):
    kind = "mastodon"

    def __init__(
        self,
        config: MastodonSource,
        http: HttpSource | None = None,
        *,
        token: SecretStr | None = None,
    ) -> None:
        super().__init__(config.name)
        self.config = config
        self.http = http or HttpSource(config.name, config.fetch_policy(), health=self.health)
        self.http.health = self.health
        self.api = MastodonApi(config, self.http, token)

    async def close(self) -> None:
        await self.http.close()

    async def poll(self, cursor: str | None) -> CollectResult:
        min_id = _load_cursor(cursor)
        fetched_at = datetime.now(UTC)
        query = self.api.url(None)
        result = CollectResult()
        newest = min_id
        async for items, page_newest in self.api.collect(min_id, self.config.options.max_pages):
            newest = page_newest
            posts, warnings = statuses_to_posts(
                items, self.config, query=query, fetched_at=fetched_at
            )
            result.posts.extend(posts)
            result.warnings.extend(warnings)
        if self.api.more_pending:
            result.warnings.append(
                f"{self.name}: stopped after {self.config.options.max_pages} pages;"
                " the rest follows on the next poll"
            )
        result.cursor = dump_cursor(newest) if newest and newest != min_id else None
        return result


# ------------------------------------------------------------ streaming kind
class SseDecoder:
    """Server-sent events from bytes (the WHATWG event-stream rules Mastodon uses).

    Hand-written because it is small and the stream needs what SSE client
    libraries hide: a per-event size cap and reconnects that we control (each
    reconnect must first backfill over REST)."""

    def __init__(self, max_event_bytes: int = _MAX_EVENT_BYTES) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._oversized = False
        self.max_event_bytes = max_event_bytes
        self.dropped = 0  # events over the size cap

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        self._buffer += chunk
        events: list[tuple[str, str]] = []
        while True:
            cut = self._buffer.find(b"\n")
            if cut < 0:
                if len(self._buffer) > self.max_event_bytes:  # one endless line
                    self._buffer = b""
                    self._oversized = True
                break
            raw, self._buffer = self._buffer[:cut], self._buffer[cut + 1 :]
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if not line:
                if self._oversized:
                    self.dropped += 1
                elif self._data:
                    events.append((self._event or "message", "\n".join(self._data)))
                self._event, self._data, self._size, self._oversized = "", [], 0, False
                continue
            if line.startswith(":"):
                continue  # a comment: Mastodon's heartbeat
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                self._event = value
            elif name == "data":
                self._size += len(raw)
                if self._size > self.max_event_bytes:
                    self._oversized, self._data = True, []
                elif not self._oversized:
                    self._data.append(value)
        return events


class MastodonStream(StreamCollector):
    """The streaming API for a public, hashtag or list timeline.

    Streams have no replay, so each (re)connect first opens the stream and
    then backfills from the matching REST timeline with ``min_id`` = the
    cursor; events that arrive meanwhile wait in the socket and are
    de-duplicated against the backfill. Nothing between the last saved cursor
    and the new connection is lost."""

    kind = "mastodon"

    def __init__(
        self,
        config: MastodonSource,
        http: HttpSource | None = None,
        *,
        token: SecretStr | None = None,
    ) -> None:
        super().__init__(config.name)
        self.config = config
        self.http = http or HttpSource(config.name, config.fetch_policy(), health=self.health)
        self.http.health = self.health
        self.api = MastodonApi(config, self.http, token)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.http.close()

    def stream_path(self) -> str:
        c = self.config
        suffix = "" if c.scope == "all" else f"/{c.scope}"
        if c.timeline == "hashtag":
            return f"/api/v1/streaming/hashtag{suffix}?{urlencode({'tag': c.tag or ''})}"
        if c.timeline == "list":
            return f"/api/v1/streaming/list?{urlencode({'list': c.list_id or ''})}"
        media = "?only_media=true" if c.only_media else ""
        return f"/api/v1/streaming/public{suffix}{media}"

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            p = self.http.policy
            self._session = aiohttp.ClientSession(
                # No total timeout: the stream is meant to stay open. Silence is
                # caught by idle_timeout_s (Mastodon sends a heartbeat every ~15 s).
                timeout=aiohttp.ClientTimeout(total=None, connect=p.connect_timeout_s),
                headers={"User-Agent": p.user_agent},
                trust_env=p.trust_env,
            )
        return self._session

    async def stream(self, cursor: str | None) -> AsyncIterator[CollectResult]:
        url = f"{await self.api.streaming_base()}{self.stream_path()}"
        headers = {**self.api.headers, "Accept": "text/event-stream"}
        try:
            response = await self._session_for_loop().get(url, headers=headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CollectorError(
                f"cannot open the stream: {exc.__class__.__name__}: {exc}",
                source=self.name,
                url=url,
            ) from None
        self.health.requests += 1
        try:
            if response.status != 200:
                raise CollectorError(
                    f"stream refused: {response.reason or ''}".strip(),
                    source=self.name,
                    url=url,
                    status=response.status,
                )
            seen: set[str] = set()
            newest = _load_cursor(cursor)
            if newest is not None:
                async for batch in self._backfill(newest, seen):
                    newest = _load_cursor(batch.cursor) or newest
                    yield batch
            async for batch in self._events(response, url, newest, seen):
                yield batch
        finally:
            response.close()

    async def _backfill(self, min_id: str, seen: set[str]) -> AsyncIterator[CollectResult]:
        fetched_at = datetime.now(UTC)
        query = self.api.url(None)
        # Every page is its own batch (saved before the next), so a long gap is
        # worked through without a per-poll bound and without losing progress.
        async for items, newest in self.api.collect(min_id, max_pages=1_000_000):
            posts, warnings = statuses_to_posts(
                items, self.config, query=query, fetched_at=fetched_at
            )
            seen.update(p.native_id for p in posts)
            yield CollectResult(
                posts=posts, cursor=dump_cursor(newest) if newest else None, warnings=warnings
            )

    async def _events(
        self, response: aiohttp.ClientResponse, url: str, newest: str | None, seen: set[str]
    ) -> AsyncIterator[CollectResult]:
        options = self.config.options
        decoder = SseDecoder()
        loop = asyncio.get_running_loop()
        batch = CollectResult()
        events = 0
        deadline = loop.time() + options.batch_s
        last_data = loop.time()
        query = url
        while True:
            chunk: bytes | None = None
            try:
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    chunk = await response.content.readany()
            except TimeoutError:
                pass
            except aiohttp.ClientError as exc:
                if batch.posts or batch.deletes:
                    yield _with_cursor(batch, newest)  # what arrived before the break is kept
                raise CollectorError(
                    f"stream broke: {exc.__class__.__name__}: {exc}", source=self.name, url=url
                ) from None
            if chunk == b"":  # the server closed the stream
                if batch.posts or batch.deletes or batch.warnings:
                    yield _with_cursor(batch, newest)
                return
            if chunk:
                last_data = loop.time()
                dropped = decoder.dropped
                for event, data in decoder.feed(chunk):
                    events += 1
                    newest = self._apply(event, data, batch, newest, seen, query)
                if decoder.dropped > dropped:
                    batch.warnings.append(
                        f"{self.name}: {decoder.dropped - dropped} stream event(s) over"
                        f" {decoder.max_event_bytes} bytes dropped"
                    )
            if loop.time() - last_data > options.idle_timeout_s:
                if batch.posts or batch.deletes:
                    yield _with_cursor(batch, newest)
                raise CollectorError(
                    f"stream silent for {options.idle_timeout_s:.0f}s (no heartbeat); reconnecting",
                    source=self.name,
                    url=url,
                )
            if events >= options.batch_events or loop.time() >= deadline:
                yield _with_cursor(batch, newest)
                batch, events = CollectResult(), 0
                deadline = loop.time() + options.batch_s

    def _apply(
        self,
        event: str,
        data: str,
        batch: CollectResult,
        newest: str | None,
        seen: set[str],
        query: str,
    ) -> str | None:
        """Add one event to the batch; returns the newest status id seen."""
        host = self.config.host
        if event == "delete":
            try:
                batch.deletes.append(make_id(PLATFORM, f"{host}/{_status_id(data.strip())}"))
            except ValueError as exc:
                batch.warnings.append(f"{self.name}: delete event skipped: {exc}")
            return newest
        if event not in ("update", "status.update"):
            return newest  # notifications, announcements, filters: not posts
        try:
            status = json.loads(data)
        except ValueError as exc:
            batch.warnings.append(f"{self.name}: {event} event skipped: not JSON: {exc}")
            return newest
        posts, warnings = statuses_to_posts(
            [status], self.config, query=query, fetched_at=datetime.now(UTC)
        )
        batch.warnings.extend(warnings)
        for post in posts:
            # An update already collected by the backfill is skipped; an edit
            # (status.update) is kept: same id, newer content, and it replaces
            # an older version in this batch (commit keeps one post per id).
            if event == "update" and post.native_id in seen:
                continue
            seen.add(post.native_id)
            batch.posts = [p for p in batch.posts if p.id != post.id]
            batch.posts.append(post)
        if event == "update":
            return newest_id([newest, _safe_id(status)])
        return newest
