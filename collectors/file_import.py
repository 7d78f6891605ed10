"""Reads the documented import format (JSON Lines or CSV) into Posts.

The format is a public contract (docs/import-format.md): required fields are
``platform``, ``id``, ``text`` and ``created_at``; ``author_handle``,
``author_name``, ``author_location``, ``url``, ``lang``, ``lat``, ``lon`` and ``synthetic`` are
optional; other fields are ignored so that exports from other tools load.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bluelamp.post import InvalidRecord, Post, SourceRef, validate_post

REQUIRED = ("platform", "id", "text", "created_at")
_HASHTAG = re.compile(r"(?<![\w&])#(\w{1,100})")
_MENTION = re.compile(r"(?<![\w@])@([\w.\-]{1,100}(?:@[\w.\-]+)?)")
_LINK = re.compile(r"https?://[^\s<>\"']{1,2000}")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


@dataclass(frozen=True)
class ImportedRecord:
    """One record of an import file: a Post, or the reason it was rejected."""

    number: int  # 1-based record number (the line number for JSON Lines)
    line: int  # physical line where the record ends
    post: Post | None
    error: str | None


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix in {".csv", ".tsv"}:
        return "csv"
    with path.open("rb") as handle:
        head = handle.read(1024).lstrip()
    return "jsonl" if head.startswith(b"{") else "csv"


def read_records(path: Path, *, skip: int = 0) -> Iterator[ImportedRecord]:
    """Yield every record after the first ``skip``, valid or not, in file order."""
    fmt = detect_format(path)
    source = SourceRef(name="import", query=path.name)
    rows = _jsonl_rows(path) if fmt == "jsonl" else _csv_rows(path)
    for number, line, row in rows:
        if number <= skip:
            continue
        if isinstance(row, str):
            yield ImportedRecord(number, line, None, row)
            continue
        try:
            post = record_to_post(row, source)
        except InvalidRecord as exc:
            yield ImportedRecord(number, line, None, str(exc))
        else:
            yield ImportedRecord(number, line, post, None)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, int, dict[str, Any] | str]]:
    number = 0
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            number += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, lineno, f"not valid UTF-8 at byte {exc.start}"
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, lineno, f"not valid JSON: {exc.msg} at column {exc.colno}"
                continue
            if not isinstance(row, dict):
                yield number, lineno, f"expected a JSON object, got {type(row).__name__}"
                continue
            yield number, lineno, row


def _csv_rows(path: Path) -> Iterator[tuple[int, int, dict[str, Any] | str]]:
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
        reader = csv.DictReader(text, dialect=dialect)
        missing = [f for f in REQUIRED if f not in (reader.fieldnames or [])]
        if missing:
            yield 1, 1, f"header lacks required column(s): {', '.join(missing)}"
            return
        for number, row in enumerate(reader, start=1):
            if any(_has_surrogate(v) for v in row.values() if isinstance(v, str)):
                yield number, reader.line_num, "not valid UTF-8"
                continue
            if None in row:
                yield number, reader.line_num, "more fields than the header names"
                continue
            yield number, reader.line_num, {k: v for k, v in row.items() if v != ""}


def _has_surrogate(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def record_to_post(row: dict[str, Any], source: SourceRef) -> Post:
    """Map one import-format record to a Post, with field-level reasons on failure."""
    reasons = [f"{field}: required" for field in REQUIRED if row.get(field) in (None, "")]
    for field in ("platform", "id", "text", "created_at"):
        if field in row and row[field] is not None and not isinstance(row[field], str | int):
            reasons.append(f"{field}: must be a string")
    if reasons:
        raise InvalidRecord(reasons)
    platform = str(row["platform"]).strip().lower()
    native_id = str(row["id"]).strip()
    if native_id.startswith(f"{platform}:"):
        native_id = native_id[len(platform) + 1 :]
    created_at = _parse_time(row["created_at"], reasons)
    text = str(row["text"])
    geo = _parse_geo(row.get("lat"), row.get("lon"), reasons)
    synthetic = _parse_bool(row.get("synthetic"), "synthetic", reasons)
    if reasons:
        raise InvalidRecord(reasons)
    data: dict[str, Any] = {
        "id": f"{platform}:{native_id}",
        "platform": platform,
        "native_id": native_id,
        "url": row.get("url") or None,
        "text": text,
        "language": (str(row["lang"]).strip().lower() or None) if row.get("lang") else None,
        "created_at": created_at,
        "author": {
            "handle": _opt_str(row.get("author_handle")),
            "display_name": _opt_str(row.get("author_name")),
            "location": _opt_str(row.get("author_location")),
        },
        "hashtags": _HASHTAG.findall(text),
        "mentions": _MENTION.findall(text),
        "links": _LINK.findall(text),
        "geo": geo,
        "source": source,
        "synthetic": synthetic,
    }
    return validate_post(data)


def _opt_str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _parse_time(value: Any, reasons: list[str]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).strip())
    except ValueError:
        reasons.append(f"created_at: not an ISO 8601 date-time: {str(value)[:40]!r}")
        return None


def _parse_geo(lat: Any, lon: Any, reasons: list[str]) -> dict[str, float] | None:
    if lat in (None, "") and lon in (None, ""):
        return None
    if lat in (None, "") or lon in (None, ""):
        reasons.append("lat/lon: give both or neither")
        return None
    try:
        flat, flon = float(lat), float(lon)
    except (TypeError, ValueError):
        reasons.append("lat/lon: must be numbers")
        return None
    if not (-90 <= flat <= 90 and -180 <= flon <= 180):
        reasons.append(f"lat/lon: out of range ({flat}, {flon})")
        return None
    return {"lat": flat, "lon": flon}


def _parse_bool(value: Any, field: str, reasons: list[str]) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    reasons.append(f"{field}: expected true or false, got {text[:20]!r}")
    return False
