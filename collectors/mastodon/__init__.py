"""Mastodon: public, hashtag and list timelines and status search (polled), and the
streaming API (server-sent events) with a REST backfill on every (re)connect.

Each configured source is one instance and one timeline, so every instance gets
its own HTTP session, rate-limit state (300 requests / 5 min per account and per
IP), circuit breaker and health. Post ids are ``<instance host>/<status id>``
because status ids are per instance. The cursor is JSON ``{"min_id": "<newest
status id collected>"}``.

- :mod:`collectors.mastodon.config`: the ``kind: mastodon`` source model;
- :mod:`collectors.mastodon.ids`: status ids, their order, and the cursor;
- :mod:`collectors.mastodon.mapping`: a status (or boost) to Posts, text made safe;
- :mod:`collectors.mastodon.api`: REST requests and ``min_id``/``Link`` paging;
- :mod:`collectors.mastodon.sse`: the server-sent events decoder;
- :mod:`collectors.mastodon.polled`: the polled collector;
- :mod:`collectors.mastodon.stream`: the streaming collector with REST backfill.

Operator guide: docs/operators/sources/mastodon.md.
"""

from __future__ import annotations

from collectors.config import SourceBase
from collectors.mastodon.api import MastodonApi, parse_links, streaming_base_from
from collectors.mastodon.config import MastodonOptions, MastodonSource
from collectors.mastodon.ids import dump_cursor, newest_id
from collectors.mastodon.mapping import PLATFORM, status_to_post, statuses_to_posts
from collectors.mastodon.polled import MastodonCollector
from collectors.mastodon.sse import SseDecoder
from collectors.mastodon.stream import MastodonStream
from collectors.registry import BuildContext

SOURCE_MODEL = MastodonSource

__all__ = [
    "PLATFORM",
    "SOURCE_MODEL",
    "MastodonApi",
    "MastodonCollector",
    "MastodonOptions",
    "MastodonSource",
    "MastodonStream",
    "SseDecoder",
    "build",
    "dump_cursor",
    "newest_id",
    "parse_links",
    "status_to_post",
    "statuses_to_posts",
    "streaming_base_from",
]


def build(config: SourceBase, context: BuildContext) -> MastodonCollector | MastodonStream:
    assert isinstance(config, MastodonSource)
    token = None
    if config.access_token is not None:
        token = config.access_token.resolve(source=config.name, what="access_token")
    if config.stream:
        return MastodonStream(config, token=token)
    return MastodonCollector(config, token=token)
