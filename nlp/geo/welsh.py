"""Welsh place names and their mutated forms, for the gazetteer.

Welsh changes the first consonant of a word after certain words, so Cardiff
(Caerdydd) is written "yng Nghaerdydd" (in Cardiff), "i Gaerdydd" (to
Cardiff) and "a Chaerdydd" (and Cardiff). A gazetteer that knows only
"Caerdydd" misses all three, and with them the force area of most Welsh
posts that name a town. The rules are the standard initial mutations:

- soft: p→b, t→d, c→g, b→f, d→dd, g→(dropped), m→f, ll→l, rh→r;
- nasal: p→mh, t→nh, c→ngh, b→m, d→n, g→ng;
- aspirate: p→ph, t→th, c→ch.

A nasal form is read only right after "yn", "yng" or "ym" (``WELSH_IN``), which
cause it before a place name in practice ("fy", my, also does: "fy Nghaerdydd"
is missed), so "Mae Colwyn yn..." ("Colwyn
is...") is not Colwyn Bay while "ym Mae Colwyn" is. Every other GeoNames place
in Wales gets its nasal form too ("ym Metws-y-Coed"): the place of an incident
is mostly given as "in <place>", and that context keeps the form from matching
anything in English text. A name written with the article ("Y Barri", "Y Fenni") also comes without
it after "i'r", "o'r" ("i'r Barri"). ``SKIP`` holds forms that are common
Welsh words; the gazetteer leaves out a form it already holds for another
place (``gazetteer._add_welsh_names``), and a test checks that no form is an
English word. The names themselves are in ``nlp/data/welsh_names.tsv``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

NAMES_FILE = Path(__file__).resolve().parent.parent / "data" / "welsh_names.tsv"

_SOFT = {"p": "b", "t": "d", "c": "g", "b": "f", "d": "dd", "g": "", "m": "f", "ll": "l", "rh": "r"}
_NASAL = {"p": "mh", "t": "nh", "c": "ngh", "b": "m", "d": "n", "g": "ng"}
_ASPIRATE = {"p": "ph", "t": "th", "c": "ch"}
# Digraphs that are letters of their own and never mutate as their first character.
_STABLE = ("ch", "ph", "th", "dd", "ff", "ng")
_ARTICLES = ("Y ", "Yr ")
# Forms that are common Welsh words: "waun" (moor) begins many place names ("Waun Fawr"),
# so "Y Waun" (Chirk) is read only with its article.
SKIP = frozenset({"waun"})


# "In" before a place name: "yn" becomes "yng" before ng- and "ym" before m-/mh-.
WELSH_IN = frozenset({"yn", "yng", "ym"})


def nasal(name: str) -> str | None:
    """The nasal form of ``name`` ("Betws-y-Coed" -> "Metws-y-Coed"), as written after
    "yn" (in), or None when its first letter does not mutate."""
    initial = _initial(name)
    if initial not in _NASAL:
        return None
    return _recase(_NASAL[initial] + name[len(initial) :], name)


@dataclass(frozen=True, slots=True)
class WelshName:
    welsh: str  # as written unmutated ("Caerdydd")
    english: str  # the gazetteer's name for the same place ("Cardiff")


def _initial(word: str) -> str:
    low = word.casefold()
    if low.startswith(_STABLE):
        return ""
    if low.startswith(("ll", "rh")):
        return low[:2]
    return low[:1]


def _recase(form: str, like: str) -> str:
    return form[:1].upper() + form[1:] if like[:1].isupper() else form


def mutations(name: str) -> list[str]:
    """The soft, nasal and aspirate forms of ``name`` (its first word mutates), deduplicated."""
    initial = _initial(name)
    rest = name[len(initial) :]
    out: list[str] = []
    for table in (_SOFT, _NASAL, _ASPIRATE):
        if initial in table:
            form = table[initial] + rest
            form = _recase(form, name) if form else form
            if form and form not in out and form != name:
                out.append(form)
    return out


def plain(name: str) -> str:
    """``Cwmbrân`` -> ``Cwmbran``: posts often drop the circumflex."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


def forms(name: str) -> Iterator[str]:
    """Every written form of a Welsh name that the gazetteer should read, the name first."""
    seen: set[str] = set()
    bases = [name]
    for article in _ARTICLES:
        if name.startswith(article):
            bases.append(name[len(article) :])  # "i'r Barri"
    candidates = [*bases, *mutations(name)] if not name.startswith(_ARTICLES) else bases
    for form in candidates:
        for written in (form, plain(form)):
            if written not in seen and written.casefold() not in SKIP:
                seen.add(written)
                yield written


@cache
def welsh_names(path: Path = NAMES_FILE) -> tuple[WelshName, ...]:
    rows: list[WelshName] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise ValueError(f"{path}:{number}: expected 'welsh<TAB>english', got {line!r}")
        rows.append(WelshName(parts[0].strip(), parts[1].strip()))
    return tuple(rows)
