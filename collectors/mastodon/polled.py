"""Polled Mastodon timelines and search: one poll pages from the cursor to now."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import SecretStr

from collectors.base import Collector, CollectResult, HttpSource
from collectors.mastodon.api import MastodonClient
from collectors.mastodon.config import MastodonSource
from collectors.mastodon.ids import dump_cursor, load_cursor
from collectors.mastodon.mapping import statuses_to_posts


class MastodonCollector(MastodonClient, Collector):
    kind = "mastodon"

    def __init__(
        self,
        config: MastodonSource,
        http: HttpSource | None = None,
        *,
        token: SecretStr | None = None,
    ) -> None:
        super().__init__(config.name)
        self.open_api(config, http, token)

    async def poll(self, cursor: str | None) -> CollectResult:
        min_id = load_cursor(cursor)
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
