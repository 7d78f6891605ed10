"""Neighbourhood polygons from a GeoJSON file, and point-in-polygon lookup.

The file is a GeoJSON FeatureCollection of Polygon or MultiPolygon features in WGS84
(longitude, latitude order, as GeoJSON requires); each feature's name is read from a
configurable property (default ``name``). Holes (inner rings) are honoured. The first
feature, in file order, whose polygon contains the point wins, so list small areas
before the large ones that enclose them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Ring = list[tuple[float, float]]  # (lon, lat)


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    name: str
    polygons: tuple[tuple[Ring, ...], ...]  # each polygon: outer ring then holes
    bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat

    def contains(self, lat: float, lon: float) -> bool:
        x0, y0, x1, y1 = self.bbox
        if not (x0 <= lon <= x1 and y0 <= lat <= y1):
            return False
        for rings in self.polygons:
            if _in_ring(lon, lat, rings[0]) and not any(_in_ring(lon, lat, h) for h in rings[1:]):
                return True
        return False


def _in_ring(x: float, y: float, ring: Ring) -> bool:
    """Even-odd ray casting."""
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def load_neighbourhoods(path: Path, name_property: str = "name") -> list[Neighbourhood]:
    data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    features = data.get("features", []) if data.get("type") == "FeatureCollection" else [data]
    out: list[Neighbourhood] = []
    for i, feature in enumerate(features):
        geom = feature.get("geometry") or {}
        props = feature.get("properties") or {}
        name = props.get(name_property)
        if not name:
            raise ValueError(f"{path}: feature {i} has no {name_property!r} property")
        if geom.get("type") == "Polygon":
            raw = [geom["coordinates"]]
        elif geom.get("type") == "MultiPolygon":
            raw = geom["coordinates"]
        else:
            raise ValueError(f"{path}: feature {name!r} is {geom.get('type')}, not a polygon")
        polys = tuple(
            tuple([(float(p[0]), float(p[1])) for p in ring] for ring in poly) for poly in raw
        )
        xs = [p[0] for poly in polys for p in poly[0]]
        ys = [p[1] for poly in polys for p in poly[0]]
        out.append(Neighbourhood(str(name), polys, (min(xs), min(ys), max(xs), max(ys))))
    return out


def neighbourhood_at(areas: list[Neighbourhood], lat: float, lon: float) -> str | None:
    for area in areas:
        if area.contains(lat, lon):
            return area.name
    return None
