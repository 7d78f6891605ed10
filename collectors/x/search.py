"""Recent search (``GET /2/tweets/search/recent``): paging, the since_id cursor, the poll.

X returns newest first and pages backwards with ``next_token``. The cursor
(JSON) holds:

- ``since_id``: every post up to this id has been collected;
- ``paging``: an unfinished catch-up (``next_token`` and the newest id seen),
  when more than ``max_pages`` pages were new since ``since_id``; the next
  poll carries on from the token before moving ``since_id``, so a busy
  period is collected in full over several polls instead of leaving a gap;
- ``ids`` and ``compliance``: see :mod:`collectors.x.compliance`.

On the very first poll (no ``since_id``) only ``max_pages`` pages are read:
the rest of X's 7-day window is not back-filled. Recent search reaches back
7 days only: a ``since_id`` older than that (the source was off for a week)
is replaced by the window's start, with a warning naming the gap.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bluelamp.post import Post
from collectors.base import Collector, CollectResult, HttpSource, SourceHealth, load_json_cursor
from collectors.x.api import XApi, XApiError, api_problems, expansion_params
from collectors.x.compliance import Compliance, remember_ids
from collectors.x.config import XSource
from collectors.x.mapping import Includes, MalformedTweet, describe, id_time, newest, tweet_to_post

SEARCH_PATH = "/2/tweets/search/recent"
WINDOW = timedelta(days=7)
_WINDOW_MARGIN = timedelta(minutes=2)  # stay clear of the window's edge (clock skew)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SearchRun:
    posts: list[Post] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    newest_id: str | None = None
    next_token: str | None = None  # set when max_pages ran out before the last page
    pages: int = 0


async def search(
    api: XApi,
    query: str,
    *,
    label: str | None,
    since_id: str | None = None,
    start_time: datetime | None = None,
    next_token: str | None = None,
    max_pages: int = 5,
    max_results: int = 100,
    now: datetime,
) -> SearchRun:
    """Read up to ``max_pages`` pages of results newer than ``since_id``."""
    run = SearchRun()
    skipped = 0
    while run.pages < max_pages:
        params = {"query": query, "max_results": str(max_results), **expansion_params()}
        if since_id:
            params["since_id"] = since_id
        elif start_time:
            params["start_time"] = start_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        if next_token:
            params["next_token"] = next_token
        document = await api.get(SEARCH_PATH, params)
        run.pages += 1
        meta = document.get("meta") if isinstance(document.get("meta"), dict) else {}
        assert isinstance(meta, dict)
        data = document.get("data", [])
        if not isinstance(data, list) or ("data" not in document and "meta" not in document):
            problems = "; ".join(api_problems(document)) or "no 'data' list and no 'meta'"
            raise XApiError(
                f"not a search result: {problems}", source=api.source, url=api.url(SEARCH_PATH)
            )
        run.warnings.extend(f"X reported: {p}" for p in api_problems(document))
        includes = Includes.of(document)
        for index, tweet in enumerate(data):
            try:
                post = tweet_to_post(
                    tweet, includes, source=api.source, query=label, collected_at=now
                )
            except MalformedTweet as exc:
                skipped += 1
                run.warnings.append(f"skipped {describe(tweet, index)}: {exc}")
                continue
            # X never sends posts at or below since_id; a cursor is only as good as this.
            if since_id and int(post.native_id) <= int(since_id):
                continue
            run.posts.append(post)
            run.newest_id = newest(run.newest_id, post.native_id)
        run.newest_id = newest(run.newest_id, _str(meta.get("newest_id")))
        next_token = _str(meta.get("next_token"))
        if not next_token:
            break
    else:
        run.next_token = next_token
    if skipped > 3:  # one line per bad post would bury the rest
        run.warnings = [*run.warnings[:3], f"{skipped} malformed posts skipped in all"]
    return run


def _str(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None


def window_start(since_id: str | None, now: datetime) -> tuple[str | None, datetime | None, str]:
    """``since_id`` if recent search still reaches it, else the window's start and a warning."""
    if not since_id:
        return None, None, ""
    oldest = now - WINDOW + _WINDOW_MARGIN
    if id_time(since_id) >= oldest:
        return since_id, None, ""
    gap = (
        f"last collected post {since_id} is older than recent search's 7 days:"
        f" posts from {id_time(since_id):%Y-%m-%d %H:%M} to {oldest:%Y-%m-%d %H:%M} UTC"
        " cannot be collected"
    )
    return None, oldest, gap


class XClient:
    """What the search and the stream collector share: the source's config, the API
    (its one HTTP session reporting to the collector's health), compliance, a clock."""

    health: SourceHealth

    def open_api(self, config: XSource, api: XApi, clock: Clock) -> None:
        self.config = config
        self.api = api
        self.http: HttpSource = api.http
        self.http.health = self.health
        self.compliance = Compliance(api, config.options.compliance)
        self.clock = clock

    async def close(self) -> None:
        await self.http.close()


class XSearchCollector(XClient, Collector):
    kind = "x"

    def __init__(
        self,
        config: XSource,
        api: XApi,
        *,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(config.name)
        self.open_api(config, api, clock)

    async def poll(self, cursor: str | None) -> CollectResult:
        state = load_json_cursor(cursor)
        now = self.clock()
        query = self.config.query
        assert query is not None  # the config requires it in search mode
        warnings: list[str] = []
        paging = state.get("paging") if isinstance(state.get("paging"), dict) else None
        since_id, start_time, gap = window_start(_str(state.get("since_id")), now)
        if gap:
            warnings.append(gap)
            paging = None
        run = await search(
            self.api,
            query,
            label=query,
            since_id=since_id,
            start_time=start_time,
            next_token=_str(paging.get("next_token")) if paging else None,
            max_pages=self.config.options.max_pages,
            max_results=self.config.options.max_results,
            now=now,
        )
        warnings.extend(run.warnings)
        newest_id = newest(_str(paging.get("newest_id")) if paging else None, run.newest_id)
        new_state: dict[str, Any] = {"since_id": since_id, "paging": None}
        if run.next_token and since_id:
            new_state["paging"] = {"next_token": run.next_token, "newest_id": newest_id}
        else:
            if run.next_token:
                warnings.append(
                    f"first poll read {run.pages} pages; older posts were not back-filled"
                )
            new_state["since_id"] = newest(newest_id, since_id)
        ids = remember_ids(
            state.get("ids") or [],
            (p.native_id for p in run.posts),
            self.config.options.compliance,
            now,
        )
        compliance, outcome = await self.compliance.step(state.get("compliance") or {}, ids, now)
        deleted = {d.split(":", 1)[1] for d in outcome.deletes}
        new_state["ids"] = [i for i in ids if i not in deleted]
        new_state["compliance"] = compliance
        warnings.extend(outcome.warnings)
        return CollectResult(
            posts=run.posts,
            deletes=outcome.deletes,
            cursor=json.dumps(new_state, separators=(",", ":")),
            warnings=warnings,
        )
