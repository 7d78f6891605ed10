"""``app.bsky.feed.searchPosts`` for each configured query, as a polled Collector.

Results come newest first (``sort=latest``) in pages linked by ``cursor``.
Each poll pages down from the top until a page has nothing new, or it
reaches posts older than the newest one the last poll saw (less
``OVERLAP_S``), or ``max_pages``; when it stops early it remembers where
(a "gap") and finishes that stretch on later polls, so a burst larger than
one poll's pages is collected in full. Recently collected URIs are kept in the
cursor so the overlap yields no repeats.

The cursor (JSON) is only saved after the posts are in the spool; a failed
poll changes nothing and the next one starts from the same place. The
framework honours ``RateLimit-*`` and ``Retry-After`` headers (Bluesky's
AppView sends the IETF draft ``RateLimit-Limit/Remaining/Reset/Policy``).

With credentials, an app password is exchanged for a session
(``com.atproto.server.createSession``) and the bearer token sent with each
search; the service should then be the account's PDS, which proxies to the
AppView. The password and token are never logged or put in an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from pydantic import SecretStr

from bluelamp.post import InvalidRecord, Post
from collectors.base import (
    Collector,
    CollectorError,
    CollectResult,
    FetchError,
    HttpSource,
    load_json_cursor,
    own_http,
)
from collectors.bluesky.config import BlueskySource
from collectors.bluesky.records import view_to_post

SEARCH = "/xrpc/app.bsky.feed.searchPosts"
CREATE_SESSION = "/xrpc/com.atproto.server.createSession"
OVERLAP_S = 300.0  # how far past the last poll's newest post each poll still looks
_MAX_GAPS = 20


class SearchError(CollectorError):
    """The AppView's answer is not a searchPosts result."""


@dataclass
class _Page:
    posts: list[Any]
    cursor: str | None


def sort_key(view: Mapping[str, Any]) -> float | None:
    """The AppView's ordering time: the earlier of ``createdAt`` and ``indexedAt``."""
    times: list[float] = []
    record = view.get("record")
    for value in (
        view.get("indexedAt"),
        record.get("createdAt") if isinstance(record, Mapping) else None,
    ):
        if isinstance(value, str):
            try:
                times.append(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
            except ValueError:
                continue
    return min(times) if times else None


class BlueskySearchCollector(Collector):
    kind = "bluesky"

    def __init__(self, config: BlueskySource, http: HttpSource | None = None) -> None:
        super().__init__(config.name)
        self.config = config
        self.http = own_http(http, self.health, config.fetch_policy())
        self._token: SecretStr | None = None

    async def close(self) -> None:
        await self.http.close()

    # ------------------------------------------------------------ session
    async def _auth_headers(self) -> dict[str, str]:
        creds = self.config.credentials
        if creds is None:
            return {}
        if self._token is None:
            identifier = creds.identifier.resolve(source=self.name, what="credentials.identifier")
            password = creds.password.resolve(source=self.name, what="credentials.password")
            url = creds.service + CREATE_SESSION
            response = await self.http.fetch(
                url,
                method="POST",
                json_body={
                    "identifier": identifier.get_secret_value(),
                    "password": password.get_secret_value(),
                },
            )
            data = self._json(response.body, url, response.status)
            token = data.get("accessJwt") if isinstance(data, dict) else None
            if not isinstance(token, str) or not token:
                raise SearchError(
                    "createSession answered without an access token", source=self.name, url=url
                )
            self._token = SecretStr(token)
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

    # --------------------------------------------------------------- HTTP
    def _json(self, body: bytes, url: str, status: int) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise SearchError(
                f"answer is not JSON ({len(body)} bytes): {exc}",
                source=self.name,
                url=url,
                status=status,
            ) from exc

    def search_url(self, query: str, cursor: str | None) -> str:
        params: dict[str, str] = {
            "q": query,
            "limit": str(self.config.options.page_limit),
            "sort": self.config.options.sort,
        }
        if self.config.options.lang:
            params["lang"] = self.config.options.lang
        if cursor:
            params["cursor"] = cursor
        return f"{self.config.service_url}{SEARCH}?{urlencode(params)}"

    async def _page(self, query: str, cursor: str | None) -> _Page:
        url = self.search_url(query, cursor)
        for attempt in (1, 2):
            headers = await self._auth_headers()
            try:
                response = await self.http.fetch(url, headers=headers)
                break
            except FetchError as exc:
                # An expired session: log in again once.
                if attempt == 1 and self._token is not None and exc.status in (400, 401):
                    self._token = None
                    continue
                raise
        data = self._json(response.body, url, response.status)
        posts = data.get("posts") if isinstance(data, dict) else None
        if not isinstance(posts, list):
            raise SearchError(
                "answer has no 'posts' list", source=self.name, url=url, status=response.status
            )
        next_cursor = data.get("cursor")
        return _Page(posts, next_cursor if isinstance(next_cursor, str) and next_cursor else None)

    # --------------------------------------------------------------- poll
    async def poll(self, cursor: str | None) -> CollectResult:
        state = load_json_cursor(cursor)
        seen: dict[str, None] = dict.fromkeys(state.get("seen") or [])
        queries_state = state.get("queries") if isinstance(state.get("queries"), dict) else {}
        assert isinstance(queries_state, dict)
        posts: list[Post] = []
        problems: list[str] = []
        new_queries: dict[str, Any] = {}
        for query in self.config.queries:
            previous = queries_state.get(query)
            new_queries[query] = await self._poll_query(
                query, previous if isinstance(previous, dict) else {}, seen, posts, problems
            )
        warnings = problems[:5]
        if len(problems) > 5:
            warnings.append(f"{len(problems)} results skipped in all")
        remember = self.config.options.remember
        kept = list(seen)[-remember:] if remember else []
        new_state = {"queries": new_queries, "seen": kept}
        return CollectResult(posts=posts, cursor=json.dumps(new_state), warnings=warnings)

    async def _poll_query(
        self,
        query: str,
        qstate: dict[str, Any],
        seen: dict[str, None],
        posts: list[Post],
        problems: list[str],
    ) -> dict[str, Any]:
        hwm = qstate.get("hwm") if isinstance(qstate.get("hwm"), int | float) else None
        gaps = [g for g in qstate.get("gaps") or [] if isinstance(g, dict)]
        budget = self.config.options.max_pages

        # New posts: from the top down to the previous poll's newest (less the overlap).
        stop_at = hwm - OVERLAP_S if hwm is not None else None
        newest, resume, used = await self._walk(query, None, stop_at, budget, seen, posts, problems)
        budget -= used
        if resume is not None:  # finish it next time (the first poll: to the results' end)
            gaps.insert(0, {"cursor": resume, "until": stop_at})
        # Older stretches a previous poll could not finish.
        remaining: list[dict[str, Any]] = []
        for gap in gaps:
            if budget <= 0 or not isinstance(gap.get("cursor"), str):
                remaining.append(gap)
                continue
            until = gap.get("until")
            limit = float(until) if isinstance(until, int | float) else None
            _, resume, used = await self._walk(
                query, gap["cursor"], limit, budget, seen, posts, problems
            )
            budget -= used
            if resume is not None:
                remaining.append({"cursor": resume, "until": gap.get("until")})
        best = max((t for t in (hwm, newest) if t is not None), default=None)
        return {"hwm": best, "gaps": remaining[:_MAX_GAPS]}

    async def _walk(
        self,
        query: str,
        cursor: str | None,
        stop_at: float | None,
        budget: int,
        seen: dict[str, None],
        posts: list[Post],
        problems: list[str],
    ) -> tuple[float | None, str | None, int]:
        """Page from ``cursor`` until posts are older than ``stop_at``, a page has
        nothing new, the results end, or ``budget`` pages are used. Returns (newest
        time seen, the cursor to resume from if stopped early, pages used)."""
        newest: float | None = None
        used = 0
        while used < budget:
            page = await self._page(query, cursor)
            used += 1
            reached = False
            fresh = 0
            for view in page.posts:
                key = sort_key(view) if isinstance(view, Mapping) else None
                if key is not None:
                    newest = key if newest is None else max(newest, key)
                    if stop_at is not None and key < stop_at:
                        reached = True
                        continue
                uri = view.get("uri") if isinstance(view, Mapping) else None
                if isinstance(uri, str) and uri in seen:
                    continue
                try:
                    post = view_to_post(view, source=self.name, query=query)
                except InvalidRecord as exc:
                    problems.append(f"result {str(uri)[:300]!r} for {query!r} skipped: {exc}")
                    continue
                posts.append(post)
                seen[post.native_id] = None
                fresh += 1
            cursor = page.cursor
            # A page with nothing new: what follows was read before (or is in a gap).
            if reached or fresh == 0 or cursor is None:
                return newest, None, used
        return newest, cursor, used
