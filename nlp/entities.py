"""Rule-based entities: vehicle registrations, phone numbers, weapons, drugs, tags.

:class:`EntityComponent` appends to ``post.enrichment.entities``
(``Entity(type, text, start, end)``) with these types:

=================  ===========================================================
``vrm``            UK vehicle registration mark: current (AB12 CDE), prefix
                   (A123 BCD), suffix (ABC 123D), dateless (ABC 123, 1234 AB)
``phone``          UK phone number: 07 mobiles, 01/02/03 landlines, 08
                   freephone and non-geographic, in national or +44 form
``service_number`` 999, 112, 101, 111, 105, 119, 116 123, 116 000
``weapon``         a term from ``weapons.yaml``
``drug``           a term from ``drugs.yaml``
``hashtag``        ``#tag`` as written
``mention``        ``@handle`` as written (Mastodon ``@user@host`` included)
=================  ===========================================================

Offsets: matching runs on ``doc.text`` (the post's text with zero-width and
bidi characters removed, so "kn\\u200bife" is found), and ``start``/``end`` are
then mapped back to character offsets into the post's ORIGINAL ``post.text``.
``text`` is the matched text without the invisible characters, so
``strip_invisible(post.text[start:end]) == text`` always holds (and
``post.text[start:end] == text`` whenever the span has none).

Re-running the component replaces the entities of the types it produces and
leaves other components' entities (e.g. spaCy's) alone. Patterns, known false
positives and negatives, and how to edit the lexicons:
docs/analysts/entities.md.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from bluelamp.post import Entity
from nlp.base import NlpDoc
from nlp.triage import LEXICON_DIR, PhraseMatcher, TermLexicon, load_term_lexicon

ALL_TYPES: tuple[str, ...] = (
    "vrm",
    "phone",
    "service_number",
    "hashtag",
    "mention",
    "weapon",
    "drug",
)
DEFAULT_LEXICONS: tuple[Path, ...] = (LEXICON_DIR / "weapons.yaml", LEXICON_DIR / "drugs.yaml")

# --------------------------------------------------------------------------- patterns

_NOT_BEFORE = r"(?<![\w#@/.+£$€-])"  # not glued to a word, a tag, a path or a number
_NOT_AFTER = r"(?![\w£$€%])"

# Vehicle registration marks. Letters never used: I and Q anywhere; Z in the
# current format's first two letters; O, U, Z in the prefix/suffix year letter.
_AGE = r"(?:0[2-9]|[1-2][0-9]|5[1-9]|[6-7][0-9])"  # 02 (2002) .. 79 (2029)
_VRM_CURRENT = re.compile(
    _NOT_BEFORE + rf"(?P<a>[A-HJ-PR-Y]{{2}}{_AGE})(?P<sep> ?)(?P<b>[A-HJ-PR-Z]{{3}})" + _NOT_AFTER,
    re.IGNORECASE,
)
_VRM_PREFIX = re.compile(
    _NOT_BEFORE
    + r"(?P<a>[A-HJ-NPR-TV-Y][1-9][0-9]{0,2})(?P<sep> ?)(?P<b>[A-HJ-PR-Z]{3})"
    + _NOT_AFTER,
    re.IGNORECASE,
)
_VRM_SUFFIX = re.compile(
    _NOT_BEFORE
    + r"(?P<b>[A-HJ-PR-Z]{3})(?P<sep> ?)(?P<a>[1-9][0-9]{0,2}[A-HJ-NPR-TV-Y])"
    + _NOT_AFTER,
    re.IGNORECASE,
)
_VRM_DATELESS = re.compile(
    _NOT_BEFORE
    + r"(?:(?P<b>[A-Z]{1,3})(?P<sep> ?)(?P<a>[1-9][0-9]{0,3})"
    + r"|(?P<a2>[1-9][0-9]{0,3})(?P<sep2> ?)(?P<b2>[A-Z]{1,3}))"
    + _NOT_AFTER
)  # capitals only, and only right after a plate word
_PLATE = r"(?:reg|regs|registration|plate|plates|numberplate|vrm|anpr|dvla)"
# A plate word just before a dateless mark: "reg ABC 123", "plate was 1234 AB".
_PLATE_BEFORE = re.compile(
    rf"\b{_PLATE}\b(?:[\s:.#-]+(?:no|number|plate|was|is|of|starting|starts|with|like))*"
    r"[\s:.#-]*$",
    re.IGNORECASE,
)
_PLATE_CONTEXT = re.compile(rf"\b{_PLATE}\b", re.IGNORECASE)
_VEHICLE_CONTEXT = re.compile(
    r"\b(?:car|cars|van|vans|vehicle|motor|"
    r"motorbike|moped|scooter|bike|lorry|truck|taxi|cab|bus|transit|hatchback|estate|suv|"
    r"audi|bmw|merc|mercedes|golf|vw|volkswagen|corsa|fiesta|ford|vauxhall|toyota|nissan|"
    r"honda|range rover|land rover|kia|hyundai|peugeot|renault|seat|skoda|tesla|mini|"
    r"driver|driving|drove|driven|parked|speeding|dashcam|anpr|dvla)\b",
    re.IGNORECASE,
)
# Three-letter words that make a spaced mark ("A470 NOW", "the a1 and") too doubtful
# unless the post says reg, plate or registration.
_COMMON_WORDS_TEXT = """
    ago age all and any are bad bed big box boy bus but can car cut dad day did end etc eye far
    few fix for fun get got guy had has her him his hit hot how its job kid law lay led let lie
    lol lot low man map may men mum nan new not now off old omg one our out own pay per put red
    run sad say see set she sit six son sun tax ten the too top try two use van via war was way
    who why win won wtf yes yet you
"""
_COMMON_WORDS = frozenset(_COMMON_WORDS_TEXT.split())
_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}", re.IGNORECASE)

# Phone numbers: a national (0...) or international (+44 / 0044, optional "(0)")
# prefix, then 9 or 10 digits with single spaces, dots or dashes between them.
_PHONE = re.compile(
    r"(?<![\w+/=.£$€-])"
    r"(?P<prefix>(?:\+|00)44[ .-]?(?:\(0\)[ .-]?)?|\(0|0)"
    r"(?P<rest>[1-378](?:\)?[ .-]?[0-9]){8,9})"
    r"(?![ .-]?[0-9])(?!\w)"
)
_SERVICE = re.compile(
    r"(?<![\w£$€#@/.,:+-])(?P<num>999|112|101|111|105|119|116[ -]?123|116[ -]?000)"
    r"(?![\w£$€%]|[.,:/-][0-9])"
)
_CALL_CONTEXT = re.compile(
    r"\b(?:call|calls|called|calling|ring|rang|rung|ringing|phone|phoned|phoning|dial|dialled|"
    r"dialling|text|texted|contact|report|reported|reporting|quote|quoting|log|hold|police|nhs|"
    r"emergency|ambulance|fire|helpline|number|line|samaritans|missing people|power cut|"
    r"ffoniwch|ffonio|ffonio|galw)\b",
    re.IGNORECASE,
)
_HASHTAG = re.compile(r"(?<![\w&/#@])#(?=[\w\u0300-\u036f]*[^\W\d_])[\w\u0300-\u036f]+")
_MENTION = re.compile(
    r"(?<![\w@/.])@[A-Za-z0-9_]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|(?:\.[A-Za-z0-9-]+)+)?"
)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_DIGIT = re.compile(r"[0-9]")

# Which entity wins when two overlap (lower is stronger).
_PRIORITY = {"phone": 0, "service_number": 1, "vrm": 2, "mention": 3, "hashtag": 4}


@dataclass(frozen=True, slots=True)
class _Term:
    entity_type: str
    ambiguous: bool


@dataclass(frozen=True, slots=True)
class _Context:
    entity_type: str


def _offset_map(original: str, clean: str) -> list[int] | None:
    """Index into ``original`` of each character of ``clean``, which must be
    ``original`` with characters deleted; None if identical. Raises ValueError
    if ``clean`` is not such a subsequence."""
    if original == clean:
        return None
    mapping: list[int] = []
    find = original.find
    j = 0
    for ch in clean:
        j = find(ch, j)
        if j < 0:
            raise ValueError("text is not the post's text with characters removed")
        mapping.append(j)
        j += 1
    return mapping


class EntityComponent:
    """Finds registrations, phone and service numbers, weapons, drugs, hashtags, mentions."""

    name: ClassVar[str] = "entities"
    version: ClassVar[str] = "1.0.0"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[str, ...]] = ("enrichment.entities",)
    costly: ClassVar[bool] = False

    def __init__(
        self,
        *,
        lexicons: Sequence[TermLexicon | Path | str] = DEFAULT_LEXICONS,
        types: Collection[str] | None = None,
    ) -> None:
        """``lexicons``: term lexicons (YAML paths or :class:`TermLexicon`), one entity
        type each (default: weapons.yaml, drugs.yaml). ``types``: which entity types
        to produce (default: every built-in type and every lexicon's type)."""
        loaded = [
            lex if isinstance(lex, TermLexicon) else load_term_lexicon(lex) for lex in lexicons
        ]
        self.lexicons = loaded
        lexicon_types = [lex.entity_type for lex in loaded]
        self.types = frozenset(types if types is not None else (*ALL_TYPES, *lexicon_types))
        self.matcher: PhraseMatcher[_Term | _Context] = PhraseMatcher()
        for lex in loaded:
            if lex.entity_type not in self.types:
                continue
            for term in lex.terms:
                self.matcher.add(term, _Term(lex.entity_type, False), plurals=lex.plurals)
            for term in lex.ambiguous:
                self.matcher.add(term, _Term(lex.entity_type, True), plurals=lex.plurals)
            for word in lex.context:
                self.matcher.add(word, _Context(lex.entity_type))
            for phrase in lex.exclude:
                self.matcher.exclude(phrase, plurals=lex.plurals)
        self._produced = self.types

    # ------------------------------------------------------------------ finders

    def find(self, text: str) -> list[Entity]:
        """Entities in ``text`` with offsets into ``text``, sorted by start."""
        found: list[tuple[str, int, int]] = []
        types = self.types
        has_digit = _DIGIT.search(text) is not None
        if has_digit:
            if "phone" in types:
                found.extend(self._phones(text))
            if "service_number" in types:
                found.extend(self._services(text))
            if "vrm" in types:
                found.extend(self._vrms(text))
        if "#" in text and "hashtag" in types:
            found.extend(("hashtag", m.start(), m.end()) for m in _HASHTAG.finditer(text))
        if "@" in text and "mention" in types:
            found.extend(("mention", m.start(), m.end()) for m in _MENTION.finditer(text))
        found = self._resolve(found)
        found.extend(self._terms(text))
        if found and ("http" in text or "www." in text):
            urls = [m.span() for m in _URL.finditer(text)]
            found = [f for f in found if not any(s <= f[1] < e for s, e in urls)]
        found.sort(key=lambda f: (f[1], f[2]))
        return [Entity(type=t, text=text[s:e], start=s, end=e) for t, s, e in found]

    @staticmethod
    def _resolve(found: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        """Drop the weaker of any two overlapping pattern entities."""
        if len(found) < 2:
            return found
        found.sort(key=lambda f: (_PRIORITY[f[0]], f[1]))
        kept: list[tuple[str, int, int]] = []
        for entity in found:
            if all(entity[2] <= k[1] or entity[1] >= k[2] for k in kept):
                kept.append(entity)
        return kept

    @staticmethod
    def _phones(text: str) -> Iterable[tuple[str, int, int]]:
        for m in _PHONE.finditer(text):
            digits = re.sub(r"[^0-9]", "", m.group("rest"))
            first = digits[0]
            if len(digits) == 10:
                if first == "7" and digits[1] == "0":  # 070 personal numbers: not phones
                    continue
            elif not (len(digits) == 9 and first in "18"):  # 01xxx xxxx, 0800 xxxxxx
                continue
            if len(set(digits)) == 1:
                continue
            yield "phone", m.start(), m.end()

    @staticmethod
    def _services(text: str) -> Iterable[tuple[str, int, int]]:
        for m in _SERVICE.finditer(text):
            start, end = m.span()
            window = text[max(0, start - 40) : start] + " " + text[end : end + 30]
            if _CALL_CONTEXT.search(window):
                yield "service_number", start, end

    @staticmethod
    def _vrms(text: str) -> Iterable[tuple[str, int, int]]:
        plate = _PLATE_CONTEXT.search(text) is not None
        vehicle: bool | None = None  # computed on first need

        def has_vehicle() -> bool:
            nonlocal vehicle
            if vehicle is None:
                vehicle = plate or _VEHICLE_CONTEXT.search(text) is not None
            return vehicle

        seen: list[tuple[int, int]] = []
        for kind, pattern in (
            ("current", _VRM_CURRENT),
            ("prefix", _VRM_PREFIX),
            ("suffix", _VRM_SUFFIX),
        ):
            for m in pattern.finditer(text):
                start, end = m.span()
                if any(start < e and s < end for s, e in seen):
                    continue
                value = m.group()
                if _POSTCODE.fullmatch(value):
                    continue
                letters = m.group("b")
                upper = value.isupper()  # letters all capitals
                spaced = bool(m.group("sep"))
                if spaced and letters.casefold() in _COMMON_WORDS:
                    ok = plate  # "the a1 and", "A470 NOW": only when the post says reg/plate
                elif kind == "current":
                    ok = True
                elif kind == "prefix":  # "a1 bcd" in lower case with a space: needs a vehicle
                    ok = upper or not spaced or has_vehicle()
                else:  # suffix "abc 123d" in lower case looks like user names and codes
                    ok = upper or has_vehicle()
                if ok:
                    seen.append((start, end))
                    yield "vrm", start, end
        if plate:
            for m in _VRM_DATELESS.finditer(text):
                start, end = m.span()
                if any(start < e and s < end for s, e in seen):
                    continue
                if _POSTCODE.fullmatch(m.group()):
                    continue
                if not _PLATE_BEFORE.search(text[max(0, start - 40) : start]):
                    continue
                seen.append((start, end))
                yield "vrm", start, end

    def _terms(self, text: str) -> list[tuple[str, int, int]]:
        hits = self.matcher.scan(text, tags=False)
        if not hits:
            return []
        context = {v.entity_type for h in hits for v in h.values if isinstance(v, _Context)}
        out: list[tuple[str, int, int]] = []
        for hit in hits:
            for value in hit.values:
                if isinstance(value, _Term) and (
                    not value.ambiguous or value.entity_type in context
                ):
                    out.append((value.entity_type, hit.start, hit.end))
                    break
        return out

    # ------------------------------------------------------------------ component

    def entities_for(self, doc: NlpDoc) -> list[Entity]:
        """Entities of ``doc`` with offsets into ``doc.post.text`` (see module doc)."""
        original = doc.post.text
        try:
            mapping = _offset_map(original, doc.text)
            text = doc.text
        except ValueError:  # doc.text was rewritten, not just cleaned: use the post's own
            mapping, text = None, original
        entities = self.find(text)
        if mapping is not None:
            for entity in entities:
                assert entity.start is not None and entity.end is not None
                entity.start, entity.end = mapping[entity.start], mapping[entity.end - 1] + 1
        return entities

    def __call__(self, docs: list[NlpDoc]) -> None:
        produced = self._produced
        for doc in docs:
            found = self.entities_for(doc)
            enrichment = doc.post.enrichment
            kept = [e for e in enrichment.entities if e.type not in produced]
            enrichment.entities = kept + found
