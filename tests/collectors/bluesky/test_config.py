"""The ``kind: bluesky`` source model, and the operator guide's example against it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bluelamp.errors import ConfigError
from collectors import registry
from collectors.bluesky.firehose import BlueskyFirehoseCollector
from collectors.bluesky.search import BlueskySearchCollector
from collectors.config import parse_sources

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "operators" / "sources" / "bluesky.md"


def test_the_guides_example_is_valid_and_builds_both_modes() -> None:
    block = re.search(r"```yaml\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    assert block, "no YAML example in the guide"
    sources = parse_sources(yaml.safe_load(block.group(1)), where=str(GUIDE))
    assert [s.mode for s in sources] == ["search", "search", "firehose"]
    assert sources[0].service == "https://public.api.bsky.app"
    assert sources[2].service == "wss://bsky.network"
    built = [registry.build(s) for s in sources]
    assert isinstance(built[0], BlueskySearchCollector)
    assert isinstance(built[2], BlueskyFirehoseCollector)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"mode": "search"}, "needs at least one entry in 'queries'"),
        ({"mode": "firehose", "queries": ["x"]}, "only applies to mode 'search'"),
        ({"mode": "firehose", "match": ["a"], "service": "ftp://relay.example"}, "ws://"),
        ({"mode": "firehose"}, "list the words or phrases to keep in 'match'"),
        ({"mode": "search", "queries": ["x"], "service": "javascript:alert(1)"}, "http"),
        ({"queries": ["x"], "credentials": {"identifier": {"env": "A"}}}, "password"),
    ],
)
def test_invalid_entries_are_named(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_sources({"sources": [{"name": "bsky-bad", "kind": "bluesky", **entry}]})
    assert "bsky-bad" in str(caught.value) and message in str(caught.value)


def test_an_http_relay_url_becomes_a_websocket_url() -> None:
    (source,) = parse_sources(
        {
            "sources": [
                {
                    "name": "r",
                    "kind": "bluesky",
                    "mode": "firehose",
                    "match": ["knife"],
                    "service": "https://relay.example/",
                }
            ]
        }
    )
    assert source.service == "wss://relay.example"
