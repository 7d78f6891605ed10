"""Reddit: a subreddit's ``new`` listing or a search in it, with app-only OAuth.

Auth is Reddit's application-only OAuth (``grant_type=client_credentials``
with HTTP basic auth of the app's client id and secret, both read from the
environment or a secret file and never logged). The bearer token is cached
until shortly before ``expires_in``; a 401 refreshes it once.

Listings are newest first, paged with ``after``. The cursor (JSON) keeps the
creation time of the newest post collected (``boundary``), the fullnames seen
recently (to drop repeats at the boundary) and, while a backlog is being
worked through, where to continue (``after``) and the newest post of that
pass (``top``). A poll reads at most ``max_pages`` pages; when more is new it
continues from ``after`` on the next poll, so nothing between the two is lost.

``raw_json=1`` gives unescaped text; ``selftext_html`` is never used. Title
and selftext still go through :func:`collectors.rss.to_plain_text` (Reddit's
markdown may carry literal markup). A post whose text is ``[removed]`` or
``[deleted]`` (or that has ``removed_by_category``) becomes a deletion of the
id we may hold.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from bluelamp import __version__
from bluelamp.post import MAX_TEXT_CHARS, Author, Engagement, Post, SourceRef, make_id
from collectors.base import (
    Collector,
    CollectorError,
    CollectResult,
    FetchError,
    HttpResponse,
    HttpSource,
    load_json_cursor,
    own_http,
)
from collectors.config import SourceBase, http_url
from collectors.registry import BuildContext
from collectors.rss import safe_url, to_plain_text
from collectors.secrets import SecretRef

PLATFORM = "reddit"
# Reddit's API rules ask for "<platform>:<app id>:<version> (by /u/<username>)".
DEFAULT_USER_AGENT = f"python:bluelamp:{__version__} (police social-media monitor)"
_GONE = {"[removed]", "[deleted]"}
_TOKEN_MARGIN_S = 60.0  # refresh this long before the token expires


class RedditOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_size: int = Field(100, ge=1, le=100)  # Reddit's maximum is 100
    max_pages: int = Field(10, ge=1, le=100)  # pages read per poll; the rest waits
    first_pages: int = Field(1, ge=1, le=10)  # a first poll takes only the newest pages
    remember: int = Field(1000, ge=100, le=10_000)  # fullnames kept to drop repeats


class RedditSource(SourceBase):
    kind: Literal["reddit"]
    subreddit: str = Field(pattern=r"^[A-Za-z0-9_]{2,21}(\+[A-Za-z0-9_]{2,21})*$")
    query: str | None = Field(None, min_length=1, max_length=512)  # search instead of new
    client_id: SecretRef
    client_secret: SecretRef
    user_agent: str = Field(DEFAULT_USER_AGENT, min_length=10, max_length=256)
    api_url: str = "https://oauth.reddit.com"
    auth_url: str = "https://www.reddit.com"
    web_url: str = "https://www.reddit.com"  # permalinks are relative to this
    options: RedditOptions = Field(default_factory=RedditOptions)

    @field_validator("api_url", "auth_url", "web_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value).rstrip("/")


SOURCE_MODEL = RedditSource


def build(config: SourceBase, context: BuildContext) -> RedditCollector:
    assert isinstance(config, RedditSource)
    return RedditCollector(config)


class RedditAuthError(CollectorError):
    """Reddit refused the app's credentials (or sent no token)."""


class ListingError(CollectorError):
    """The response is not a Reddit Listing."""


def item_is_gone(data: dict[str, Any]) -> bool:
    """Removed by a moderator or deleted by its author."""
    return str(data.get("selftext") or "") in _GONE or bool(data.get("removed_by_category"))


def to_post(data: dict[str, Any], *, source: SourceRef, web_url: str, now: datetime) -> Post:
    """One t3 (link post) as a Post. Raises KeyError/ValueError/TypeError when malformed."""
    fullname = str(data["name"])
    created = datetime.fromtimestamp(float(data["created_utc"]), UTC)
    title = to_plain_text(str(data["title"]), 2_000)
    body = to_plain_text(str(data.get("selftext") or ""))
    text = f"{title}\n\n{body}" if body else title
    author = str(data.get("author") or "")
    handle = None if not author or author in _GONE else to_plain_text(author, 256) or None
    author_id = data.get("author_fullname")
    permalink = str(data.get("permalink") or "")
    url = safe_url(web_url + permalink) if permalink.startswith("/") else None
    links = []
    if not data.get("is_self"):
        link = safe_url(data.get("url"))
        if link and link != url:
            links.append(link)
    score, comments = data.get("score"), data.get("num_comments")
    return Post(
        id=make_id(PLATFORM, fullname),
        platform=PLATFORM,
        native_id=fullname,
        url=url,
        text=text[:MAX_TEXT_CHARS],
        created_at=created,
        collected_at=now,
        author=Author(
            id=str(author_id) if isinstance(author_id, str) and handle else None, handle=handle
        ),
        links=links,
        engagement=Engagement(
            likes=max(0, score) if isinstance(score, int) else None,
            replies=max(0, comments) if isinstance(comments, int) else None,
        ),
        source=source,
    )


class RedditCollector(Collector):
    kind = "reddit"

    def __init__(self, config: RedditSource, http: HttpSource | None = None) -> None:
        super().__init__(config.name)
        self.config = config
        policy = config.fetch_policy(user_agent=config.user_agent)
        self.http = own_http(http, self.health, policy)
        self._client_id: SecretStr = config.client_id.resolve(source=config.name, what="client_id")
        self._client_secret: SecretStr = config.client_secret.resolve(
            source=config.name, what="client_secret"
        )
        self._token: SecretStr | None = None
        self._token_expires = 0.0  # monotonic
        self.token_requests = 0

    async def close(self) -> None:
        await self.http.close()

    # ------------------------------------------------------------------ auth
    @property
    def token_url(self) -> str:
        return f"{self.config.auth_url}/api/v1/access_token"

    async def _bearer(self, *, renew: bool = False) -> str:
        if renew or self._token is None or time.monotonic() >= self._token_expires:
            await self._fetch_token()
        assert self._token is not None
        return self._token.get_secret_value()

    async def _fetch_token(self) -> None:
        self._token = None
        self.token_requests += 1
        url = self.token_url
        try:
            response = await self.http.fetch(
                url,
                method="POST",
                data={"grant_type": "client_credentials"},
                headers={
                    "Accept": "application/json",
                    "Authorization": aiohttp.encode_basic_auth(
                        self._client_id.get_secret_value(), self._client_secret.get_secret_value()
                    ),
                },
            )
        except FetchError as exc:
            if exc.status in (400, 401, 403):
                raise RedditAuthError(
                    "Reddit refused the app's client id and secret",
                    source=self.name,
                    url=url,
                    status=exc.status,
                    hint="check client_id and client_secret (a 'script' or 'web' app's"
                    " credentials from https://www.reddit.com/prefs/apps)",
                ) from exc
            raise
        data = _json(response, self.name)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            reason = data.get("error") if isinstance(data, dict) else None
            raise RedditAuthError(
                f"no access_token in the token response (error: {str(reason)[:100]})",
                source=self.name,
                url=url,
                status=response.status,
            )
        expires_in = data.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        self._token = SecretStr(token)
        self._token_expires = time.monotonic() + max(0.0, lifetime - _TOKEN_MARGIN_S)

    # --------------------------------------------------------------- listing
    def listing_url(self, after: str | None) -> str:
        opts = self.config.options
        sub = self.config.subreddit
        params: dict[str, str] = {"limit": str(opts.page_size), "raw_json": "1"}
        if self.config.query is None:
            path = f"/r/{sub}/new"
        else:
            path = f"/r/{sub}/search/"  # as PRAW spells it
            params.update(q=self.config.query, restrict_sr="1", sort="new", t="all")
        if after:
            params["after"] = after
        return f"{self.config.api_url}{path}?{urlencode(params)}"

    def _source_ref(self) -> SourceRef:
        sub = self.config.subreddit
        query = self.config.query
        return SourceRef(
            name=self.name, query=f"r/{sub}/new" if query is None else f"r/{sub}: {query}"
        )

    async def _get(self, url: str) -> HttpResponse:
        token = await self._bearer()
        try:
            return await self.http.fetch(url, headers={"Authorization": f"bearer {token}"})
        except FetchError as exc:
            if exc.status != 401:
                raise
        # The token was revoked or expired early: one fresh token, one more try.
        token = await self._bearer(renew=True)
        return await self.http.fetch(url, headers={"Authorization": f"bearer {token}"})

    async def poll(self, cursor: str | None) -> CollectResult:
        state = load_json_cursor(cursor)
        boundary: float | None = state.get("boundary")
        seen_list: list[str] = list(state.get("seen") or [])
        seen = set(seen_list)
        after: str | None = state.get("after")
        top: float | None = state.get("top")
        now = datetime.now(UTC)
        source = self._source_ref()

        posts: list[Post] = []
        deletes: list[str] = []
        warnings: list[str] = []
        fresh: list[str] = []
        newest = top
        reached = False
        opts = self.config.options
        for _ in range(opts.max_pages if state else opts.first_pages):
            url = self.listing_url(after)
            children, after = self._children(await self._get(url), url)
            for index, child in enumerate(children):
                data = child.get("data") if isinstance(child, dict) else None
                label = _label(data, index, url)
                if not isinstance(data, dict) or child.get("kind") != "t3":
                    warnings.append(f"{label}: skipped: not a link post (t3)")
                    continue
                try:
                    created = float(data["created_utc"])
                    fullname = str(data["name"])
                except (KeyError, TypeError, ValueError) as exc:
                    warnings.append(f"{label}: skipped: missing or bad {exc}")
                    continue
                if (boundary is not None and created < boundary) or fullname in seen:
                    reached = True  # older than the last poll's newest: done after this page
                    if item_is_gone(data):
                        deletes.append(make_id(PLATFORM, fullname))
                    continue
                newest = created if newest is None else max(newest, created)
                fresh.append(fullname)
                seen.add(fullname)
                if item_is_gone(data):
                    deletes.append(make_id(PLATFORM, fullname))
                    continue
                try:
                    posts.append(to_post(data, source=source, web_url=self.config.web_url, now=now))
                except (KeyError, TypeError, ValueError) as exc:
                    warnings.append(f"{label}: skipped: {str(exc)[:300]}")
            if reached or not after or not children:
                break

        remember = self.config.options.remember
        new_state: dict[str, Any] = {"seen": list(dict.fromkeys(fresh + seen_list))[:remember]}
        # Caught up (or a first poll, which only takes the newest pages): start from the top.
        if reached or not after or boundary is None:
            new_state["boundary"] = newest if newest is not None else boundary
        else:  # a backlog: continue below ``after`` next time, then move the boundary
            new_state.update(boundary=boundary, after=after, top=newest)
            warnings.append(
                f"more than {self.config.options.max_pages} pages are new; the rest is"
                " collected on the next poll"
            )
        return CollectResult(
            posts=posts, deletes=deletes, cursor=json.dumps(new_state), warnings=warnings
        )

    def _children(self, response: HttpResponse, url: str) -> tuple[list[Any], str | None]:
        body = _json(response, self.name)
        data = body.get("data") if isinstance(body, dict) else None
        if (
            not isinstance(body, dict)
            or body.get("kind") != "Listing"
            or not isinstance(data, dict)
            or not isinstance(data.get("children"), list)
        ):
            raise ListingError(
                "not a Reddit Listing (no data.children)",
                source=self.name,
                url=url,
                status=response.status,
            )
        after = data.get("after")
        return data["children"], after if isinstance(after, str) and after else None


def _json(response: HttpResponse, source: str) -> Any:
    try:
        return json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ListingError(
            f"undecodable JSON ({len(response.body)} bytes): {exc.__class__.__name__}:"
            f" {str(exc)[:200]}",
            source=source,
            url=response.url,
            status=response.status,
        ) from exc


def _label(data: Any, index: int, url: str) -> str:
    name = data.get("name") if isinstance(data, dict) else None
    where = f"{name}" if isinstance(name, str) else f"item {index}"
    return f"{where} in {url}"
