"""Timeline and search requests for one Mastodon source, with ``min_id`` paging.

A poll asks for what is newer than the cursor (``min_id``) and follows
``Link: rel="prev"`` until a page brings nothing new, at most ``max_pages``
pages (the rest follows on the next poll, since pages run oldest to newest from
the cursor). Without a cursor only the newest page is taken, not the history.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from pydantic import SecretStr

from collectors.base import CollectorError, HttpResponse, HttpSource, SourceHealth, own_http
from collectors.mastodon.config import MastodonSource
from collectors.mastodon.ids import is_newer, newest_id, safe_id
from collectors.rss import safe_url

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r"""rel\s*=\s*"?([^";,]*)"?""")


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


def _min_id_in(url: str) -> str | None:
    match = re.search(r"[?&]min_id=([0-9]+)", url)
    return match.group(1) if match else None


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
            ids = [safe_id(s) for s in items]
            # Keep only what is newer than the cursor: a real instance does this
            # itself, a proxy or an old server that ignores min_id does not. A
            # status without a usable id is passed on, to be reported as malformed.
            fresh = [s for s, i in zip(items, ids, strict=True) if i is None or is_newer(i, min_id)]
            fresh_ids = [i for i in ids if i is not None and is_newer(i, min_id)]
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


class MastodonClient:
    """What the polled and the streaming collector share: the source's config, its
    one HTTP session (reporting to the collector's health) and the API over it."""

    health: SourceHealth

    def open_api(
        self, config: MastodonSource, http: HttpSource | None, token: SecretStr | None
    ) -> None:
        self.config = config
        self.http = own_http(http, self.health, config.fetch_policy())
        self.api = MastodonApi(config, self.http, token)

    async def close(self) -> None:
        await self.http.close()
