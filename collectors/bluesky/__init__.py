"""Bluesky: ``app.bsky.feed.searchPosts`` (polled) and the ``subscribeRepos`` firehose.

One source kind, two modes (see :mod:`collectors.bluesky.config`); both turn
post records into Posts the same way (:mod:`collectors.bluesky.records`), so a
post found by search and seen on the firehose is one post.
Operator guide: docs/operators/sources/bluesky.md.
"""

from __future__ import annotations

from collectors.base import Collector, StreamCollector
from collectors.bluesky.config import BlueskySource
from collectors.config import SourceBase
from collectors.registry import BuildContext

SOURCE_MODEL = BlueskySource


def build(config: SourceBase, context: BuildContext) -> Collector | StreamCollector:
    assert isinstance(config, BlueskySource)
    if config.mode == "firehose":
        from collectors.bluesky.firehose import BlueskyFirehoseCollector

        return BlueskyFirehoseCollector(config)
    from collectors.bluesky.search import BlueskySearchCollector

    return BlueskySearchCollector(config)
