"""Triage: a fast keyword and gazetteer pass that decides what the costly models see.

:class:`TriageComponent` looks for configured AREAS (force names, their
handles, towns and districts) and TOPICS (crime and policing words, weapons,
drugs) in every post, stores the hits in ``doc.features["triage"]`` as
``{"areas": [...], "topics": [...], "terms": [...]}`` (first appearance order,
no repeats) and, when ``skip_unmatched`` is on (the default), marks a post that
matched nothing ``skip_costly`` so the encoder and NER pass leave it alone.

Matching (shared with :mod:`nlp.entities` through :class:`PhraseMatcher`):

* whole words and phrases, on ``doc.text`` (zero-width and bidi characters are
  already removed there, so "kn\\u200bife" is "knife");
* case, accents and hyphens ignored ("STABBED", "Cwmbrân" = "cwmbran",
  "anti-social" = "anti social" = "antisocial"), except names listed as
  capitalised-only;
* simple plurals of each term's last word (knife -> knives, burglary ->
  burglaries), generated from the lexicon, never guessed from the post;
* longest phrase first, so "zombie knife" is one hit and an excluded phrase
  ("glue gun", "New York") hides the shorter term inside it;
* hashtags: the tag's words ("#Leeds"), its CamelCase parts
  ("#StopKnifeCrime"), the whole tag against terms with spaces removed
  ("#knifecrime" = "knife crime") and, failing those, a term of at least
  ``affix_min`` letters at the start or end of the tag ("#knifeawareness",
  "#actionfraud");
* @mentions: the whole handle against area aliases ("@gmpolice").

No regex alternation is involved: a post is split into word tokens once and
walked through a token trie, a few dictionary look-ups per word, so the cost
does not grow with the size of the lexicons. Measured: see
docs/analysts/entities.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import yaml

from nlp.base import NlpDoc

LEXICON_DIR = Path(__file__).resolve().parent / "data" / "lexicons"

T = TypeVar("T")

# A word: letters and digits (combining accents kept inside the word); a tag:
# "#" or "@" and what follows, underscores included.
_TOKEN = re.compile(r"[#@][\w\u0300-\u036f]+|(?:[^\W_]|[\u0300-\u036f])+")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_PHRASE_WORD = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+")


def fold(text: str) -> str:
    """Lower case, without accents or compatibility forms (full-width letters, "Cwmbrân")."""
    text = text.casefold()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def phrase_words(phrase: str) -> tuple[str, ...]:
    """A lexicon phrase as folded words, split exactly as post text is."""
    return tuple(fold(w) for w in _PHRASE_WORD.findall(phrase))


def _capital(text: str, start: int) -> bool:
    """Whether the word at ``start`` (a hashtag's word after its "#") begins with a capital."""
    if text[start] == "#":
        start += 1
    return text[start : start + 1].isupper()


def plural_forms(word: str) -> list[str]:
    """Simple English plurals of a folded word; none for words ending in "s" or short ones."""
    if len(word) < 3 or not word.isalpha() or not word.isascii() or word.endswith("s"):
        return []
    if word.endswith(("x", "z", "ch", "sh")):
        return [word + "es"]
    if word.endswith("y") and word[-2] not in "aeiou":
        return [word[:-1] + "ies"]
    if word.endswith("fe"):
        return [word[:-2] + "ves", word + "s"]
    if word.endswith("f"):
        return [word[:-1] + "ves", word + "s"]
    return [word + "s"]


def _variants(phrase: str, plurals: bool) -> Iterator[tuple[str, ...]]:
    forms = {phrase}
    if "-" in phrase:
        forms.add(phrase.replace("-", ""))  # "anti-social" also as "antisocial"
    seen: set[tuple[str, ...]] = set()
    for form in forms:
        words = phrase_words(form)
        if not words:
            continue
        candidates = [words]
        if plurals:
            candidates += [(*words[:-1], p) for p in plural_forms(words[-1])]
        for cand in candidates:
            if cand not in seen:
                seen.add(cand)
                yield cand


class _Node(Generic[T]):
    __slots__ = ("capitalised", "excluded", "next", "plain")

    def __init__(self) -> None:
        self.next: dict[str, _Node[T]] = {}
        self.plain: list[T] = []  # values matched in any case
        self.capitalised: list[T] = []  # values matched only when written with a capital
        self.excluded = False  # a phrase that reports nothing but hides shorter ones


@dataclass(frozen=True, slots=True)
class Hit(Generic[T]):
    start: int  # character offsets into the text scanned
    end: int
    values: tuple[T, ...]
    via: str  # "word", "hashtag" or "mention"


class PhraseMatcher(Generic[T]):
    """Whole-word phrase matching over a token trie; values are whatever you attach."""

    def __init__(self, *, affix_min: int = 4) -> None:
        self._root: dict[str, _Node[T]] = {}
        self._joined: dict[str, _Node[T]] = {}  # "knifecrime" -> node of "knife crime"
        self.affix_min = affix_min
        self._max_joined = 0

    def add(
        self, phrase: str, value: T, *, plurals: bool = False, capitalised: bool = False
    ) -> None:
        for words in _variants(phrase, plurals):
            node = self._node(words)
            bucket = node.capitalised if capitalised else node.plain
            if value not in bucket:
                bucket.append(value)

    def exclude(self, phrase: str, *, plurals: bool = False) -> None:
        for words in _variants(phrase, plurals):
            self._node(words).excluded = True

    def _node(self, words: tuple[str, ...]) -> _Node[T]:
        level = self._root
        node: _Node[T] | None = None
        for word in words:
            node = level.get(word)
            if node is None:
                node = level[word] = _Node()
            level = node.next
        assert node is not None
        joined = "".join(words)
        self._joined.setdefault(joined, node)
        self._max_joined = max(self._max_joined, len(joined))
        return node

    def __len__(self) -> int:
        return len(self._joined)

    def scan(self, text: str, *, tags: bool = True) -> list[Hit[T]]:
        """All hits in ``text``, left to right; longest phrase wins, no overlaps.

        With ``tags=False`` hashtags and mentions are skipped (and break phrases).
        """
        ascii_text = text.isascii()
        source = text.lower() if ascii_text else text
        words: list[str | None] = []
        spans: list[tuple[int, int]] = []
        tag_at: list[int] = []  # indexes into words of hashtags and mentions
        for match in _TOKEN.finditer(source):
            token = match.group()
            first = token[0]
            if first == "#" or first == "@":
                if not tags:
                    words.append(None)
                    spans.append(match.span())
                    continue
                tag_at.append(len(words))
                if first == "@":  # a handle is not prose: never part of a phrase
                    words.append(None)
                    spans.append(match.span())
                    continue
                token = token[1:]
            words.append(token if ascii_text else fold(token))
            spans.append(match.span())
        hits = self._walk(words, spans, text, "word")
        if tag_at:
            covered = {h.start for h in hits}
            for index in tag_at:
                start, end = spans[index]
                if start in covered or start + 1 in covered:
                    continue
                hit = self._tag(text[start:end], start, end)
                if hit is not None:
                    hits.append(hit)
            hits.sort(key=lambda h: h.start)
        return hits

    def _walk(
        self,
        words: Sequence[str | None],
        spans: Sequence[tuple[int, int]],
        text: str,
        via: str,
        capital_ok: Sequence[bool] | None = None,
    ) -> list[Hit[T]]:
        hits: list[Hit[T]] = []
        root = self._root
        n = len(words)
        i = 0
        while i < n:
            word = words[i]
            node = root.get(word) if word is not None else None
            if node is None:
                i += 1
                continue
            best_end = -1
            best: tuple[T, ...] = ()
            j = i
            while True:
                if node.excluded:
                    best_end, best = j, ()
                elif node.plain or node.capitalised:
                    values = node.plain
                    if node.capitalised and (
                        capital_ok[i] if capital_ok is not None else _capital(text, spans[i][0])
                    ):
                        values = values + node.capitalised
                    if values:
                        best_end, best = j, tuple(values)
                j += 1
                if j >= n:
                    break
                nxt = words[j]
                following = node.next.get(nxt) if nxt is not None else None
                if following is None:
                    break
                node = following
            if best_end < 0:
                i += 1
                continue
            if best:
                hits.append(Hit(spans[i][0], spans[best_end][1], best, via))
            i = best_end + 1
        return hits

    def _tag(self, tag: str, start: int, end: int) -> Hit[T] | None:
        """Match inside one hashtag or mention (``tag`` includes its "#" or "@")."""
        body = tag[1:]
        via = "mention" if tag[0] == "@" else "hashtag"
        capital = body[:1].isupper()
        values: list[T] = []
        if via == "hashtag":
            parts = _CAMEL.findall(body)
            if len(parts) > 1:
                folded = [fold(p) for p in parts]
                caps = [p[:1].isupper() for p in parts]
                fake = [(start, end)] * len(parts)
                for hit in self._walk(folded, fake, tag, via, capital_ok=caps):
                    values.extend(v for v in hit.values if v not in values)
        key = fold(body).replace("_", "")
        node = self._joined.get(key)
        if node is not None and not node.excluded:
            for v in node.plain + (node.capitalised if capital else []):
                if v not in values:
                    values.append(v)
        if not values and via == "hashtag":
            for size in range(min(len(key) - 1, self._max_joined), self.affix_min - 1, -1):
                for piece in (key[:size], key[-size:]):
                    node = self._joined.get(piece)
                    if node is not None and not node.excluded and node.plain:
                        values.extend(v for v in node.plain if v not in values)
                if values:
                    break
        if not values:
            return None
        return Hit(start, end, tuple(values), via)


# --------------------------------------------------------------------------- lexicons


def _read_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ValueError(f"{where}: expected a list of words or phrases")
    return tuple(str(v).strip() for v in value if str(v).strip())


def _places(value: Any, where: str) -> list[tuple[str, ...]]:
    """Places: each a name, or a list of spellings reported as the first."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of places")
    out = []
    for item in value:
        spellings = _strings(item, where) if isinstance(item, list) else _strings([item], where)
        if spellings:
            out.append(spellings)
    return out


@dataclass(frozen=True)
class Gazetteer:
    """Areas: canonical name -> the spellings that find it."""

    names: Mapping[str, tuple[str, ...]]
    capitalised_only: frozenset[str] = frozenset()  # folded spellings needing a capital
    exclude: tuple[str, ...] = ()

    @classmethod
    def of(cls, areas: Iterable[str] | Mapping[str, Iterable[str]]) -> Gazetteer:
        """From a plain list of names, or a mapping of name -> aliases."""
        if isinstance(areas, Mapping):
            return cls({name: (name, *aliases) for name, aliases in areas.items()})
        return cls({name: (name,) for name in areas})


def with_welsh_forms(spellings: tuple[str, ...]) -> tuple[str, ...]:
    """``spellings`` plus the Welsh name of the place and its mutated forms, when the
    geoparser's Welsh table (``nlp/data/welsh_names.tsv``) knows one of them: [Bangor]
    also finds "ym Mangor", [Cardiff] "yng Nghaerdydd"."""
    from nlp.geo.welsh import forms, welsh_names

    given = {fold(s) for s in spellings}
    seen = set(given)
    extra: list[str] = []
    for row in welsh_names():
        if fold(row.welsh) in given or fold(row.english) in given:
            for form in forms(row.welsh):
                if fold(form) not in seen:  # matching ignores accents: "Cwmbrân" = "Cwmbran"
                    seen.add(fold(form))
                    extra.append(form)
    return (*spellings, *extra)


def load_areas(path: Path | str = LEXICON_DIR / "areas.yaml") -> Gazetteer:
    path = Path(path)
    data = _read_yaml(path)
    names: dict[str, tuple[str, ...]] = {}
    for i, force in enumerate(data.get("forces") or []):
        where = f"{path}: forces[{i}]"
        if not isinstance(force, dict) or not isinstance(force.get("name"), str):
            raise ValueError(f"{where}: needs a name")
        name = force["name"]
        names[name] = (name, *_strings(force.get("aliases"), where + ".aliases"))
        for place in _places(force.get("places"), where + ".places"):
            names.setdefault(place[0], with_welsh_forms(place))
    for place in _places(data.get("places"), f"{path}: places"):
        names.setdefault(place[0], with_welsh_forms(place))
    capitalised = frozenset(
        " ".join(phrase_words(p)) for p in _strings(data.get("capitalised_only"), str(path))
    )
    return Gazetteer(names, capitalised, _strings(data.get("exclude"), f"{path}: exclude"))


@dataclass(frozen=True)
class TermLexicon:
    """A list of terms of one kind (weapons, drugs): what entities and triage share."""

    entity_type: str
    terms: tuple[str, ...]
    ambiguous: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    topic: str | None = None
    plurals: bool = True
    source: str = ""


def load_term_lexicon(path: Path | str) -> TermLexicon:
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = LEXICON_DIR / path
    data = _read_yaml(path)
    entity_type = data.get("entity_type")
    if not isinstance(entity_type, str) or not entity_type:
        raise ValueError(f"{path}: needs entity_type")
    topic = data.get("topic")
    return TermLexicon(
        entity_type=entity_type,
        terms=_strings(data.get("terms"), f"{path}: terms"),
        ambiguous=_strings(data.get("ambiguous"), f"{path}: ambiguous"),
        context=_strings(data.get("context"), f"{path}: context"),
        exclude=_strings(data.get("exclude"), f"{path}: exclude"),
        topic=str(topic) if topic else None,
        plurals=bool(data.get("plurals", True)),
        source=str(path),
    )


@dataclass(frozen=True)
class Topics:
    """Triage topics: name -> terms, plus phrases that hide the terms inside them."""

    terms: Mapping[str, tuple[str, ...]]
    exclude: tuple[str, ...] = ()
    plurals: bool = True


def load_topics(path: Path | str = LEXICON_DIR / "topics.yaml") -> Topics:
    path = Path(path)
    data = _read_yaml(path)
    terms: dict[str, tuple[str, ...]] = {}
    for name, words in (data.get("topics") or {}).items():
        terms[str(name)] = _strings(words, f"{path}: topics.{name}")
    exclude = list(_strings(data.get("exclude"), f"{path}: exclude"))
    for include in _strings(data.get("include"), f"{path}: include"):
        lexicon = load_term_lexicon(path.parent / include)
        topic = lexicon.topic or lexicon.entity_type
        terms[topic] = terms.get(topic, ()) + lexicon.terms
        exclude.extend(lexicon.exclude)
    return Topics(terms, tuple(exclude), bool(data.get("plurals", True)))


# --------------------------------------------------------------------------- component


@dataclass(frozen=True, slots=True)
class _Area:
    name: str


@dataclass(frozen=True, slots=True)
class _Topic:
    name: str
    term: str


@dataclass
class TriageResult:
    areas: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"areas": self.areas, "topics": self.topics, "terms": self.terms}


class TriageComponent:
    """Areas and topics named in each post; marks posts naming neither ``skip_costly``."""

    name: ClassVar[str] = "triage"
    version: ClassVar[str] = "1.0.0"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[str, ...]] = ("features.triage",)
    costly: ClassVar[bool] = False

    def __init__(
        self,
        areas: Gazetteer | Iterable[str] | Mapping[str, Iterable[str]] | None = None,
        topics: Topics | Mapping[str, Iterable[str]] | None = None,
        *,
        skip_unmatched: bool = True,
        affix_min: int = 4,
    ) -> None:
        """``areas``: a :class:`Gazetteer`, a list of place names or a mapping of name ->
        aliases (default: ``areas.yaml``). ``topics``: :class:`Topics` or a mapping of
        topic -> terms (default: ``topics.yaml`` with the weapons and drugs lexicons)."""
        if areas is None:
            gazetteer = load_areas()
        elif isinstance(areas, Gazetteer):
            gazetteer = areas
        else:
            gazetteer = Gazetteer.of(areas)
        if topics is None:
            topic_set = load_topics()
        elif isinstance(topics, Topics):
            topic_set = topics
        else:
            topic_set = Topics({k: tuple(v) for k, v in topics.items()})
        self.skip_unmatched = skip_unmatched
        self.matcher: PhraseMatcher[_Area | _Topic] = PhraseMatcher(affix_min=affix_min)
        for name, spellings in gazetteer.names.items():
            area = _Area(name)
            for spelling in spellings:
                capital = " ".join(phrase_words(spelling)) in gazetteer.capitalised_only
                self.matcher.add(spelling, area, capitalised=capital)
        for topic, terms in topic_set.terms.items():
            for term in terms:
                self.matcher.add(term, _Topic(topic, term), plurals=topic_set.plurals)
        for phrase in (*gazetteer.exclude, *topic_set.exclude):
            self.matcher.exclude(phrase, plurals=True)

    def triage(self, text: str) -> TriageResult:
        result = TriageResult()
        for hit in self.matcher.scan(text):
            for value in hit.values:
                if isinstance(value, _Area):
                    if value.name not in result.areas:
                        result.areas.append(value.name)
                else:
                    if value.name not in result.topics:
                        result.topics.append(value.name)
                    if value.term not in result.terms:
                        result.terms.append(value.term)
        return result

    def __call__(self, docs: list[NlpDoc]) -> None:
        triage = self.triage
        skip = self.skip_unmatched
        for doc in docs:
            result = triage(doc.text)
            doc.features["triage"] = result.as_dict()
            if skip and not (result.areas or result.topics):
                doc.skip_costly = True
