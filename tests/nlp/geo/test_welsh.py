"""Welsh place names and their mutated forms, on the real gazetteer and spaCy model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp.base import NlpDoc
from nlp.encoder import tokenizer_file
from nlp.geo import gazetteer
from nlp.geo.forces import WELSH_FORCES
from nlp.geo.gazetteer import load_gazetteer, norm
from nlp.geo.geoparser import Geoparser
from nlp.geo.welsh import forms, mutations, nasal, plain, welsh_names
from tests.nlp.geo.test_geo import make_post


@pytest.fixture(scope="module")
def geoparser() -> Geoparser:
    return Geoparser()


def test_the_three_mutations_of_a_first_consonant() -> None:
    assert mutations("Caerdydd") == ["Gaerdydd", "Nghaerdydd", "Chaerdydd"]
    assert mutations("Pont-y-pŵl") == ["Bont-y-pŵl", "Mhont-y-pŵl", "Phont-y-pŵl"]
    assert mutations("Bangor") == ["Fangor", "Mangor"]
    assert mutations("Dinbych") == ["Ddinbych", "Ninbych"]
    assert mutations("Glynebwy") == ["Lynebwy", "Nglynebwy"]  # soft g drops
    assert mutations("Llandudno") == ["Landudno"]  # ll and rh mutate as one letter
    assert mutations("Rhuthun") == ["Ruthun"]
    assert mutations("Machynlleth") == ["Fachynlleth"]
    # Vowels, s, and letters that are digraphs of their own do not mutate.
    assert mutations("Abertawe") == mutations("Sir Benfro") == mutations("Ffestiniog") == []
    assert mutations("Thornbury") == mutations("Chirk") == []


def test_other_welsh_places_are_read_in_their_nasal_form_after_yn(geoparser: Geoparser) -> None:
    assert nasal("Betws-y-Coed") == "Metws-y-Coed"
    assert nasal("Cwmbach") == "Nghwmbach" and nasal("Abergele") is None
    cases = {
        "Damwain ym Metws-y-Coed heno": ("Betws-y-Coed", "North Wales Police"),
        "Tân yng Nghwmbach neithiwr": ("Cwmbach", "South Wales Police"),
        # Without "yn" before it the form is nothing: "Marry" is not Barry.
        "Metws-y-Coed is lovely": None,
        "They will Marry in June": None,
    }
    for text, want in cases.items():
        doc = NlpDoc.of(make_post(text))
        geoparser([doc])
        got = [(p.name, doc.post.enrichment.force_area) for p in doc.post.enrichment.places]
        assert got == ([want] if want else []), text


def test_forms_add_the_name_without_its_article_and_without_accents() -> None:
    assert list(forms("Y Fenni")) == ["Y Fenni", "Fenni"]  # "i'r Fenni"; no further mutation
    assert "Cwmbran" in forms("Cwmbrân") and "Nghwmbran" in forms("Cwmbrân")
    assert plain("Pont-y-pŵl") == "Pont-y-pwl"


def test_every_row_names_a_gazetteer_place_and_no_form_collides() -> None:
    gaz = load_gazetteer()
    # The encoder's WordPiece vocabulary: ~20,000 whole English words (and pieces).
    english = set(json.loads(tokenizer_file().read_text("utf-8"))["model"]["vocab"])
    rows = welsh_names()
    assert len(rows) >= 100
    for row in rows:
        for form in forms(row.welsh):
            found = gaz.lookup(form)
            assert found, f"{form!r} ({row.welsh}) is not in the gazetteer"
            # A form may share its key only with the same place (the English name itself).
            names = {c.name for c in found}
            assert names <= {row.welsh, row.english}, (form, names)
            if form not in (row.welsh, plain(row.welsh)) and norm(form) != norm(row.english):
                assert form.casefold() not in english, f"mutated form {form!r} is an English word"


def test_welsh_names_leave_every_existing_name_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    with_welsh = load_gazetteer()
    monkeypatch.setattr(gazetteer, "_add_welsh_names", lambda gaz: None)
    monkeypatch.setattr(gazetteer, "_add_nasal_forms", lambda gaz, rows: None)
    without = gazetteer.load_gazetteer.__wrapped__()  # the uncached builder
    assert len(with_welsh.entries) > len(without.entries) + 200
    for key, cands in without.entries.items():
        assert with_welsh.entries[key] == cands, key  # "Bangor" keeps its two candidates
        assert (key in with_welsh.case_sensitive) == (key in without.case_sensitive), key


def test_every_welsh_name_lands_in_a_welsh_force() -> None:
    gaz = load_gazetteer()
    for row in welsh_names():
        # Every form added for the row; a name that is also the English one ("Bangor")
        # keeps the English entry's candidates, of which one must be in Wales.
        assert any(c.force in WELSH_FORCES for c in gaz.lookup(row.welsh)), row.welsh
        for form in forms(row.welsh):
            if norm(form) == norm(row.english):
                continue
            added = {c.force for c in gaz.lookup(form) if c.name == row.welsh}
            assert added <= WELSH_FORCES, (form, added)  # Tref-y-clawdd was West Mercia


def test_a_malformed_row_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "names.tsv"
    bad.write_text("# welsh\tenglish\nCaerdydd\tCardiff\nCasnewydd Newport\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"names\.tsv:3: expected 'welsh<TAB>english'"):
        welsh_names(bad)


@pytest.mark.parametrize(
    ("text", "place", "force"),
    [
        ("Lladron wedi torri i mewn yng Nghaerdydd neithiwr", "Caerdydd", "South Wales Police"),
        ("Clywed bod rhywun wedi cael ei drywanu yng Nglynebwy", "Glynebwy", "Gwent Police"),
        ("Llwyth o geir heddlu ym Mhont-y-pŵl, beth sy'n digwydd??", "Pont-y-pŵl", "Gwent Police"),
        ("Damwain ar yr A55 ger Bangor, ewch yn ofalus", "Bangor", "North Wales Police"),
        ("Traffig ofnadwy o Fangor i Gaernarfon heddiw", "Bangor", "North Wales Police"),
        ("Tân mawr ym Mhowys neithiwr", "Powys", "Dyfed-Powys Police"),
        ("Mae'r ffordd i'r Fenni ar gau", "Y Fenni", "Gwent Police"),
        ("Heddlu yn Abertawe a Chaerfyrddin heno", "Abertawe", "South Wales Police"),
    ],
)
def test_welsh_posts_get_their_place_and_force(
    geoparser: Geoparser, text: str, place: str, force: str
) -> None:
    post = make_post(text)
    post.language = "cy"  # as the language component sets it
    doc = NlpDoc.of(post)
    geoparser([doc])
    names = [p.name for p in doc.post.enrichment.places]
    assert place in names, names
    assert doc.post.enrichment.force_area == force


def test_a_welsh_post_reads_a_shared_name_as_the_place_in_wales(geoparser: Geoparser) -> None:
    text = "Damwain ar yr A55 ger Bangor"
    forces = {}
    for language in (None, "cy"):
        post = make_post(text)
        post.language = language
        doc = NlpDoc.of(post)
        geoparser([doc])
        forces[language] = doc.post.enrichment.force_area
    # Bangor, County Down is the larger town; written in Welsh, it is Bangor, Gwynedd.
    assert forces == {None: "Police Service of Northern Ireland", "cy": "North Wales Police"}


def test_mutated_forms_need_a_capital_so_english_words_stay_words(geoparser: Geoparser) -> None:
    doc = NlpDoc.of(make_post("i went to the fenni for a coffee and then barri"))
    geoparser([doc])
    assert doc.post.enrichment.places == []


def test_a_nasal_form_counts_only_after_yn(geoparser: Geoparser) -> None:
    # "ym Mae Colwyn" is in Colwyn Bay; "Mae Colwyn yn ffrind da" is "Colwyn is a friend".
    cases = {
        "Damwain ym Mae Colwyn heno": ["Bae Colwyn"],
        "Mae Colwyn yn ffrind da": [],
        "Nghaerdydd heno": [],
        "Heddlu yng Nghaerdydd": ["Caerdydd"],
    }
    for text, want in cases.items():
        post = make_post(text)
        post.language = "cy"
        doc = NlpDoc.of(post)
        geoparser([doc])
        assert [p.name for p in doc.post.enrichment.places] == want, text


def test_a_common_welsh_word_is_not_read_as_a_town(geoparser: Geoparser) -> None:
    # "Waun" (moor) starts many place names; Chirk is "Y Waun", with its article.
    assert "Waun" not in forms("Y Waun")
    cases = (("Tân ar Waun Fawr heno", None), ("Tân yn Y Waun heno", "North Wales Police"))
    for text, force in cases:
        post = make_post(text)
        post.language = "cy"
        doc = NlpDoc.of(post)
        geoparser([doc])
        assert doc.post.enrichment.force_area == force, text
