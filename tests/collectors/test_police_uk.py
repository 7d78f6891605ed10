"""data.police.uk recorded crime: real captures of ``crimes-street/all-crime`` served over
loopback HTTP, indexed into the test session's real OpenSearch, then queried."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from bluelamp.settings import Settings
from bluelamp.spool import Spool
from collectors.base import HttpSource, run_once
from collectors.cursors import CursorStore
from collectors.police_uk import PoliceUkCollector, PoliceUkSource
from indexer.crimes import CrimeLayout
from indexer.engine import SearchEngine
from tests.support.collect import FIXTURES as SHARED_FIXTURES
from tests.support.collect import fast_policy, fault_matrix, needs_fixture
from tests.support.replay import Fault, ReplayServer

FIXTURES = SHARED_FIXTURES / "police_uk"
CAPTURE = FIXTURES / "all_crime_1.json"
CAPTURE_2 = FIXTURES / "crimes_street_all_crime_2014_08.json"
pytestmark = needs_fixture(CAPTURE)

CRIMES = "/api/crimes-street/all-crime"
BOUNDARY = "/api/metropolitan/E05000576/boundary"
JSON = "application/json"
# No recording exists for these endpoints: small responses written by hand in the
# documented format (https://data.police.uk/docs/method/forces/, .../neighbourhoods/,
# .../neighbourhood-boundary/, .../crimes-street-dates/). The boundary is a box round
# the recorded crimes (Isle of Dogs, London, August 2014).
FORCES = [
    {"id": "leicestershire", "name": "Leicestershire Police"},
    {"id": "metropolitan", "name": "Metropolitan Police Service"},
]
NEIGHBOURHOODS = [{"id": "E05000576", "name": "Millwall"}, {"id": "E05000575", "name": "Limehouse"}]
BOX = [(51.487, -0.018), (51.487, 0.028), (51.516, 0.028), (51.516, -0.018)]
DATES = [{"date": "2014-08", "stop-and-search": ["metropolitan"]}]


def boundary_body(points: list[tuple[float, float]]) -> bytes:
    return json.dumps(
        [{"latitude": f"{a:.6f}", "longitude": f"{b:.6f}"} for a, b in points]
    ).encode()


def serve(
    server: ReplayServer,
    capture: Path | bytes = CAPTURE,
    dates: list[dict[str, Any]] = DATES,
) -> None:
    server.add_body("/api/forces", json.dumps(FORCES).encode(), JSON)
    server.add_body("/api/metropolitan/neighbourhoods", json.dumps(NEIGHBOURHOODS).encode(), JSON)
    server.add_body(BOUNDARY, boundary_body(BOX), JSON)
    server.add_body("/api/crimes-street-dates", json.dumps(dates).encode(), JSON)
    body = capture.read_bytes() if isinstance(capture, Path) else capture
    server.add_body(CRIMES, body, JSON)


def collector_for(
    server: ReplayServer,
    settings: Settings,
    areas: list[dict[str, Any]] | None = None,
    name: str = "crime-ctx",
) -> PoliceUkCollector:
    config = PoliceUkSource.model_validate(
        {
            "name": name,
            "kind": "police_uk",
            "api_url": server.url("/api"),
            "areas": areas or [{"force": "metropolitan", "neighbourhood": "E05000576"}],
            "options": {"requests_per_s": 15},
        }
    )
    return PoliceUkCollector(config, settings, HttpSource(name, fast_policy(breaker_threshold=20)))


async def crime_count(engine: SearchEngine, settings: Settings) -> int:
    index = CrimeLayout(settings.search.index_prefix).crimes
    await engine.refresh(index)
    return await engine.count(index)


def metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


# -------------------------------------------------------------- indexing
async def test_crimes_and_boundaries_indexed_and_queryable(
    server: ReplayServer,
    spool: Spool,
    cursors: CursorStore,
    settings: Settings,
    engine: SearchEngine,
) -> None:
    serve(server)
    collector = collector_for(server, settings)
    report = await run_once(collector, spool, cursors)
    assert report.ok and report.spooled == 0, report.error
    assert spool.next_batch(10) == []  # context, not posts

    crimes = json.loads(CAPTURE.read_text())
    layout = CrimeLayout(settings.search.index_prefix)
    assert await crime_count(engine, settings) == len(crimes)
    by_category = await engine.search(
        layout.crimes,
        {"size": 0, "aggs": {"c": {"terms": {"field": "category", "size": 100}}}},
    )
    counts = {b["key"]: b["doc_count"] for b in by_category["aggregations"]["c"]["buckets"]}
    assert counts == Counter(c["category"] for c in crimes)

    centre = crimes[0]["location"]
    lat, lon = float(centre["latitude"]), float(centre["longitude"])
    near = await engine.search(
        layout.crimes,
        {
            "size": 1000,
            "query": {"geo_distance": {"distance": "250m", "location": {"lat": lat, "lon": lon}}},
        },
    )
    expected = {
        str(c["id"])
        for c in crimes
        if metres(lat, lon, float(c["location"]["latitude"]), float(c["location"]["longitude"]))
        <= 250
    }
    assert {h["_id"] for h in near["hits"]["hits"]} == expected and len(expected) > 1

    sample = next(c for c in crimes if c["persistent_id"] and c["outcome_status"])
    doc = await engine.request("GET", f"/{layout.crimes}/_doc/{sample['id']}")
    source = doc["_source"]
    assert source["persistent_id"] == sample["persistent_id"]
    assert source["outcome_status"] == sample["outcome_status"]
    assert source["street"]["name"] == sample["location"]["street"]["name"]
    assert source["month"] == "2014-08" and source["category"] == sample["category"]
    assert source["force"] == "metropolitan" and source["neighbourhood"] == "E05000576"
    mapping = await engine.request("GET", f"/{layout.crimes}/_mapping")
    props = mapping[layout.crimes]["mappings"]["properties"]
    assert props["location"]["type"] == "geo_point" and props["month"]["type"] == "date"

    (request,) = [r for r in server.requests if r.path == CRIMES]
    sent = parse_qs(request.query)
    assert sent["date"] == ["2014-08"]
    assert sent["poly"] == [":".join(f"{a:.6f},{b:.6f}" for a, b in BOX)]

    await engine.refresh(layout.areas)
    inside = await engine.search(
        layout.areas,
        {
            "query": {
                "geo_shape": {
                    "boundary": {
                        "shape": {"type": "point", "coordinates": [lon, lat]},
                        "relation": "intersects",
                    }
                }
            }
        },
    )
    (area,) = [h["_source"] for h in inside["hits"]["hits"]]
    assert area["key"] == "metropolitan/E05000576" and area["name"] == "Millwall"
    assert area["force_name"] == "Metropolitan Police Service"
    outside = await engine.search(
        layout.areas,
        {
            "query": {
                "geo_shape": {"boundary": {"shape": {"type": "point", "coordinates": [1, 52]}}}
            }
        },
    )
    assert outside["hits"]["hits"] == []

    assert json.loads(cursors.get("crime-ctx") or "") == {
        "done": {"metropolitan/E05000576": ["2014-08"]}
    }
    # Nothing new published: no boundary or crime requests.
    again = await run_once(collector, spool, cursors)
    assert again.ok, again.error
    assert server.hits(CRIMES) == 1 and server.hits(BOUNDARY) == 1

    # A new month: only it is fetched; the same crimes again stay one document each.
    serve(server, dates=[{"date": "2014-09", "stop-and-search": []}, *DATES])
    third = await run_once(collector, spool, cursors)
    await collector.close()
    assert third.ok, third.error
    assert [parse_qs(r.query)["date"] for r in server.requests if r.path == CRIMES] == [
        ["2014-08"],
        ["2014-09"],
    ]
    assert await crime_count(engine, settings) == len(crimes)


async def test_reloading_overlapping_captures_is_idempotent(
    server: ReplayServer,
    spool: Spool,
    cursors: CursorStore,
    settings: Settings,
    engine: SearchEngine,
) -> None:
    serve(server)
    collector = collector_for(server, settings)
    assert (await run_once(collector, spool, cursors)).ok
    cursors.delete("crime-ctx")  # forget what was loaded: reload the month
    serve(server, CAPTURE_2)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.ok, report.error
    ids = {c["id"] for c in json.loads(CAPTURE.read_text())}
    ids |= {c["id"] for c in json.loads(CAPTURE_2.read_text())}
    assert await crime_count(engine, settings) == len(ids)


async def test_whole_force_point_areas_and_long_polygons(
    server: ReplayServer,
    spool: Spool,
    cursors: CursorStore,
    settings: Settings,
) -> None:
    serve(server)
    # A detailed boundary: the query would pass the API's URL limit, so it is POSTed.
    circle = [
        (51.5 + 0.01 * math.sin(2 * math.pi * i / 300), 0.01 * math.cos(2 * math.pi * i / 300))
        for i in range(300)
    ]
    server.add_body("/api/metropolitan/E05000575/boundary", boundary_body(circle), JSON)
    areas: list[dict[str, Any]] = [
        {"force": "metropolitan"},
        {"force": "metropolitan", "name": "canary-wharf", "lat": 51.5049, "lng": -0.0195},
    ]
    collector = collector_for(server, settings, areas)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.ok, report.error
    asked = [r for r in server.requests if r.path == CRIMES]
    assert sorted(r.method for r in asked) == ["GET", "GET", "POST"]
    posted = parse_qs(next(r for r in asked if r.method == "POST").body.decode())
    assert posted["date"] == ["2014-08"] and len(posted["poly"][0].split(":")) == 300
    point = next(parse_qs(r.query) for r in asked if "lat" in parse_qs(r.query))
    assert point["lat"] == ["51.504900"] and point["lng"] == ["-0.019500"]
    done = json.loads(cursors.get("crime-ctx") or "")["done"]
    assert sorted(done) == [
        "metropolitan/@canary-wharf",
        "metropolitan/E05000575",
        "metropolitan/E05000576",
    ]


async def test_unknown_force_is_a_clear_error(
    server: ReplayServer, spool: Spool, cursors: CursorStore, settings: Settings
) -> None:
    serve(server)
    collector = collector_for(server, settings, [{"force": "gotham"}])
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.error is not None
    assert "gotham" in str(report.error) and "/api/forces" in str(report.error)
    assert cursors.get("crime-ctx") is None


# ------------------------------------------------------------ fault matrix
FAULTS = fault_matrix()


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_fault_matrix(
    fault: str,
    server: ReplayServer,
    spool: Spool,
    cursors: CursorStore,
    settings: Settings,
    engine: SearchEngine,
) -> None:
    serve(server)
    server.inject(CRIMES, *FAULTS[fault])
    collector = collector_for(server, settings)
    first = await run_once(collector, spool, cursors)
    total = len(json.loads(CAPTURE.read_text()))
    if fault == "429 Retry-After":
        assert first.ok, first.error
        assert collector.health.rate_limit_hits == 1
    else:
        assert first.error is not None, fault
        error = collector.health.last_error or ""
        assert "crime-ctx" in error and server.url(CRIMES) in error, error
        assert cursors.get("crime-ctx") is None
        assert await crime_count(engine, settings) == 0
        second = await run_once(collector, spool, cursors)
        assert second.ok, second.error
    await collector.close()
    assert await crime_count(engine, settings) == total
    assert json.loads(cursors.get("crime-ctx") or "")["done"] == {
        "metropolitan/E05000576": ["2014-08"]
    }


async def test_503_too_many_crimes_is_reported_and_retried(
    server: ReplayServer,
    spool: Spool,
    cursors: CursorStore,
    settings: Settings,
    engine: SearchEngine,
) -> None:
    serve(server)
    server.inject(CRIMES, Fault.error(503, times=2))
    collector = collector_for(server, settings)
    first = await run_once(collector, spool, cursors)
    assert first.ok, first.error
    warning = collector.health.last_warning or ""
    assert "metropolitan/E05000576 2014-08" in warning and "10,000" in warning
    assert "503" in warning and "neighbourhoods" in warning
    assert json.loads(cursors.get("crime-ctx") or "") == {"done": {}}
    second = await run_once(collector, spool, cursors)
    await collector.close()
    assert second.ok, second.error
    assert await crime_count(engine, settings) == len(json.loads(CAPTURE.read_text()))


async def test_boundary_failure_fails_the_poll_and_recovers(
    server: ReplayServer,
    spool: Spool,
    cursors: CursorStore,
    settings: Settings,
    engine: SearchEngine,
) -> None:
    serve(server)
    server.inject(BOUNDARY, Fault.error(500, times=2))
    collector = collector_for(server, settings)
    first = await run_once(collector, spool, cursors)
    assert first.error is not None and first.error.status == 500
    assert BOUNDARY in str(first.error) and server.hits(CRIMES) == 0
    second = await run_once(collector, spool, cursors)
    await collector.close()
    assert second.ok, second.error
    assert await crime_count(engine, settings) == len(json.loads(CAPTURE.read_text()))


async def test_malformed_records_are_skipped_by_name(
    server: ReplayServer,
    spool: Spool,
    cursors: CursorStore,
    settings: Settings,
    engine: SearchEngine,
) -> None:
    crimes = json.loads(CAPTURE.read_text())
    del crimes[5]["category"]
    crimes[9]["location"] = None
    crimes[11]["location"]["latitude"] = "north-ish"
    broken = [crimes[i]["id"] for i in (5, 9, 11)]
    crimes[20]["location"]["street"]["name"] = "On or near\u202e <b>Evil\u200b</b> Street"
    serve(server, json.dumps(crimes).encode())
    collector = collector_for(server, settings)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.ok, report.error
    for ident in broken:
        assert any(f"crime {ident} " in w for w in report.warnings), report.warnings
    assert await crime_count(engine, settings) == len(crimes) - 3
    layout = CrimeLayout(settings.search.index_prefix)
    doc = await engine.request("GET", f"/{layout.crimes}/_doc/{crimes[20]['id']}")
    name = doc["_source"]["street"]["name"]
    assert name == "On or near Evil Street"
