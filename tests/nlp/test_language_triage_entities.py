"""Language, triage and entity components on real text with the real libraries.

No mocks: py3langid's shipped model, the YAML lexicons in nlp/data/lexicons,
and the seeded demo generator's posts.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bluelamp.demo.generator import generate_posts
from bluelamp.demo.loader import demo_posts
from bluelamp.post import Entity, Post, validate_post
from bluelamp.text import strip_invisible
from nlp.base import Component, NlpDoc
from nlp.entities import EntityComponent
from nlp.language import LanguageComponent, detection_text
from nlp.pipeline import Pipeline
from nlp.triage import (
    Gazetteer,
    PhraseMatcher,
    TriageComponent,
    load_areas,
    load_topics,
    with_welsh_forms,
)

_N = 0


def post(text: str, language: str | None = None) -> Post:
    global _N
    _N += 1
    return validate_post(
        {
            "id": f"x:t{_N}",
            "platform": "x",
            "native_id": f"t{_N}",
            "text": text,
            "language": language,
            "created_at": datetime(2026, 11, 1, tzinfo=UTC),
            "source": {"name": "test"},
        }
    )


def doc(text: str, language: str | None = None) -> NlpDoc:
    return NlpDoc.of(post(text, language))


@pytest.fixture(scope="module")
def language() -> LanguageComponent:
    return LanguageComponent()


@pytest.fixture(scope="module")
def triage() -> TriageComponent:
    return TriageComponent()


@pytest.fixture(scope="module")
def entities() -> EntityComponent:
    return EntityComponent()


# --------------------------------------------------------------------------- language

WELSH = [
    "Mae'r heddlu wedi cau'r ffordd ger yr ysgol bore 'ma",
    "Diolch i bawb am rannu, mae'r ci wedi cael ei ffeindio",
    "Oes rhywun yn gwybod pam mae hofrennydd yr heddlu uwchben y dref?",
    "Damwain ddifrifol ar yr A470 ger Merthyr, osgowch yr ardal",
    "Mae fy meic wedi cael ei ddwyn o'r sied neithiwr",
    "Noson wych yn y gig nos Sadwrn, diolch i'r band",
    "Byddwch yn ofalus ar y ffyrdd heno, mae'n rhewllyd iawn",
    "Rydw i'n dysgu Cymraeg ers dwy flynedd bellach",
    "Pwy sy'n dod i'r cyfarfod cymunedol yn y neuadd nos Fercher?",
    "Llongyfarchiadau mawr i dîm pêl-droed yr ysgol",
    "Mae plant yn chwarae ar y stryd ac mae ceir yn gyrru'n rhy gyflym",
    "Gwelais ddyn gyda chyllell tu allan i'r siop",
    "Rhywun wedi torri ffenest y car ar Heol y Parc",
    "Ydy'r trenau'n rhedeg heddiw neu ydyn nhw wedi'u canslo eto?",
    "Mae'r tywydd yn braf o'r diwedd, amser mynd am dro i'r traeth",
    "Rhybudd: galwadau ffug yn honni bod o'r banc, peidiwch â rhoi arian",
    "Dwi ddim yn hapus gyda'r gwasanaeth o gwbl",
    "Ble mae'r lle gorau i gael brecwast yng Nghaerdydd?",
    "Bachgen pymtheg oed ar goll ers dydd Gwener, rhannwch plîs",
    "Tân mawr mewn warws ar y stad ddiwydiannol",
    "Mae'r cyngor wedi addo trwsio'r tyllau yn y ffordd",
    "Heddlu arfog yn y pentref, pawb i aros yn y tŷ",
    "Cafodd fy nghymydog ei ymosod arno wrth gerdded adref",
    "Gêm gyfartal yn erbyn yr Alban, siomedig braidd",
    "Pen-blwydd hapus i fy chwaer fach heddiw",
    "Maen nhw'n gwerthu cyffuriau yn y maes parcio bob nos",
    "Siopau'r dref yn cau un ar ôl y llall, mae'n drist",
    "Diolch o galon i staff yr ysbyty am eu gofal",
    "Ceir wedi'u parcio ar y palmant eto, dim lle i bramiau",
    "Faint o'r gloch mae'r siop yn agor yfory?",
]
ENGLISH = [
    "anyone know why the road's shut by the big asda",
    "Police helicopter been circling over the estate for an hour now",
    "lost my dog near the canal this morning, black lab, answers to Max",
    "Huge thanks to the lady who handed in my purse at the station",
    "fight outside the pub on the high street again, bottles everywhere",
    "can someone explain why the buses never turn up on time round here",
    "Three cars broken into on our road last night, check your dashcams",
    "lovely afternoon at the park with the kids, ice cream van did well",
    "Watch out for a bloke knocking doors offering to fix roofs",
    "the queue at the tip was ridiculous today",
    "Road closed both ways after a crash near the roundabout",
    "Ten minutes on hold and then they hung up on me",
    "Does anyone recommend a decent plumber in the area?",
    "kids on bikes riding at people on the pavement, someone will get hurt",
    "Well done to everyone who turned up for the litter pick",
    "My car got clamped outside my own house, unbelievable",
    "there's a massive pothole on the corner that nobody fixes",
    "Fireworks going off at midnight every night this week",
    "Got a dodgy email pretending to be from the council tax office",
    "Welsh lessons start again next week at the library",
    "football was cancelled because the pitch is flooded",
    "Someone's been sleeping rough in the bus shelter, who do I call",
    "Brilliant gig last night, the band were unreal",
    "the smell of weed on our landing is constant",
    "can't believe how expensive parking has got in town",
    "Saw two lads trying car door handles on the close",
    "Has anyone else had their bins missed this week",
    "our neighbour's cat has been missing since Tuesday",
    "Cheers to the officers who sorted the noise complaint quickly",
    "i think someone's nicked the lead off the church roof again",
]
OTHER = {
    "pl": "Czy ktoś wie, dlaczego policja zamknęła ulicę przy szkole?",
    "ur": "کیا کسی کو معلوم ہے کہ پولیس نے سڑک کیوں بند کی ہے",
    "ar": "هل يعرف أحد لماذا أغلقت الشرطة الطريق قرب المدرسة",
    "ro": "Știe cineva de ce a închis poliția strada de lângă școală?",
    "pa": "ਕੀ ਕਿਸੇ ਨੂੰ ਪਤਾ ਹੈ ਕਿ ਪੁਲਿਸ ਨੇ ਸੜਕ ਕਿਉਂ ਬੰਦ ਕੀਤੀ ਹੈ",
    "bn": "কেউ কি জানেন পুলিশ কেন রাস্তা বন্ধ করেছে",
    "so": "Ma jiraa qof og sababta ay booliisku u xireen waddada dugsiga agteeda?",
}


def test_english_and_welsh_written_for_the_test(language: LanguageComponent) -> None:
    docs = [doc(t) for t in WELSH + ENGLISH]
    language(docs)
    got = [d.post.language for d in docs]
    welsh_right = got[: len(WELSH)].count("cy")
    english_right = got[len(WELSH) :].count("en")
    # Measured with py3langid 0.4.0: 30/30 and 30/30. Allow one slip per language.
    assert welsh_right >= len(WELSH) - 1, got[: len(WELSH)]
    assert english_right >= len(ENGLISH) - 1, got[len(WELSH) :]


def test_community_languages(language: LanguageComponent) -> None:
    docs = [doc(t) for t in OTHER.values()]
    language(docs)
    assert [d.post.language for d in docs] == list(OTHER)


def test_demo_posts_welsh_and_english_without_their_declared_language(
    language: LanguageComponent,
) -> None:
    records = list(generate_posts(3000, seed=21))
    docs = [doc(str(r["text"])) for r in records]  # declared language withheld
    language(docs)
    outcome: Counter[tuple[object, str | None]] = Counter(
        (r["lang"], d.post.language) for r, d in zip(records, docs, strict=True)
    )
    welsh = sum(n for (gold, _), n in outcome.items() if gold == "cy")
    assert welsh > 50
    assert outcome["cy", "cy"] / welsh >= 0.98, outcome
    english = sum(n for (gold, _), n in outcome.items() if gold == "en")
    assert outcome["en", "en"] / english >= 0.98, outcome
    wrong = sum(n for (gold, got), n in outcome.items() if got is not None and got != gold)
    assert wrong <= 3, outcome  # unsure posts become None, not a wrong language


def test_short_text_keeps_declared_or_none(language: LanguageComponent) -> None:
    docs = [
        doc("Diolch!", "cy"),
        doc("Diolch!"),
        doc("lol 😂😂 @gmpolice https://example.invalid/x", "en"),
        doc("ha ha ha ha"),  # four words but one different word
    ]
    language(docs)
    assert [d.post.language for d in docs] == ["cy", None, "en", None]
    assert {d.features["language"]["rule"] for d in docs} == {"short"}


def test_declared_language_rules(language: LanguageComponent) -> None:
    mixed = "Diolch to everyone am y help heddiw"  # code-switched: the detector is unsure
    _, confidence = language.detect(detection_text(mixed))
    assert language.guess_confidence <= confidence < language.min_confidence
    unsure_declared = doc(mixed, "cy")
    unsure_alone = doc(mixed)
    confident_wrong = doc("the dog has eaten a whole sock and seems fine", "cy")
    regional = doc("the dog has eaten a whole sock and seems fine", "en-GB")
    unknown = doc("The police closed the road near the school this morning", "ja")
    language([unsure_declared, unsure_alone, confident_wrong, regional, unknown])
    assert unsure_declared.post.language == "cy"  # unsure: the platform's word stands
    assert unsure_declared.features["language"]["rule"] == "declared"
    assert unsure_alone.post.language == "en"  # unsure, nothing declared: best guess
    assert unsure_alone.features["language"]["rule"] == "guess"
    assert confident_wrong.post.language == "en"  # confident: the text wins
    assert regional.post.language == "en-GB"  # same language: the declared tag is kept
    assert unknown.post.language == "ja"  # outside the set: cannot be contradicted


def test_language_set_is_configurable() -> None:
    with pytest.raises(ValueError, match="does not know"):
        LanguageComponent(["en", "xx"]).detect("some text here")
    two = LanguageComponent(["en", "cy"])
    assert two.detect("Mae'r heddlu wedi cau'r ffordd ger yr ysgol")[0] == "cy"


# --------------------------------------------------------------------------- triage


def test_triage_areas_and_topics(triage: TriageComponent) -> None:
    d = doc("Lad waving a KNIFE outside the Co-op in Salford, police on the way")
    triage([d])
    assert d.features["triage"]["areas"] == ["Salford"]
    assert d.features["triage"]["topics"] == ["weapons", "policing"]
    assert "knife" in d.features["triage"]["terms"]
    assert d.skip_costly is False


def test_triage_hashtags_mentions_case_plurals(triage: TriageComponent) -> None:
    cases = {
        "#knife found in the park": ("weapons", None),
        "#KnifeCrime is rising": ("violence", None),
        "so sad #knifecrime": ("violence", None),
        "#knifeawareness week": ("weapons", None),
        "three BURGLARIES on our road": ("robbery_theft", None),
        "zombie knives handed in": ("weapons", None),
        "anti-social behaviour again": ("disorder_asb", None),
        "antisocial behaviour again": ("disorder_asb", None),
        "#PrayForManchester": (None, "Manchester"),
        "thanks @gmpolice": (None, "Greater Manchester Police"),
        "ＫＮＩＦＥ on the floor": ("weapons", None),  # full-width letters
    }
    for text, (topic, area) in cases.items():
        result = triage.triage(text)
        if topic:
            assert topic in result.topics, (text, result)
        if area:
            assert area in result.areas, (text, result)


def test_triage_sees_through_zero_width_characters(triage: TriageComponent) -> None:
    d = doc("saw a kn\u200bife in Sal\u200dford")
    triage([d])
    assert d.features["triage"]["topics"] == ["weapons"]
    assert d.features["triage"]["areas"] == ["Salford"]


def test_triage_reads_welsh_names_from_the_geoparsers_table(tmp_path: Path) -> None:
    lexicon = tmp_path / "areas.yaml"
    lexicon.write_text(
        "version: 1\nforces:\n  - name: North Wales Police\n"
        "    places: [Bangor, [Mold, Yr Wyddgrug]]\n",
        encoding="utf-8",
    )
    areas = load_areas(lexicon)
    assert areas.names["Bangor"] == ("Bangor", "Fangor", "Mangor")
    assert areas.names["Mold"] == ("Mold", "Yr Wyddgrug", "Wyddgrug")  # no repeats
    t = TriageComponent(areas=areas)
    assert t.triage("Damwain ym Mangor heno").areas == ["Bangor"]
    assert t.triage("Ar y ffordd i'r Wyddgrug").areas == ["Mold"]
    assert with_welsh_forms(("Leeds",)) == ("Leeds",)


def test_triage_welsh_spellings_and_exclusions(triage: TriageComponent) -> None:
    assert triage.triage("Tywydd ofnadwy yng Nghaerdydd heddiw").areas == ["Cardiff"]
    assert triage.triage("ym Mhont-y-pŵl neithiwr").areas == ["Pontypool"]
    assert triage.triage("Cwmbrân and Cwmbran").areas == ["Cwmbran"]
    assert triage.triage("Clywed bod rhywun wedi cael ei drywanu").topics == ["violence"]
    assert triage.triage("reading a book in the bath").areas == []  # capitalised only
    assert triage.triage("Reading station is shut").areas == ["Reading"]
    assert triage.triage("I love New York").areas == []
    assert triage.triage("my glue gun broke").topics == []
    assert triage.triage("Newcastle-under-Lyme market").areas == ["Newcastle-under-Lyme"]


def test_triage_skip_flag() -> None:
    skipping = TriageComponent()
    keeping = TriageComponent(skip_unmatched=False)
    chatter = doc("made a lasagne. it's fine. it's a lasagne")
    about = doc("made a lasagne in Wigan")
    skipping([chatter, about])
    assert chatter.skip_costly is True
    assert chatter.features["triage"] == {"areas": [], "topics": [], "terms": []}
    assert about.skip_costly is False
    other = doc("made a lasagne. it's fine. it's a lasagne")
    keeping([other])
    assert other.skip_costly is False


def test_triage_custom_areas_and_topics() -> None:
    custom = TriageComponent(
        areas={"Moss Side": ["Mossie"], "Hulme": []},
        topics={"cycling": ["bike theft", "e-bike"]},
    )
    result = custom.triage("two e-bikes nicked in mossie, and bike thefts in Hulme")
    assert result.areas == ["Moss Side", "Hulme"]
    assert result.topics == ["cycling"]
    assert result.terms == ["e-bike", "bike theft"]
    assert custom.triage("knife in Salford").topics == []  # only what was configured
    assert TriageComponent(areas=["Leeds"]).triage("leeds").areas == ["Leeds"]


def test_triage_default_lexicons_load() -> None:
    areas = load_areas()
    topics = load_topics()
    assert isinstance(areas, Gazetteer)
    assert "Greater Manchester Police" in areas.names
    assert "gmpolice" in areas.names["Greater Manchester Police"]
    assert len(areas.names) > 500
    assert {"weapons", "drugs", "violence", "missing_person", "road_safety"} <= set(topics.terms)


def test_triage_on_demo_posts_is_fast_and_skips_only_chatter(triage: TriageComponent) -> None:
    records = list(generate_posts(4000, seed=5))
    docs = [doc(str(r["text"])) for r in records]
    started = time.perf_counter()
    triage(docs)
    rate = len(docs) / (time.perf_counter() - started)
    skipped = Counter(
        str(r["demo_kind"]) for r, d in zip(records, docs, strict=True) if d.skip_costly
    )
    kinds = Counter(str(r["demo_kind"]) for r in records)
    assert skipped["crime_report"] <= kinds["crime_report"] * 0.01
    assert skipped["chatter"] >= kinds["chatter"] * 0.4  # placeless chatter is skipped
    # Measured ~40,000 posts/s on one core; the target is 5,000. Loose, for slow CI.
    assert rate > 2000, rate


def test_phrase_matcher_longest_wins_and_offsets() -> None:
    matcher: PhraseMatcher[str] = PhraseMatcher()
    matcher.add("knife", "k", plurals=True)
    matcher.add("zombie knife", "zk", plurals=True)
    text = "Two Zombie Knives and a knife"
    hits = matcher.scan(text)
    assert [(text[h.start : h.end], h.values) for h in hits] == [
        ("Zombie Knives", ("zk",)),
        ("knife", ("k",)),
    ]


# --------------------------------------------------------------------------- entities


def kinds(entities: EntityComponent, text: str) -> list[tuple[str, str]]:
    return [(e.type, e.text) for e in entities.find(text)]


@pytest.mark.parametrize(
    "text",
    [
        "silver corsa AB12 CDE sped off",
        "reg was ab12cde",
        "AB12CDE",
        "plate BD51 SMR",
        "A123 BCD",
        "a123bcd",
        "old van ABC 123D",
        "the car reg ABC 123",
        "number plate was 1234 AB",
    ],
)
def test_vrm_true_positives(entities: EntityComponent, text: str) -> None:
    found = [e for e in entities.find(text) if e.type == "vrm"]
    assert len(found) == 1, (text, found)
    assert found[0].text.replace(" ", "").upper() in text.replace(" ", "").upper()


@pytest.mark.parametrize(
    "text",
    [
        "postcode M1 1AE",
        "SW1A 1AA",
        "M60 9HP is the postcode",
        "B33 8TH",
        "stuck on the a1 and the car in front won't move",
        "A470 NOW CLOSED",
        "she was 16a",
        "COVID19 jab",
        "my ps5 and mp3 player",
        "bob123x is live on twitch",
        "the M62 J24",
        "abc 123",  # dateless only after a plate word, in capitals
        "ABC 123",
        "ordinary words only here",
        "https://example.invalid/AB12CDE",
    ],
)
def test_vrm_negatives(entities: EntityComponent, text: str) -> None:
    assert [e for e in entities.find(text) if e.type == "vrm"] == []


def test_phone_numbers(entities: EntityComponent) -> None:
    text = (
        "ring 07700 900123 or 07700900123 or 020 7946 0123, "
        "+44 7700 900123, +44 (0)161 496 0123, (0161) 496 0123, 0300 123 4567, "
        "Crimestoppers 0800 555 111"
    )
    phones = [t for k, t in kinds(entities, text) if k == "phone"]
    assert phones == [
        "07700 900123",
        "07700900123",
        "020 7946 0123",
        "+44 7700 900123",
        "+44 (0)161 496 0123",
        "(0161) 496 0123",
        "0300 123 4567",
        "0800 555 111",
    ]
    assert [k for k, _ in kinds(entities, "Crimestoppers 0800 555 111")] == ["phone"]


@pytest.mark.parametrize(
    "text",
    ["dated 01/02/2024", "12:30 on 07/11", "£07700 900123", "id=07700900123", "07700 9001"],
)
def test_phone_negatives(entities: EntityComponent, text: str) -> None:
    assert [e for e in entities.find(text) if e.type == "phone"] == []


def test_service_numbers(entities: EntityComponent) -> None:
    assert kinds(entities, "rang 999 straight away") == [("service_number", "999")]
    assert kinds(entities, "on hold to 101 for 40 mins") == [("service_number", "101")]
    assert kinds(entities, "call 111 if it's not an emergency") == [("service_number", "111")]
    assert kinds(entities, "Samaritans: call 116 123") == [("service_number", "116 123")]
    assert kinds(entities, "999 problems") == []
    assert kinds(entities, "101 dalmatians") == []
    assert kinds(entities, "it cost £101 to call") == []
    assert kinds(entities, "room 101") == []


def test_lexicon_hits_and_ambiguity(entities: EntityComponent) -> None:
    assert kinds(entities, "lad with a zombie knife and two machetes") == [
        ("weapon", "zombie knife"),
        ("weapon", "machetes"),
    ]
    assert kinds(entities, "someone pulled a gun, then a shank") == [
        ("weapon", "gun"),
        ("weapon", "shank"),  # ambiguous, but "pulled a" is weapon context
    ]
    assert kinds(entities, "lamb shank for tea") == []
    assert kinds(entities, "my glue gun broke") == []
    assert kinds(entities, "county lines and ket everywhere") == [
        ("drug", "county lines"),
        ("drug", "ket"),
    ]
    assert kinds(entities, "selling coke and charlie round the back") == [
        ("drug", "coke"),
        ("drug", "charlie"),
    ]
    assert kinds(entities, "charlie wants a diet coke") == []
    assert kinds(entities, "smell of weed on the landing") == [("drug", "weed")]
    assert kinds(entities, "pulling up weeds in the garden") == []
    assert kinds(entities, "nos canisters all over the park") == [("drug", "nos canisters")]
    assert kinds(entities, "ar goll ers nos Sadwrn") == []  # Welsh "nos" = night


def test_hashtags_and_mentions(entities: EntityComponent) -> None:
    text = "#KnifeFree thanks @gmpolice and @ann@social.example.invalid, mail bob@example.com #1"
    assert kinds(entities, text) == [
        ("hashtag", "#KnifeFree"),
        ("mention", "@gmpolice"),
        ("mention", "@ann@social.example.invalid"),
    ]


def test_offsets_index_the_original_text_despite_zero_width_characters(
    entities: EntityComponent,
) -> None:
    text = (
        "\u200b\u200dsaw a ma\u200bchete, car AB12\u200b CDE, ring 07700\u200b 900123 #kn\u2060ife"
    )
    p = post(text)
    Pipeline([entities]).enrich([p])
    found = p.enrichment.entities
    assert [(e.type, e.text) for e in found] == [
        ("weapon", "machete"),
        ("vrm", "AB12 CDE"),
        ("phone", "07700 900123"),
        ("hashtag", "#knife"),
    ]
    for e in found:
        assert e.start is not None and e.end is not None
        assert strip_invisible(p.text[e.start : e.end]) == e.text
    machete = found[0]
    assert machete.start == text.index("ma\u200bchete")
    assert p.text[machete.start : machete.end] == "ma\u200bchete"
    # No invisible characters in the span: the original slice is the entity text.
    plain = post("knife at AB12 CDE")
    Pipeline([entities]).enrich([plain])
    assert all(plain.text[e.start : e.end] == e.text for e in plain.enrichment.entities)


def test_entities_replace_their_own_types_and_keep_others(entities: EntityComponent) -> None:
    p = post("knife on Deansgate")
    p.enrichment.entities = [Entity(type="GPE", text="Deansgate", start=9, end=18)]
    Pipeline([entities]).enrich([p])
    Pipeline([entities]).enrich([p])  # a second run does not duplicate
    assert [(e.type, e.text) for e in p.enrichment.entities] == [
        ("GPE", "Deansgate"),
        ("weapon", "knife"),
    ]


def test_entity_types_are_configurable() -> None:
    only = EntityComponent(types={"vrm"}, lexicons=[])
    assert [e.type for e in only.find("knife AB12 CDE #tag 07700 900123")] == ["vrm"]


# --------------------------------------------------------------------------- pipeline


def test_components_in_the_pipeline_record_their_versions(
    language: LanguageComponent, triage: TriageComponent, entities: EntityComponent
) -> None:
    for component in (language, triage, entities):
        assert isinstance(component, Component)
        assert component.costly is False
    posts = demo_posts(300, seed=9)
    pipeline = Pipeline([language, triage, entities])
    pipeline.enrich(posts)
    expected = {
        "language": LanguageComponent.version,
        "triage": TriageComponent.version,
        "entities": EntityComponent.version,
    }
    assert pipeline.versions == expected
    assert all(p.enrichment.models == expected for p in posts)
    assert {p.language for p in posts} <= {"en", "cy"}
    assert sum(e.type == "weapon" for p in posts for e in p.enrichment.entities) > 0
    for p in posts:
        for e in p.enrichment.entities:
            assert e.start is not None and e.end is not None
            assert strip_invisible(p.text[e.start : e.end]) == e.text


def test_language_and_entities_speed(
    language: LanguageComponent, entities: EntityComponent
) -> None:
    posts = demo_posts(2000, seed=13)
    docs = [NlpDoc.of(p) for p in posts]
    started = time.perf_counter()
    language(docs)
    entities(docs)
    rate = len(docs) / (time.perf_counter() - started)
    # Measured ~5,000 posts/s on one core; the target is 1,000. Loose, for slow CI.
    assert rate > 500, rate
