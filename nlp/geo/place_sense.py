"""Is this mention of a place name meant as a place? A small learned check.

The gazetteer and the NER find names; whether a post means the place or something named
after it depends on the words around it. "England" in "England beat Wales in the
qualifier" is a team, in "moving back to England" a country; "Chelsea" after "stabbing
in" is the district, in "Chelsea were awful" the club. Hand rules for this (a
national-team rule, tried on 2026-11-29) helped on UK tweets and hurt on the Broad
Twitter Corpus, which labels teams both ways. This module scores each candidate span
with a logistic regression over a few context features, trained on both
(``nlp.training.train_place_sense``; its card, weights and cut-off are in
``nlp/data/place_sense.json``), and the geoparser drops a span scoring below the
cut-off.

Run time needs only this file and the JSON: no scikit-learn. Features read at most
``WINDOW`` characters either side of the span, so a huge post costs no more per span.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MODEL_FILE = Path(__file__).resolve().parents[1] / "data" / "place_sense.json"
WINDOW = 280  # characters of context read either side of a span (one tweet's worth)

# Words that make a post about a match: a country or town name in it is then often the
# team. Chosen by what sports posts say, before training; the weights decide how much.
# Words as common in local and policing posts are left out: "play", "half", "won",
# "game", "final" ("kids play there", "around half 4", "police won't say"), "team"
# ("the neighbourhood team"), "beat" ("on the beat"), "coach", "cup", "penalty", and
# "derby" (the city).
SPORT_RE = re.compile(
    r"\b(?:vs?|match|squad|goals?|fans|scored|rugby|cricket|football|footy|odi|qualifier|"
    r"euros|kick ?off|fixture|semi-final|u21s?|fc|afc|innings|wicket|premiership|"
    r"premier league|world cup|fa cup|[0-9] ?- ?[0-9])\b",
    re.IGNORECASE,
)
# Words that make a name right next to them a team ("Wales win", "beat Hull", "the Leeds
# game"), though anywhere else in a post they say nothing about sport.
NEXT_TO_TEAM = frozenset(
    {
        "play", "plays", "played", "playing", "win", "wins", "won", "beat", "beats",
        "lose", "loses", "lost", "draw", "drew", "team", "game", "side", "against",
        "performance",
    }
)  # fmt: skip
# Words before a name that say "the place": "in Leeds", "moved to Wales".
PLACE_PREPOSITIONS = frozenset(
    {
        "in", "at", "to", "from", "near", "across", "around", "into", "visit", "via",
        "of", "throughout", "over", "outside", "inside", "round", "off",
    }
)  # fmt: skip
_WORD_RE = re.compile(r"[#@]?\w[\w'.-]*|\S")
_SENTENCE_END = frozenset({".", "!", "?", ":"})


def _window(text: str, start: int, end: int) -> tuple[int, int]:
    """At most ``WINDOW`` characters either side of the span, never ending inside a word:
    ``re`` treats the end of a search as the end of the string, so "very" cut to "v" or
    "matches" cut to "match" would read as sport words."""
    lo, hi = max(0, start - WINDOW), min(len(text), end + WINDOW)
    if hi < len(text) and text[hi].isalnum():
        while hi > end and text[hi - 1].isalnum():
            hi -= 1
    return lo, hi


def _neighbours(text: str, start: int, end: int) -> tuple[list[str], list[str]]:
    """Up to two words before the span and one after it."""
    left = _WORD_RE.findall(text[max(0, start - WINDOW) : start])[-2:]
    right = _WORD_RE.findall(text[end : end + WINDOW])[:1]
    return left, right


def in_sport_context(text: str, start: int, end: int) -> bool:
    """Whether the span is in a post about a match, or right next to a word that makes it
    a team: the only spans the check judges. Elsewhere a name is left to the rules (local
    posts say "kids play there", "#Leeds" at the end, "round aberdeen", which the
    training data rarely has)."""
    lo, hi = _window(text, start, end)
    if SPORT_RE.search(text, lo, hi):
        return True
    left, right = _neighbours(text, start, end)
    return any(w.lower() in NEXT_TO_TEAM for w in (*left[-1:], *right))


def features(text: str, start: int, end: int) -> dict[str, float]:
    """The features of the span ``text[start:end]``: the name itself, its neighbouring
    words and its form (hashtag, capitals, sentence start). The same function builds the
    training rows and scores at run time."""
    span = text[start:end]
    name = span.lower()
    left, right = _neighbours(text, start, end)
    before = left[-1].lower() if left else "<s>"
    after = right[0].lower() if right else "</s>"
    out = {"bias": 1.0, f"w={name}": 1.0, f"prev={before}": 1.0, f"next={after}": 1.0}
    if len(left) > 1:
        out[f"prev2={left[-2].lower()}"] = 1.0
    if before in PLACE_PREPOSITIONS:
        out["after_prep"] = 1.0
    if start > 0 and text[start - 1] == "#":
        out["hashtag"] = 1.0
    if span.isupper():
        out["caps"] = 1.0
    if not left or left[-1] in _SENTENCE_END:
        out["initial"] = 1.0
    if len(span.split()) > 1:
        out["multi"] = 1.0
    if SPORT_RE.search(f"{before} {after}") or {before, after} & NEXT_TO_TEAM:
        out["sport_near"] = 1.0
    return out


@dataclass(frozen=True)
class PlaceSense:
    """Weights and cut-off of the trained check (see ``nlp/data/place_sense.json``)."""

    weights: dict[str, float]
    threshold: float
    version: str

    def probability(self, text: str, start: int, end: int) -> float:
        """How likely the span is meant as a place (0-1)."""
        score = sum(self.weights.get(k, 0.0) * v for k, v in features(text, start, end).items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, score))))

    def is_place(self, text: str, start: int, end: int) -> bool:
        """False only for a span in a post about a match that scores below the cut-off."""
        if not in_sport_context(text, start, end):
            return True
        return self.probability(text, start, end) >= self.threshold


def version_of(weights: dict[str, float], threshold: float) -> str:
    """``place_sense.<first 8 hex of the sha256 of the weights and cut-off>``: changes
    whenever they do, and not when only the card's date or notes do."""
    blob = json.dumps({"weights": weights, "threshold": threshold}, sort_keys=True)
    return f"place_sense.{hashlib.sha256(blob.encode()).hexdigest()[:8]}"


@cache
def load_place_sense(path: Path = MODEL_FILE) -> PlaceSense | None:
    """The trained check, or None when its file is absent (the geoparser then keeps every
    span its rules keep)."""
    if not path.is_file():
        return None
    card = json.loads(path.read_text(encoding="utf-8"))
    weights = {str(k): float(v) for k, v in card["weights"].items()}
    threshold = float(card["threshold"])
    return PlaceSense(weights, threshold, version_of(weights, threshold))
