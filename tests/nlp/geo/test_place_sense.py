"""The trained context check: is a found place name meant as a place?"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bluelamp.post import Post, SourceRef
from nlp.base import NlpDoc
from nlp.geo.geoparser import STOCK_NER, Geoparser, GeoparserConfig, component_version
from nlp.geo.place_sense import (
    MODEL_FILE,
    WINDOW,
    PlaceSense,
    features,
    in_sport_context,
    load_place_sense,
)
from tests.support.collect import require_shared

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"


@pytest.fixture(scope="module")
def on() -> Geoparser:
    return Geoparser(GeoparserConfig(ner=STOCK_NER))


@pytest.fixture(scope="module")
def off() -> Geoparser:
    return Geoparser(GeoparserConfig(ner=STOCK_NER, place_sense=False))


def names(g: Geoparser, text: str) -> list[str]:
    return [text[a:b] for a, b in g.place_spans([text])[0]]


def force(g: Geoparser, text: str) -> str | None:
    post = Post(
        id="test:1",
        platform="test",
        native_id="1",
        text=text,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        source=SourceRef(name="test"),
    )
    g([NlpDoc.of(post)])
    return post.enrichment.force_area


@pytest.mark.parametrize(
    ("text", "team"),
    [
        ("England beat Wales 2-0 in the qualifier", "England"),
        ("Wigan v Bolton, kick off 3pm", "Wigan"),
        ("Scotland squad announced for the Euros", "Scotland"),
    ],
)
def test_a_name_meant_as_a_team_is_not_a_place(
    on: Geoparser, off: Geoparser, text: str, team: str
) -> None:
    assert team in names(off, text)  # the rules alone keep it
    assert team not in names(on, text)


@pytest.mark.parametrize(
    ("text", "place", "expected_force"),
    [
        ("I moved back to England last year", "England", None),
        (
            "Stabbing in Chelsea last night, police everywhere",
            "Chelsea",
            "Metropolitan Police Service",
        ),
        (
            "Man stabbed in Manchester after the football match",
            "Manchester",
            "Greater Manchester Police",
        ),
        (
            "Fans fighting outside the ground in Stoke after the match",
            "Stoke",
            "Staffordshire Police",
        ),
        ("Riot police at Wembley as England fans clash", "Wembley", "Metropolitan Police Service"),
    ],
)
def test_a_place_is_kept_even_in_a_post_about_a_match(
    on: Geoparser, text: str, place: str, expected_force: str | None
) -> None:
    assert place in names(on, text)
    assert force(on, text) == expected_force


@pytest.mark.parametrize(
    ("text", "place"),
    [
        (
            "dealing going on in the park off king street every night. birkenhead kids play there",
            "birkenhead",
        ),
        ("officers got my lad home safe around half 4, can't thank u enough #Bradford", "Bradford"),
        ("street meet with the neighbourhood team on union street, aberdeen, at 6pm", "aberdeen"),
        ("rang 101 at 9 and still on hold 41 mins later, police won't say #Dundee", "Dundee"),
    ],
)
def test_local_posts_are_not_judged(on: Geoparser, text: str, place: str) -> None:
    # words as common in local posts as in sport ("play", "half", "team", "won") do not
    # make a post about a match, so the check leaves their places to the rules
    start = text.index(place)
    assert not in_sport_context(text, start, start + len(place))
    assert force(on, text) is not None


def test_only_posts_about_a_match_are_judged() -> None:
    sense = PlaceSense(weights={"bias": -50.0}, threshold=0.5, version="t")  # rejects all
    assert sense.is_place("Stabbing in Leeds", 12, 17)  # not about a match: kept
    assert not sense.is_place("Leeds 2-1 Hull", 0, 5)
    assert in_sport_context("Wales win again", 0, 5)  # a word next to it makes it a team
    assert not in_sport_context("We won a holiday to Wales", 20, 25)  # not next to it


def test_a_word_cut_by_the_window_is_not_read_as_a_sport_word() -> None:
    for word in ("very", "matches", "fansite", "odious"):
        # the window ends inside the word: "v", "match", "fans", "odi" must not count
        for cut in range(1, len(word)):
            text = "Flooding in Leeds " + "x" * (WINDOW - cut - 1) + " " + word + " today"
            assert not in_sport_context(text, 12, 17), (word, cut)
    text = "Flooding in Leeds " + "x" * (WINDOW - 10) + " v today"
    assert in_sport_context(text, 12, 17)  # a whole sport word inside the window counts


class CountingDoc:
    """A spaCy Doc that counts how often its text is read (``Doc.text`` joins every
    token on each read: read once per span, a long post costs quadratic time)."""

    def __init__(self, doc: object) -> None:
        self._doc = doc
        self.reads = 0

    @property
    def text(self) -> str:
        self.reads += 1
        return str(self._doc.text)  # type: ignore[attr-defined]

    @property
    def ents(self) -> object:
        return self._doc.ents  # type: ignore[attr-defined]


@pytest.mark.parametrize("sense", [True, False])
def test_a_post_text_is_read_once_however_many_places_it_names(sense: bool) -> None:
    g = Geoparser(GeoparserConfig(ner=STOCK_NER, place_sense=sense))
    text = "Leeds v Hull, fans in Leeds and Hull. " * 200  # 800 place names
    for method in (g._spans, g._mentions):
        doc = CountingDoc(g.nlp(text))
        method(doc)
        assert doc.reads == 1, method.__name__


def test_features_read_a_bounded_window_of_a_huge_post() -> None:
    text = "Fans in Leeds before the match"
    padded = ("x " * 500_000) + text + (" y" * 500_000)
    shift = len(padded) - len(text) - len(" y" * 500_000)
    near = features(text, 8, 13)
    far = features(padded, 8 + shift, 13 + shift)
    assert far["w=leeds"] == near["w=leeds"] == 1.0
    assert far["after_prep"] == near["after_prep"] == 1.0
    assert in_sport_context(padded, 8 + shift, 13 + shift)
    assert not in_sport_context(padded, 10, 12)  # the match word is far beyond the window
    assert WINDOW < 1000


def test_the_check_is_versioned_and_can_be_turned_off(on: Geoparser, off: Geoparser) -> None:
    sense = load_place_sense()
    assert sense is not None
    assert sense.version in on.version and sense.version.startswith("place_sense.")
    assert "place_sense" not in off.version
    assert component_version(STOCK_NER, place_sense=False) == off.version
    card = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert 0.0 < card["threshold"] < 1.0
    assert card["never_read"].startswith("BTC sections a, b, f")


def test_training_rebuilds_the_shipped_weights(tmp_path: Path) -> None:
    require_shared(SHARED / "broad_twitter_corpus")
    require_shared(SHARED / "semeval2017_task4A")  # the UK dev set's tweet texts
    from nlp.training.train_place_sense import train

    out = tmp_path / "place_sense.json"
    card = train(out, SHARED / "broad_twitter_corpus", log=lambda _: None)
    shipped = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert card["weights"] == shipped["weights"]
    assert (card["C"], card["threshold"]) == (shipped["C"], shipped["threshold"])
    # in cross-validation it helps on UK tweets and costs BTC no more than noise
    cv, without = card["cross_validated_f1"], card["f1_without_check"]
    assert cv["uk"] > without["uk"] + 0.01
    assert cv["btc"] > without["btc"] - 0.005
    assert cv["uk"] + cv["btc"] > without["uk"] + without["btc"]


def test_operators_can_turn_the_check_off_in_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bluelamp.settings import load_settings
    from nlp.build import build_pipeline

    config = tmp_path / "bluelamp.yaml"
    config.write_text("nlp:\n  components: [geoparser]\n", encoding="utf-8")
    monkeypatch.setenv("BLUELAMP_CONFIG", str(config))
    (default,) = build_pipeline(load_settings().nlp).components
    monkeypatch.setenv("BLUELAMP_NLP_PLACE_SENSE", "false")
    (switched_off,) = build_pipeline(load_settings().nlp).components
    text = "England beat Wales 2-0 in the qualifier"
    assert isinstance(default, Geoparser) and isinstance(switched_off, Geoparser)
    assert "England" not in names(default, text)
    assert "England" in names(switched_off, text)
    assert "place_sense" in default.version and "place_sense" not in switched_off.version
