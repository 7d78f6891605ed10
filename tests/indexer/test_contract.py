"""What the indexer promises, checked on a real OpenSearch 2.19 and a real
Elasticsearch 9 (the ``engine_url`` fixture runs each test on both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bluelamp.settings import Settings
from indexer.bulk import BulkIndexer
from indexer.engine import Connection, SearchEngine, connect
from indexer.layout import IndexLayout
from indexer.retention import apply_retention
from indexer.search import PostQuery, search_posts
from tests.conftest import make_settings
from tests.indexer.helpers import make_post


async def _setup(tmp_path: Path, url: str) -> tuple[Settings, SearchEngine, BulkIndexer]:
    settings = make_settings(tmp_path, url)
    engine = await connect(Connection.from_settings(settings.search, url))
    layout = IndexLayout(settings.search.index_prefix)
    return settings, engine, BulkIndexer(engine, layout, settings.indexer)


async def test_probe_picks_the_right_client(tmp_path: Path, engine_url: str) -> None:
    _, engine, _ = await _setup(tmp_path, engine_url)
    try:
        health = await engine.health()
        assert health["status"] in ("green", "yellow")
        assert engine.info.flavour in engine_url or engine.info.flavour in {
            "opensearch",
            "elasticsearch",
        }
        assert engine.info.major in (2, 9)
    finally:
        await engine.close()


async def test_template_mappings_use_explicit_types_and_ecs_names(
    tmp_path: Path, engine_url: str
) -> None:
    _, engine, indexer = await _setup(tmp_path, engine_url)
    try:
        await indexer.index_posts([make_post(1, geo={"lat": 53.48, "lon": -2.24})], refresh=True)
        mapping = await engine.request("GET", f"/{indexer.layout.alias}/_mapping")
        [(index, body)] = mapping.items()
        assert index == indexer.layout.index_for(datetime(2026, 11, 1, tzinfo=UTC))
        props = body["mappings"]["properties"]
        assert props["@timestamp"]["type"] == "date"
        assert props["event"]["properties"]["ingested"]["type"] == "date"
        assert props["url"]["properties"]["full"]["type"] == "keyword"
        assert props["geo"]["properties"]["location"]["type"] == "geo_point"
        assert props["text"]["type"] == "text"
        assert props["text"]["fields"]["keyword"]["type"] == "keyword"
        assert props["platform"]["type"] == "keyword"
        places = props["enrichment"]["properties"]["places"]["properties"]
        assert places["location"]["type"] == "geo_point"
        aliases = await engine.request("GET", f"/{index}/_alias")
        assert indexer.layout.alias in aliases[index]["aliases"]
    finally:
        await engine.close()


async def test_reingesting_updates_and_never_duplicates(tmp_path: Path, engine_url: str) -> None:
    _, engine, indexer = await _setup(tmp_path, engine_url)
    try:
        posts = [make_post(n) for n in range(50)]
        first = await indexer.index_posts(posts, refresh=True)
        assert sorted(first.indexed) == sorted(p.id for p in posts)
        edited = [make_post(n, text=f"edited {n}") for n in range(50)]
        second = await indexer.index_posts(edited + edited[:10], refresh=True)
        assert not second.failed and not second.deferred
        assert await engine.count(indexer.layout.alias) == 50
        result = await search_posts(engine, indexer.layout, PostQuery(text="edited", size=100))
        assert result.total == 50
    finally:
        await engine.close()


async def test_monthly_indices_behind_one_alias_and_filters(
    tmp_path: Path, engine_url: str
) -> None:
    _, engine, indexer = await _setup(tmp_path, engine_url)
    try:
        sep = datetime(2026, 9, 15, tzinfo=UTC)
        posts = [
            make_post(1, created_at=sep, text="burglary reported in Salford"),
            make_post(
                2,
                created_at=sep + timedelta(days=30),
                platform="mastodon",
                text="burglary on the high street",
            ),
            make_post(3, created_at=sep + timedelta(days=60), text="lovely sunny day"),
        ]
        await indexer.index_posts(posts, refresh=True)
        indices = await engine.list_indices(indexer.layout.pattern)
        assert [i.rsplit("-", 1)[1] for i in indices] == ["2026.09", "2026.10", "2026.11"]
        layout = indexer.layout
        hits = await search_posts(engine, layout, PostQuery(text="burglary"))
        assert {p.id for p in hits.posts} == {"bluesky:p1", "mastodon:p2"}
        only_masto = await search_posts(
            engine, layout, PostQuery(text="burglary", platforms=("mastodon",))
        )
        assert [p.id for p in only_masto.posts] == ["mastodon:p2"]
        since = await search_posts(engine, layout, PostQuery(since=sep + timedelta(days=20)))
        assert {p.id for p in since.posts} == {"mastodon:p2", "bluesky:p3"}
        until = await search_posts(engine, layout, PostQuery(until=sep + timedelta(days=1)))
        assert [p.id for p in until.posts] == ["bluesky:p1"]
    finally:
        await engine.close()


async def test_hostile_query_text_is_only_words(tmp_path: Path, engine_url: str) -> None:
    _, engine, indexer = await _setup(tmp_path, engine_url)
    try:
        await indexer.index_posts(
            [make_post(1, text="knife seen near the park"), make_post(2, text="nothing to see")],
            refresh=True,
        )
        layout = indexer.layout
        for hostile in [
            'title:(a OR b) AND "x',
            '{"query":{"match_all":{}}}',
            "*:*",
            "text:/.*/",
            "<script>alert(1)</script>",
            ")))(((",
            "\\",
        ]:
            result = await search_posts(engine, layout, PostQuery(text=hostile))
            assert result.total == 0, hostile
        found = await search_posts(engine, layout, PostQuery(text='"knife seen" -nothing'))
        assert [p.id for p in found.posts] == ["bluesky:p1"]
    finally:
        await engine.close()


async def test_profile_locations_are_kept_but_never_searchable(
    tmp_path: Path, engine_url: str
) -> None:
    _, engine, indexer = await _setup(tmp_path, engine_url)
    try:
        post = make_post(
            1,
            text="queue outside the station again",
            author={"handle": "commuter", "location": "Sheffield, Yorkshire"},
        )
        await indexer.index_posts([post], refresh=True)
        layout = indexer.layout
        assert (await search_posts(engine, layout, PostQuery(text="Sheffield"))).total == 0
        field = {"match": {"author.location": "Sheffield"}}
        assert await engine.count(layout.alias, field) == 0
        found = await search_posts(engine, layout, PostQuery(text="station"))
        assert [p.author.location for p in found.posts] == ["Sheffield, Yorkshire"]
    finally:
        await engine.close()


async def test_delete_by_id_removes_wherever_it_is(tmp_path: Path, engine_url: str) -> None:
    _, engine, indexer = await _setup(tmp_path, engine_url)
    try:
        posts = [
            make_post(n, created_at=datetime(2026, 1 + n % 3, 2, tzinfo=UTC)) for n in range(9)
        ]
        await indexer.index_posts(posts, refresh=True)
        deleted = await indexer.delete_posts(["bluesky:p0", "bluesky:p4", "bluesky:missing"])
        assert deleted == 2
        assert await engine.count(indexer.layout.alias) == 7
        assert await engine.count(indexer.layout.alias, {"ids": {"values": ["bluesky:p0"]}}) == 0
    finally:
        await engine.close()


async def test_geo_point_is_queryable(tmp_path: Path, engine_url: str) -> None:
    _, engine, indexer = await _setup(tmp_path, engine_url)
    try:
        await indexer.index_posts(
            [
                make_post(1, geo={"lat": 53.4808, "lon": -2.2426}),  # Manchester
                make_post(2, geo={"lat": 51.5072, "lon": -0.1276}),  # London
            ],
            refresh=True,
        )
        near = await engine.search(
            indexer.layout.alias,
            {
                "query": {
                    "geo_distance": {
                        "distance": "10km",
                        "geo.location": {"lat": 53.48, "lon": -2.24},
                    }
                }
            },
        )
        assert [h["_id"] for h in near["hits"]["hits"]] == ["bluesky:p1"]
    finally:
        await engine.close()


async def test_retention_drops_only_months_past_the_period(tmp_path: Path, engine_url: str) -> None:
    _, engine, indexer = await _setup(tmp_path, engine_url)
    try:
        months = [datetime(2026, m, 10, tzinfo=UTC) for m in (6, 7, 8, 9)]
        await indexer.index_posts(
            [make_post(i, created_at=d) for i, d in enumerate(months)], refresh=True
        )
        now = datetime(2026, 9, 20, tzinfo=UTC)
        # 60 days before 20 Sep is 22 Jul: June ended before then; July did not.
        dry = await apply_retention(engine, indexer.layout, 60, now=now, dry_run=True)
        assert [d.rsplit("-", 1)[1] for d in dry.dropped] == ["2026.06"]
        assert len(await engine.list_indices(indexer.layout.pattern)) == 4
        done = await apply_retention(engine, indexer.layout, 60, now=now)
        assert done.dropped == dry.dropped
        remaining = await engine.list_indices(indexer.layout.pattern)
        assert [r.rsplit("-", 1)[1] for r in remaining] == ["2026.07", "2026.08", "2026.09"]
        assert await engine.count(indexer.layout.alias) == 3
    finally:
        await engine.close()
