"""Recorded crime (data.police.uk) as context for maps: its own indices, not posts.

Two indices, each a single index (no monthly split): ``<prefix>-crimes``
holds street-level crimes, one document per crime with the crime's own id as
``_id`` (so reloading a month is idempotent), and ``<prefix>-areas`` holds
neighbourhood boundaries (``geo_shape``) so dashboards can map crime by area.
A single index suits the volume: data.police.uk publishes a rolling 36 months,
and a large force records some tens of thousands of crimes a month, so even a
region stays far below one shard's comfortable size; the ``month`` field
filters by time.

Engines without ``geo_shape`` (the Elasticsearch integ-test build lacks the
spatial plugin) get the boundary stored but not indexed, plus a centroid
``geo_point``; :attr:`CrimeIndexer.shapes` says which one was installed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bluelamp.logging import get_logger
from bluelamp.settings import IndexerSettings
from bluelamp.text import strip_invisible
from indexer.bulk import BulkIndexer, BulkReport, _Item
from indexer.engine import EngineError, SearchEngine
from indexer.layout import IndexLayout

log = get_logger(__name__)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CrimeLayout:
    prefix: str = "bluelamp"

    @property
    def crimes(self) -> str:
        return f"{self.prefix}-crimes"

    @property
    def areas(self) -> str:
        return f"{self.prefix}-areas"


def _keyword() -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": 1024}


def _strip(value: Any, limit: int = 1024) -> str:
    """Public data is still text from outside: no control or invisible characters."""
    return _SPACE.sub(" ", strip_invisible(str(value or ""))).strip()[:limit]


class RecordedCrime(BaseModel):
    """One item of ``/crimes-street/...`` (https://data.police.uk/docs/method/crime-street/)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[0-9A-Za-z_-]{1,64}$")
    category: str = Field(min_length=1, max_length=128)
    month: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    street_id: int | None = None
    street_name: str | None = None
    location_type: str | None = None
    location_subtype: str | None = None
    context: str | None = None
    persistent_id: str | None = None
    outcome_category: str | None = None
    outcome_month: str | None = None

    @field_validator("month")
    @classmethod
    def _month(cls, value: str) -> str:
        if not _MONTH.match(value):
            raise ValueError("must be YYYY-MM")
        return value

    @classmethod
    def from_api(cls, raw: Any, clean: Callable[[Any, int], str] | None = None) -> RecordedCrime:
        """Validate one API record; ValueError (with the field) when it is malformed.

        ``clean`` reduces each text field to safe plain text (the collector
        passes its HTML-to-text function); by default invisible characters go.
        """
        _clean = clean or _strip
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        location = raw.get("location")
        if not isinstance(location, dict):
            raise ValueError("location: missing")
        street: dict[str, Any] = _mapping(location.get("street"))
        outcome: dict[str, Any] = _mapping(raw.get("outcome_status"))
        for key in ("id", "category", "month"):
            if raw.get(key) in (None, ""):
                raise ValueError(f"{key}: missing")
        try:
            lat, lon = float(location["latitude"]), float(location["longitude"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("location.latitude/longitude: missing or not a number") from exc
        outcome_month = outcome.get("date")
        return cls(
            id=str(raw["id"]),
            category=_clean(raw["category"], 128),
            month=str(raw["month"]),
            lat=lat,
            lon=lon,
            street_id=street.get("id") if isinstance(street.get("id"), int) else None,
            street_name=_clean(street.get("name"), 1024) or None,
            location_type=_clean(raw.get("location_type"), 64) or None,
            location_subtype=_clean(raw.get("location_subtype"), 256) or None,
            context=_clean(raw.get("context"), 10_000) or None,
            persistent_id=_clean(raw.get("persistent_id"), 128) or None,
            outcome_category=_clean(outcome.get("category"), 256) or None,
            outcome_month=outcome_month
            if isinstance(outcome_month, str) and _MONTH.match(outcome_month)
            else None,
        )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Area:
    """A neighbourhood and its boundary (``[(lat, lon), ...]``)."""

    force: str
    force_name: str | None
    neighbourhood: str
    name: str | None
    boundary: Sequence[tuple[float, float]]

    @property
    def key(self) -> str:
        return f"{self.force}/{self.neighbourhood}"


def crimes_template(layout: CrimeLayout, *, replicas: int = 0) -> dict[str, Any]:
    month = {"type": "date", "format": "yyyy-MM"}
    return {
        "index_patterns": [layout.crimes],
        "priority": 210,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": replicas},
            "mappings": {
                "dynamic": False,
                "properties": {
                    "id": _keyword(),
                    "persistent_id": _keyword(),
                    "category": _keyword(),
                    "month": month,
                    "location": {"type": "geo_point"},
                    "street": {
                        "properties": {
                            "id": {"type": "long"},
                            "name": {
                                "type": "text",
                                "fields": {"keyword": _keyword()},
                            },
                        }
                    },
                    "location_type": _keyword(),
                    "location_subtype": _keyword(),
                    "context": {"type": "text"},
                    "outcome_status": {"properties": {"category": _keyword(), "date": month}},
                    "force": _keyword(),
                    "neighbourhood": _keyword(),
                    "area": _keyword(),
                    "source": _keyword(),
                    "event": {"properties": {"ingested": {"type": "date"}}},
                },
            },
        },
        "_meta": {"managed_by": "bluelamp", "schema_version": 1},
    }


def areas_template(layout: CrimeLayout, *, shapes: bool, replicas: int = 0) -> dict[str, Any]:
    boundary: dict[str, Any] = (
        {"type": "geo_shape"} if shapes else {"type": "object", "enabled": False}
    )
    return {
        "index_patterns": [layout.areas],
        "priority": 211,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": replicas},
            "mappings": {
                "dynamic": False,
                "properties": {
                    "key": _keyword(),
                    "force": _keyword(),
                    "force_name": _keyword(),
                    "neighbourhood": _keyword(),
                    "name": {"type": "text", "fields": {"keyword": _keyword()}},
                    "boundary": boundary,
                    "centroid": {"type": "geo_point"},
                    "points": {"type": "integer"},
                    "event": {"properties": {"ingested": {"type": "date"}}},
                },
            },
        },
        "_meta": {"managed_by": "bluelamp", "schema_version": 1},
    }


def crime_document(
    crime: RecordedCrime,
    *,
    force: str,
    neighbourhood: str | None,
    area: str,
    source: str,
    ingested: datetime,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": crime.id,
        "category": crime.category,
        "month": crime.month,
        "location": {"lat": crime.lat, "lon": crime.lon},
        "street": {"id": crime.street_id, "name": crime.street_name},
        "location_type": crime.location_type,
        "location_subtype": crime.location_subtype,
        "context": crime.context,
        "persistent_id": crime.persistent_id,
        "force": force,
        "neighbourhood": neighbourhood,
        "area": area,
        "source": source,
        "event": {"ingested": ingested.isoformat()},
    }
    if crime.outcome_category:
        doc["outcome_status"] = {"category": crime.outcome_category, "date": crime.outcome_month}
    return {k: v for k, v in doc.items() if v is not None}


def area_document(area: Area, *, ingested: datetime) -> dict[str, Any]:
    ring = [[lon, lat] for lat, lon in area.boundary]
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])  # GeoJSON rings are closed
    lats = [lat for lat, _ in area.boundary]
    lons = [lon for _, lon in area.boundary]
    doc: dict[str, Any] = {
        "key": area.key,
        "force": area.force,
        "force_name": area.force_name,
        "neighbourhood": area.neighbourhood,
        "name": area.name,
        "boundary": {"type": "polygon", "coordinates": [ring]},
        "centroid": {"lat": sum(lats) / len(lats), "lon": sum(lons) / len(lons)},
        "points": len(area.boundary),
        "event": {"ingested": ingested.isoformat()},
    }
    return {k: v for k, v in doc.items() if v is not None}


class CrimeIndexer(BulkIndexer):
    """Bulk-writes crimes and areas with the post indexer's chunking and retries."""

    def __init__(
        self,
        engine: SearchEngine,
        layout: CrimeLayout,
        settings: IndexerSettings | None = None,
        *,
        replicas: int = 0,
    ) -> None:
        super().__init__(engine, IndexLayout(layout.prefix), settings, replicas=replicas)
        self.crime_layout = layout
        self.shapes: bool | None = None  # geo_shape supported; known after ensure_template

    async def ensure_template(self) -> None:
        if self._template_ready:
            return
        layout = self.crime_layout
        await self.engine.put_index_template(
            layout.crimes, crimes_template(layout, replicas=self.replicas)
        )
        try:
            await self.engine.put_index_template(
                layout.areas, areas_template(layout, shapes=True, replicas=self.replicas)
            )
            self.shapes = True
        except EngineError as exc:
            if exc.status != 400 or "geo_shape" not in str(exc):
                raise
            log.warning(
                "engine has no geo_shape; neighbourhood boundaries are stored, not indexed",
                engine=self.engine.info.url,
            )
            await self.engine.put_index_template(
                layout.areas, areas_template(layout, shapes=False, replicas=self.replicas)
            )
            self.shapes = False
        self._template_ready = True

    async def index_documents(
        self, index: str, docs: Sequence[tuple[str, dict[str, Any]]], *, refresh: bool = False
    ) -> BulkReport:
        """Index ``(id, document)`` pairs into ``index``; every id is in the report."""
        await self.ensure_template()
        items = [
            _Item(
                doc_id,
                orjson.dumps({"index": {"_index": index, "_id": doc_id}})
                + b"\n"
                + orjson.dumps(doc)
                + b"\n",
            )
            for doc_id, doc in docs
        ]
        report = BulkReport()
        for chunk in self._chunks(items):
            report.merge(await self._send_chunk(chunk))
        if refresh and report.indexed:
            await self.engine.refresh(index)
        return report

    async def index_crimes(
        self,
        crimes: Sequence[RecordedCrime],
        *,
        force: str,
        neighbourhood: str | None,
        area: str,
        source: str,
        refresh: bool = False,
    ) -> BulkReport:
        now = datetime.now(UTC)
        docs = [
            (
                c.id,
                crime_document(
                    c,
                    force=force,
                    neighbourhood=neighbourhood,
                    area=area,
                    source=source,
                    ingested=now,
                ),
            )
            for c in crimes
        ]
        return await self.index_documents(self.crime_layout.crimes, docs, refresh=refresh)

    async def index_areas(self, areas: Sequence[Area], *, refresh: bool = False) -> BulkReport:
        now = datetime.now(UTC)
        docs = [(a.key, area_document(a, ingested=now)) for a in areas if len(a.boundary) >= 3]
        return await self.index_documents(self.crime_layout.areas, docs, refresh=refresh)
