"""Known place names anywhere (``nlp.geo.world``): what the NER alone may call a place."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from nlp.geo.geoparser import world_form_ok
from nlp.geo.world import (
    build,
    city_names,
    country_names,
    is_hashtag_place,
    is_known_place_name,
    region_names,
    world_names,
)


def nowhere(key: str) -> bool:
    return False


@pytest.mark.parametrize(
    "name",
    [
        "Paris",  # a GeoNames place
        "Ontario",  # a first-level division
        "the United States",  # an ISO country name, after "the"
        "Mideast",  # the hand-made short forms
        "#Ukraine",  # a hashtag
        "eastern Ukraine",  # a compass word before a known name
        "Black Sea",  # a named natural feature
        "NY",  # a state code, in capitals
    ],
)
def test_known_place_names(name: str) -> None:
    assert is_known_place_name(name, nowhere)


@pytest.mark.parametrize(
    "name", ["Stephen", "Ebola", "Watchman", "Albums", "ny", "black sea", "Us", "May"]
)
def test_words_the_ner_mistakes_for_places_are_not(name: str) -> None:
    assert not is_known_place_name(name, nowhere)


def test_the_gb_gazetteer_is_asked_too() -> None:
    asked: list[str] = []

    def gazetteer(key: str) -> bool:
        asked.append(key)
        return key == "piccadilly gardens"

    assert is_known_place_name("Piccadilly Gardens", gazetteer)
    assert asked == ["piccadilly gardens"]


def test_the_shipped_file_holds_countries_divisions_and_towns() -> None:
    names = world_names()
    assert {"france", "korea", "bavaria", "queensland", "salford", "kyiv"} <= names
    assert len(names) > 100_000
    countries = country_names()
    assert {"Nigeria", "Greece", "Korea", "United States", "US", "Mideast"} <= set(countries)
    assert not {"Chad", "Jordan", "Turkey", "China"} & set(countries)
    cities = set(city_names())
    assert {"Berlin", "Kathmandu", "Mexico City", "Vancouver"} <= cities
    assert not {"Phoenix", "Sydney", "Regina"} & cities
    regions = set(region_names())
    assert {"Ontario", "Queensland", "Texas", "New South Wales"} <= regions
    assert not {"Georgia", "Victoria"} & regions


@pytest.mark.parametrize(
    ("word", "place"),
    [
        ("Limerick", True),
        ("Geelong", True),
        ("limerick", False),
        ("Because", False),
        ("Zzzz", False),
    ],
)
def test_one_word_hashtags(word: str, place: bool) -> None:
    assert is_hashtag_place(word) is place


def test_build_is_deterministic_and_reads_its_sources(tmp_path: Path) -> None:
    rg = tmp_path / "rg.csv"
    rg.write_text(
        "lat,lon,name,admin1,admin2,cc\n"
        "48.85,2.35,Paris,Ile-de-France,Paris,FR\n"
        "53.48,-2.24,Manchester,England,Greater Manchester,GB\n"
        "43.65,-79.38,Toronto,Ontario,,CA\n",
        encoding="utf-8",
    )
    iso = tmp_path / "iso3166.tab"
    iso.write_text("# comment\nKR\tKorea (South)\nBA\tBosnia & Herzegovina\n", encoding="utf-8")
    zones = tmp_path / "zone1970.tab"
    zones.write_text(
        "# comment\nDE\t+5230+01322\tEurope/Berlin\nMX\t+1924-09909\tAmerica/Mexico_City\n"
        "US\t+375711-0864541\tAmerica/Indiana/Tell_City\nAQ\t-6617+11031\tAntarctica/Casey\n",
        encoding="utf-8",
    )

    def run(tag: str) -> Path:
        out = tmp_path / f"{tag}.txt.gz"
        side = {n: tmp_path / f"{tag}-{n}.txt" for n in ("countries", "cities", "regions")}
        n = build(rg, iso, out, side["countries"], zones, side["cities"], side["regions"])
        assert n == 9
        return out

    first, second = run("a"), run("b")
    assert first.read_bytes() == second.read_bytes()
    lines = gzip.decompress(first.read_bytes()).decode().splitlines()
    assert lines == sorted(
        [
            "bosnia and herzegovina",
            "england",
            "ile-de-france",
            "korea",
            "korea (south)",
            "manchester",
            "ontario",
            "paris",
            "toronto",
        ]
    )

    def body(name: str) -> list[str]:
        return (tmp_path / f"a-{name}.txt").read_text(encoding="utf-8").splitlines()[1:]

    assert body("countries") == ["Korea"]  # "&" names left out
    assert body("cities") == ["Berlin", "Mexico City"]  # Europe/America zones, two parts
    assert body("regions") == ["Ontario"]  # US, Canada and Australia only


@pytest.mark.parametrize(
    ("ent_id", "text", "ok"),
    [
        ("country:Greece", "Greece", True),
        ("country:Greece", "GREECE", True),
        ("country:Greece", "greece", True),
        ("country:Greece", "GreeCE", False),
        ("country:US", "US", True),
        ("country:US", "us", False),
        ("country:US", "Us", False),
        ("abroad:Berlin", "BERLIN", True),
        ("abroad:Berlin", "berlin", False),
        ("abroad", "New York", True),  # the token patterns ("New York") decide case themselves
    ],
)
def test_forms_a_place_abroad_may_take(ent_id: str, text: str, ok: bool) -> None:
    assert world_form_ok(ent_id, text) is ok
