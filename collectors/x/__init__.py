"""X (Twitter) API v2: recent search, the filtered stream, and batch compliance.

- :mod:`collectors.x.config`: the ``kind: x`` source model;
- :mod:`collectors.x.api`: bearer-token requests and JSON decoding;
- :mod:`collectors.x.mapping`: a tweet (with ``includes``) to a Post;
- :mod:`collectors.x.search`: recent search with a ``since_id`` cursor (polled);
- :mod:`collectors.x.stream`: the filtered stream with back-fill on reconnect;
- :mod:`collectors.x.compliance`: deletions found by batch compliance jobs.

Operator guide: docs/operators/sources/x.md.
"""

from __future__ import annotations

from collectors.base import HttpSource
from collectors.config import SourceBase
from collectors.registry import BuildContext
from collectors.x.api import XApi
from collectors.x.config import XSource
from collectors.x.search import XSearchCollector
from collectors.x.stream import XStreamCollector

SOURCE_MODEL = XSource

__all__ = ["SOURCE_MODEL", "XSearchCollector", "XSource", "XStreamCollector", "build", "make_api"]


def make_api(config: XSource, http: HttpSource | None = None) -> XApi:
    """The API client; the token is read now, so a missing one fails at start-up."""
    token = config.bearer_token.resolve(source=config.name, what="bearer_token")
    return XApi(
        config.name, http or HttpSource(config.name, config.fetch_policy()), token, config.api_base
    )


def build(config: SourceBase, context: BuildContext) -> XSearchCollector | XStreamCollector:
    assert isinstance(config, XSource)
    api = make_api(config)
    if config.mode == "stream":
        return XStreamCollector(config, api)
    return XSearchCollector(config, api)
