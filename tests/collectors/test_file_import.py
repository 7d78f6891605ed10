from __future__ import annotations

import json
from pathlib import Path

from collectors.file_import import read_records


def _write(path: Path, lines: list[str | bytes]) -> Path:
    with path.open("wb") as handle:
        for line in lines:
            handle.write(line if isinstance(line, bytes) else line.encode())
            handle.write(b"\n")
    return path


def test_jsonl_good_and_bad_lines_are_reported_by_line(tmp_path: Path) -> None:
    good = {
        "platform": "x",
        "id": "1",
        "text": "hello #Leeds @WestYorksPolice https://a.b/c",
        "created_at": "2026-11-01T09:00:00Z",
        "author_handle": "leeds_fan",
        "author_location": "Headingley, Leeds",
        "lat": 53.8,
        "lon": -1.55,
        "lang": "EN",
        "url": "https://x.com/i/1",
    }
    path = _write(
        tmp_path / "in.jsonl",
        [
            json.dumps(good),
            "",
            "{not json",
            json.dumps({"platform": "x", "id": "2", "text": "no date"}),
            b'{"platform": "x", "id": "3", "text": "\xff\xfe", "created_at": "2026-11-01"}',
            json.dumps([1, 2]),
            json.dumps({**good, "id": "4", "lat": 53.8, "lon": None}),
            json.dumps({**good, "id": "x:5"}),
        ],
    )
    records = list(read_records(path))
    assert [r.line for r in records] == [1, 3, 4, 5, 6, 7, 8]
    ok = [r for r in records if r.post]
    assert [r.post.id for r in ok if r.post] == ["x:1", "x:5"]
    first = ok[0].post
    assert first is not None
    assert first.hashtags == ["leeds"] and first.mentions == ["WestYorksPolice"]
    assert first.links == ["https://a.b/c"] and first.language == "en"
    assert first.geo is not None and first.geo.lat == 53.8
    assert first.author.handle == "leeds_fan" and first.source.name == "import"
    assert first.author.location == "Headingley, Leeds"
    errors = {r.line: r.error for r in records if r.error}
    assert "not valid JSON" in (errors[3] or "")
    assert errors[4] == "created_at: required"
    assert "UTF-8" in (errors[5] or "")
    assert "JSON object" in (errors[6] or "")
    assert "lat/lon" in (errors[7] or "")


def test_csv_import_with_optional_columns_and_resume(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "platform,id,text,created_at,author_handle,lat,lon,synthetic\n"
        'mastodon,10,"multi\nline, with comma",2026-11-02T10:00:00+00:00,a@b.social,,,no\n'
        "mastodon,11,second,not-a-date,,,,\n"
        "mastodon,12,third,2026-11-02T11:00:00Z,,51.5,-0.1,true\n",
        encoding="utf-8",
    )
    records = list(read_records(path))
    assert [r.number for r in records] == [1, 2, 3]
    assert records[0].post is not None and records[0].post.text == "multi\nline, with comma"
    assert records[1].error is not None and records[1].error.startswith("created_at")
    assert records[2].post is not None and records[2].post.synthetic is True
    resumed = list(read_records(path, skip=2))
    assert [r.number for r in resumed] == [3]


def test_csv_without_required_columns_says_which(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("platform,text\nx,hi\n", encoding="utf-8")
    records = list(read_records(path))
    assert len(records) == 1
    assert records[0].error == "header lacks required column(s): id, created_at"


def test_huge_payload_is_rejected_not_truncated(tmp_path: Path) -> None:
    record = {
        "platform": "reddit",
        "id": "big",
        "text": "a" * 10_000_000,
        "created_at": "2026-11-01T00:00:00Z",
    }
    path = _write(tmp_path / "big.jsonl", [json.dumps(record)])
    [result] = list(read_records(path))
    assert result.post is None and result.error and result.error.startswith("text:")
