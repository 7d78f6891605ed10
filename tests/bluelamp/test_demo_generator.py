"""Tests for the synthetic demo/benchmark post generator."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bluelamp.demo.generator import (
    DEFAULT_END,
    FORCES,
    KIND_SHARES,
    KINDS,
    generate_posts,
    main,
    write_jsonl,
)
from bluelamp.post import SourceRef
from collectors.file_import import record_to_post

Record = dict[str, object]

REQUIRED_FORCES = {
    "Greater Manchester Police",
    "West Midlands Police",
    "Metropolitan Police",
    "West Yorkshire Police",
    "Merseyside Police",
    "Gwent Police",
    "South Wales Police",
    "Police Scotland",
}
WELSH_FORCES = {"Gwent Police", "South Wales Police"}
INVISIBLE = ("\u200b", "\u200d", "\ufeff", "\u202e")
HOSTILE_MARKERS = ("<script", "<img", "<svg", "title:(", "text:(", "DROP TABLE", "{{", *INVISIBLE)


@pytest.fixture(scope="module")
def posts() -> list[Record]:
    return list(generate_posts(2000))


@pytest.fixture(scope="module")
def many() -> list[Record]:
    return list(generate_posts(10_000, seed=11))


def _str(record: Record, key: str) -> str:
    value = record[key]
    assert isinstance(value, str), (key, value)
    return value


def test_same_seed_gives_identical_output() -> None:
    assert list(generate_posts(300, seed=3)) == list(generate_posts(300, seed=3))


def test_different_seeds_differ() -> None:
    a = [r["text"] for r in generate_posts(300, seed=1)]
    b = [r["text"] for r in generate_posts(300, seed=2)]
    assert a != b
    assert sum(x != y for x, y in zip(a, b, strict=True)) > 200


def test_count() -> None:
    assert list(generate_posts(0)) == []
    assert len(list(generate_posts(1))) == 1
    assert len(list(generate_posts(37))) == 37


def test_bad_arguments_rejected() -> None:
    with pytest.raises(ValueError):
        list(generate_posts(-1))
    with pytest.raises(ValueError):
        list(generate_posts(5, days=0))


def test_ids_unique_and_native(posts: list[Record]) -> None:
    ids = [_str(r, "id") for r in posts]
    assert len(set(ids)) == len(ids) == 2000
    assert all(":" not in i and " " not in i and i.startswith("demo-") for i in ids)


def test_required_keys_and_types(posts: list[Record]) -> None:
    start = DEFAULT_END - timedelta(days=30)
    for r in posts:
        assert r["platform"] in {"bluesky", "mastodon", "x", "reddit"}
        assert _str(r, "text").strip()
        created = _str(r, "created_at")
        assert created.endswith(("Z", "+00:00"))
        when = datetime.fromisoformat(created)
        assert when.utcoffset() == timedelta(0)
        assert start <= when <= DEFAULT_END
        for key in ("author_handle", "author_name", "url"):
            assert _str(r, key)
        assert r["lang"] in {"en", "cy"}
        assert r["synthetic"] is True
        assert r["demo_kind"] in KINDS
        assert r["demo_force"] is None or r["demo_force"] in REQUIRED_FORCES


def test_all_four_platforms_appear(posts: list[Record]) -> None:
    assert {r["platform"] for r in posts} == {"bluesky", "mastodon", "x", "reddit"}


def test_window_follows_end_and_days_and_is_chronological() -> None:
    end = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    records = list(generate_posts(500, end=end, days=2))
    times = [datetime.fromisoformat(_str(r, "created_at")) for r in records]
    assert all(end - timedelta(days=2) <= t <= end for t in times)
    assert times == sorted(times)
    assert times[-1] - times[0] > timedelta(days=1)  # spread out, not bunched
    naive = list(generate_posts(50, end=end.replace(tzinfo=None), days=2))
    assert naive == list(generate_posts(50, end=end, days=2))  # naive end is taken as UTC


def test_every_kind_appears_with_roughly_its_share(posts: list[Record]) -> None:
    counts = Counter(_str(r, "demo_kind") for r in posts)
    assert set(counts) == set(KINDS)
    assert abs(sum(KIND_SHARES.values()) - 1.0) < 1e-9
    for kind, share in KIND_SHARES.items():
        observed = counts[kind] / len(posts)
        assert abs(observed - share) < max(0.035, share * 0.3), (kind, observed, share)
    assert 0.24 <= counts["chatter"] / len(posts) <= 0.36  # mostly noise, like a real stream
    assert counts["hostile"] >= 5


def test_forces(posts: list[Record]) -> None:
    forces = Counter(r["demo_force"] for r in posts if r["demo_force"] is not None)
    assert len(forces) >= 6
    assert set(forces) == REQUIRED_FORCES
    # only chatter is ever about no force, and some chatter does name a place
    assert all(r["demo_kind"] == "chatter" for r in posts if r["demo_force"] is None)
    chatter_forces = [r["demo_force"] for r in posts if r["demo_kind"] == "chatter"]
    assert None in chatter_forces
    assert any(f is not None for f in chatter_forces)


def test_force_handles_are_mentioned(posts: list[Record]) -> None:
    text = " ".join(_str(r, "text") for r in posts).lower()
    for handle in ("@gmpolice", "@wmpolice", "@metpoliceuk", "@westyorkspolice"):
        assert handle in text
    for handle in ("@merseypolice", "@gwentpolice", "@swpolice", "@policescotland"):
        assert handle in text


def test_welsh_posts(posts: list[Record]) -> None:
    welsh = [r for r in posts if r["lang"] == "cy"]
    assert len(welsh) >= 10
    assert len(welsh) < len(posts) * 0.1  # "en" mostly
    assert {r["demo_force"] for r in welsh} <= WELSH_FORCES | {None}
    assert any(
        w in _str(r, "text") for r in welsh for w in ("Caerdydd", "Casnewydd", "Abertawe", "heddlu")
    )


def test_geotags(posts: list[Record]) -> None:
    tagged = [r for r in posts if "lat" in r or "lon" in r]
    assert 0.07 <= len(tagged) / len(posts) <= 0.2
    places = {f.name: f.places for f in FORCES}
    for r in tagged:
        lat, lon = r["lat"], r["lon"]
        assert isinstance(lat, float) and isinstance(lon, float)
        assert 49 <= lat <= 61 and -9 <= lon <= 2
        force = r["demo_force"]
        assert isinstance(force, str)  # a geotag is only ever on a post about a place
        nearest = min(abs(p.lat - lat) + abs(p.lon - lon) for p in places[force])
        assert nearest < 0.05, (r["text"], lat, lon)
    untagged = [r for r in posts if "lat" not in r]
    assert untagged and all("lon" not in r for r in untagged)


def test_hostile_records_carry_hostile_payloads(many: list[Record]) -> None:
    hostile = [_str(r, "text") for r in many if r["demo_kind"] == "hostile"]
    assert len(hostile) >= 50
    for text in hostile:
        assert any(m in text for m in HOSTILE_MARKERS), text
    joined = "".join(hostile)
    assert "<script>" in joined
    assert "<img src=x onerror=alert(1)>" in joined
    assert 'title:(a OR b) AND "x' in joined
    assert "\u202e" in joined
    for ch in ("\u200b", "\u200d", "\ufeff"):
        assert ch in joined
    # zero-width characters sit inside words, not just at the edges
    assert any(any(ch in w[1:-1] for ch in ("\u200b", "\u200d", "\ufeff")) for w in joined.split())


def test_non_hostile_text_is_clean(many: list[Record]) -> None:
    for r in many:
        if r["demo_kind"] == "hostile":
            continue
        text = _str(r, "text")
        assert "<" not in text and ">" not in text, text
        assert not any(ch in text for ch in INVISIBLE), repr(text)


def test_urls_are_reserved_domain(posts: list[Record]) -> None:
    for r in posts:
        url = _str(r, "url")
        parts = urlsplit(url)
        assert parts.scheme == "https"
        assert parts.hostname is not None and parts.hostname.endswith("example.invalid"), url
        assert _str(r, "id") in url
        handle = _str(r, "author_handle")
        if r["platform"] in ("bluesky", "mastodon"):
            assert handle.endswith("example.invalid")


def test_content_looks_like_uk_posts(posts: list[Record]) -> None:
    text = " ".join(_str(r, "text") for r in posts)
    lowered = text.lower()
    for place in ("moss side", "digbeth", "brixton", "toxteth", "cardiff", "glasgow"):
        assert place in lowered
    assert "#" in text
    assert "101" in text
    assert any(ord(ch) > 0x2000 for ch in text)  # some emoji
    assert sum(_str(r, "text") == _str(r, "text").lower() for r in posts) > 500


def test_write_jsonl_round_trips(tmp_path: Path) -> None:
    out = tmp_path / "demo.jsonl"
    assert write_jsonl(out, 300, seed=5) == 300
    raw = out.read_bytes()
    lines = raw.decode("utf-8").splitlines()
    assert len(lines) == 300
    assert [json.loads(line) for line in lines] == list(generate_posts(300, seed=5))
    assert b"\\u" not in raw  # ensure_ascii=False: non-ASCII is written as UTF-8


def test_cli_main(tmp_path: Path) -> None:
    out = tmp_path / "cli.jsonl"
    assert main([str(out), "-n", "12", "--seed", "4"]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 12


def _load(records: list[Record]) -> None:
    source = SourceRef(name="import", query="demo.jsonl")
    for r in records:
        post = record_to_post(r, source)
        assert post.synthetic is True
        assert post.native_id == r["id"]
        assert post.language == r["lang"]
        assert (post.geo is not None) == ("lat" in r)


def test_records_load_through_the_import_format(posts: list[Record]) -> None:
    records = posts[:500]
    assert {r["platform"] for r in records} == {"bluesky", "mastodon", "x", "reddit"}
    _load(records)
