"""data.police.uk: street-level recorded crime as map context (not posts).

Each poll finds the months the API has (``/crimes-street-dates``), checks the
configured forces (``/forces``), expands a whole force into its neighbourhoods
(``/<force>/neighbourhoods``), fetches each neighbourhood's boundary
(``/<force>/<neighbourhood>/boundary``) and then, for every area and month
not loaded yet, its crimes (``/crimes-street/all-crime?poly=...&date=YYYY-MM``
or ``?lat=&lng=`` for a one-mile circle). Crimes and boundaries are written to
the search engine by :mod:`indexer.crimes`; the poll returns no posts and a
cursor of the area-months done, so the cursor only moves after their crimes
are indexed. API docs: https://data.police.uk/docs/

The API allows 15 requests a second (bursts of 30) and answers 503 for an
area with over 10,000 crimes in a month; such an area-month is reported in
the poll's warnings (with the fix: a smaller area) and tried again next poll,
while the other areas carry on.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bluelamp.errors import ConfigError
from collectors.base import (
    Collector,
    CollectorError,
    CollectResult,
    FetchError,
    HttpSource,
    load_json_cursor,
    own_http,
)
from collectors.config import SourceBase, http_url
from collectors.registry import BuildContext
from collectors.rss import to_plain_text
from indexer.crimes import Area, CrimeIndexer, CrimeLayout, RecordedCrime

if TYPE_CHECKING:
    from bluelamp.settings import Settings

_MAX_GET_URL = 4000  # the API refuses URLs over 4094 characters: longer polygons are POSTed


class PoliceArea(BaseModel):
    """One area: a neighbourhood, a whole force (all its neighbourhoods), or a
    one-mile circle around a point (``name``, ``lat``, ``lng``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    force: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")
    neighbourhood: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    name: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    lat: float | None = Field(None, ge=49, le=61)  # the UK
    lng: float | None = Field(None, ge=-9, le=3)

    @model_validator(mode="after")
    def _one_kind(self) -> PoliceArea:
        point = (self.lat, self.lng, self.name)
        if any(v is not None for v in point) and any(v is None for v in point):
            raise ValueError("a point area needs all of name, lat and lng")
        if self.lat is not None and self.neighbourhood is not None:
            raise ValueError("give a neighbourhood or a point (name, lat, lng), not both")
        return self


class PoliceUkOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    months: int = Field(12, ge=1, le=36)  # the newest months to load (the API keeps ~36)
    max_requests: int = Field(300, ge=1, le=10_000)  # crime requests per poll; the rest waits
    requests_per_s: float = Field(10.0, gt=0, le=15)  # the API allows 15/s


class PoliceUkSource(SourceBase):
    kind: Literal["police_uk"]
    interval_s: float = Field(86_400.0, ge=5, le=7 * 86_400)  # the data changes monthly
    api_url: str = "https://data.police.uk/api"
    areas: list[PoliceArea] = Field(min_length=1)
    options: PoliceUkOptions = Field(default_factory=PoliceUkOptions)

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value).rstrip("/")


SOURCE_MODEL = PoliceUkSource


def build(config: SourceBase, context: BuildContext) -> PoliceUkCollector:
    assert isinstance(config, PoliceUkSource)
    if context.settings is None:
        raise ConfigError(
            f"source {config.name!r}: police_uk writes recorded crime to the search engine"
            " and needs Bluelamp's settings"
        )
    return PoliceUkCollector(config, context.settings)


class PoliceApiError(CollectorError):
    """data.police.uk answered something that is not what its docs describe."""


@dataclass(frozen=True)
class _Unit:
    """One area crimes are requested for."""

    key: str
    force: str
    neighbourhood: str | None
    area: Area | None  # a neighbourhood with its boundary
    point: tuple[float, float] | None


class PoliceUkCollector(Collector):
    kind = "police_uk"

    def __init__(
        self, config: PoliceUkSource, settings: Settings, http: HttpSource | None = None
    ) -> None:
        super().__init__(config.name)
        self.config = config
        self.settings = settings
        self.http = own_http(http, self.health, config.fetch_policy())
        self._next_request = 0.0

    async def close(self) -> None:
        await self.http.close()

    # --------------------------------------------------------------- HTTP
    async def _pace(self) -> None:
        """Keep under the API's request rate (a steady pace, no bursts)."""
        now = time.monotonic()
        wait = self._next_request - now
        self._next_request = max(now, self._next_request) + 1.0 / self.config.options.requests_per_s
        if wait > 0:
            await asyncio.sleep(wait)

    async def _get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        url = f"{self.config.api_url}{path}"
        query = urlencode(params or {})
        await self._pace()
        if query and len(url) + len(query) + 1 > _MAX_GET_URL:
            response = await self.http.fetch(url, method="POST", data=params)
        else:
            response = await self.http.fetch(f"{url}?{query}" if query else url)
            url = response.url
        try:
            return json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise PoliceApiError(
                f"undecodable JSON ({len(response.body)} bytes): {exc.__class__.__name__}:"
                f" {str(exc)[:200]}",
                source=self.name,
                url=url,
                status=response.status,
            ) from exc

    def _shape_error(self, path: str, what: str) -> PoliceApiError:
        return PoliceApiError(
            f"unexpected response: {what}", source=self.name, url=f"{self.config.api_url}{path}"
        )

    # ----------------------------------------------------------- look-ups
    async def _months(self) -> list[str]:
        path = "/crimes-street-dates"
        data = await self._get_json(path)
        if not isinstance(data, list):
            raise self._shape_error(path, "not a list of months")
        months = sorted(
            {
                str(item["date"])
                for item in data
                if isinstance(item, dict) and isinstance(item.get("date"), str)
            }
        )
        checked = [m for m in months if _is_month(m)]
        return checked[-self.config.options.months :]

    async def _forces(self) -> dict[str, str]:
        path = "/forces"
        data = await self._get_json(path)
        if not isinstance(data, list):
            raise self._shape_error(path, "not a list of forces")
        return {
            str(f["id"]): to_plain_text(str(f.get("name") or ""), 256)
            for f in data
            if isinstance(f, dict) and f.get("id")
        }

    async def _neighbourhoods(self, force: str) -> dict[str, str]:
        path = f"/{force}/neighbourhoods"
        data = await self._get_json(path)
        if not isinstance(data, list):
            raise self._shape_error(path, "not a list of neighbourhoods")
        return {
            str(n["id"]): to_plain_text(str(n.get("name") or ""), 256)
            for n in data
            if isinstance(n, dict) and n.get("id")
        }

    async def _boundary(self, force: str, neighbourhood: str) -> list[tuple[float, float]]:
        path = f"/{force}/{neighbourhood}/boundary"
        data = await self._get_json(path)
        try:
            points = [(float(p["latitude"]), float(p["longitude"])) for p in data]
        except (KeyError, TypeError, ValueError) as exc:
            raise self._shape_error(path, f"not a list of latitude/longitude: {exc}") from exc
        if len(points) < 3:
            raise self._shape_error(path, f"a boundary of {len(points)} points")
        return points

    async def _units(self) -> list[_Unit]:
        """The configured areas as request units (a whole force: each neighbourhood)."""
        forces = await self._forces()
        unknown = sorted({a.force for a in self.config.areas} - set(forces))
        if unknown:
            raise CollectorError(
                f"unknown force(s) {', '.join(unknown)}",
                source=self.name,
                url=f"{self.config.api_url}/forces",
                hint=f"use a force id from /forces, e.g. {', '.join(sorted(forces)[:5])}",
            )
        hoods: dict[str, dict[str, str]] = {}
        units: list[_Unit] = []
        for spec in self.config.areas:
            if spec.lat is not None and spec.lng is not None:
                key = f"{spec.force}/@{spec.name}"
                units.append(_Unit(key, spec.force, None, None, (spec.lat, spec.lng)))
                continue
            if spec.force not in hoods:
                hoods[spec.force] = await self._neighbourhoods(spec.force)
            names = hoods[spec.force]
            for hood in [spec.neighbourhood] if spec.neighbourhood else sorted(names):
                if hood not in names:
                    raise CollectorError(
                        f"force {spec.force!r} has no neighbourhood {hood!r}",
                        source=self.name,
                        url=f"{self.config.api_url}/{spec.force}/neighbourhoods",
                        hint="use an id from that list",
                    )
                area = Area(spec.force, forces[spec.force], hood, names[hood], ())
                units.append(_Unit(f"{spec.force}/{hood}", spec.force, hood, area, None))
        return list({u.key: u for u in units}.values())

    # --------------------------------------------------------------- poll
    async def poll(self, cursor: str | None) -> CollectResult:
        done: dict[str, list[str]] = _load_cursor(cursor)
        months = await self._months()
        units = [u for u in await self._units() if set(months) - set(done.get(u.key, []))]
        if not units:
            return CollectResult(cursor=None)  # everything published is loaded
        for index, unit in enumerate(units):  # boundaries: only for areas with work to do
            if unit.area is not None and unit.neighbourhood is not None:
                boundary = await self._boundary(unit.force, unit.neighbourhood)
                units[index] = replace(unit, area=replace(unit.area, boundary=boundary))
        warnings: list[str] = []

        from bluelamp.pipeline import open_engine  # imported only when there is work

        engine = await open_engine(self.settings)
        try:
            indexer = CrimeIndexer(
                engine,
                CrimeLayout(self.settings.search.index_prefix),
                self.settings.indexer,
                replicas=self.settings.search.index_replicas,
            )
            areas = [u.area for u in units if u.area is not None]
            if areas:
                self._check(await indexer.index_areas(areas), "boundaries", warnings)
            budget = self.config.options.max_requests
            for unit in units:
                for month in months:
                    if month in done.get(unit.key, []):
                        continue
                    if budget <= 0:
                        warnings.append(
                            f"request budget of {self.config.options.max_requests} used;"
                            " the remaining area-months are loaded on the next poll"
                        )
                        return CollectResult(cursor=_dump(done), warnings=warnings)
                    budget -= 1
                    crimes = await self._crimes(unit, month, warnings)
                    if crimes is None:
                        continue  # reported; tried again next poll
                    report = await indexer.index_crimes(
                        crimes,
                        force=unit.force,
                        neighbourhood=unit.neighbourhood,
                        area=unit.key,
                        source=self.name,
                    )
                    self._check(report, f"crimes of {unit.key} {month}", warnings)
                    done.setdefault(unit.key, []).append(month)
        finally:
            await engine.close()
        return CollectResult(cursor=_dump(done), warnings=warnings)

    async def _crimes(
        self, unit: _Unit, month: str, warnings: list[str]
    ) -> list[RecordedCrime] | None:
        params = {"date": month}
        if unit.point is not None:
            params.update(lat=f"{unit.point[0]:.6f}", lng=f"{unit.point[1]:.6f}")
        else:
            assert unit.area is not None
            params["poly"] = ":".join(f"{lat:.6f},{lon:.6f}" for lat, lon in unit.area.boundary)
        path = "/crimes-street/all-crime"
        try:
            data = await self._get_json(path, params)
        except FetchError as exc:
            if exc.status != 503:
                raise
            warnings.append(
                f"{unit.key} {month}: data.police.uk refused (HTTP 503 at {exc.url}): the area"
                " has more than 10,000 crimes that month, or the API is down; configure"
                " neighbourhoods or a point instead of a larger area"
            )
            return None
        if not isinstance(data, list):
            raise self._shape_error(path, f"not a list of crimes for {unit.key} {month}")
        crimes: list[RecordedCrime] = []
        skipped = 0
        for index, raw in enumerate(data):
            try:
                crimes.append(RecordedCrime.from_api(raw, _plain))
            except ValueError as exc:
                skipped += 1
                ident = raw.get("id") if isinstance(raw, dict) else None
                label = f"crime {ident}" if ident is not None else f"item {index}"
                if skipped <= 3:
                    warnings.append(
                        f"{label} of {unit.key} {month}: skipped: {str(exc).splitlines()[0]}"
                    )
        if skipped > 3:
            warnings.append(f"{unit.key} {month}: {skipped} malformed crimes skipped in all")
        return crimes

    def _check(self, report: Any, what: str, warnings: list[str]) -> None:
        """Deferred documents (engine busy or down) fail the poll; rejected ones are reported."""
        if report.deferred:
            first = next(iter(report.deferred.values()))
            raise CollectorError(
                f"indexing {what}: {len(report.deferred)} documents not accepted: {first}",
                source=self.name,
                hint="the search engine is busy or down; the next poll tries again",
            )
        if report.failed:
            doc_id, reason = next(iter(report.failed.items()))
            warnings.append(
                f"{what}: the engine rejected {len(report.failed)} documents, e.g. {doc_id}:"
                f" {reason[:300]}"
            )


def _plain(value: Any, limit: int) -> str:
    return to_plain_text(str(value or ""), limit)


def _is_month(value: str) -> bool:
    return len(value) == 7 and value[4] == "-" and value[:4].isdigit() and value[5:].isdigit()


def _load_cursor(cursor: str | None) -> dict[str, list[str]]:
    done = load_json_cursor(cursor).get("done")
    if not isinstance(done, dict):
        return {}
    return {str(k): [str(m) for m in v] for k, v in done.items() if isinstance(v, list)}


def _dump(done: dict[str, list[str]]) -> str:
    return json.dumps({"done": {k: sorted(set(v)) for k, v in sorted(done.items())}})
