"""Language identification: ``post.language`` from the text, with py3langid.

The detector (py3langid 0.4, a Naive Bayes model over byte n-grams, 140
languages, CPU only, no downloads) is restricted to the languages a UK force
meets most: English, Welsh and the common community languages. Restricting
it matters: unrestricted, short Welsh posts come back as Breton, Irish or
Latin.

The rule, applied in this order to each post:

1. **Too short to tell.** Fewer than ``min_words`` different words (default
   3; a word is two or more letters) once links and @mentions are removed:
   keep the platform-declared language, or ``None`` when there is none. Two
   words of anything, or "ha ha ha ha", are a guess.
2. **Declared language outside the configured set** (e.g. ``ja``): keep it.
   The restricted detector cannot say "Japanese", so it cannot contradict it.
3. **Confident** (probability >= ``min_confidence``, default 0.90): the
   detected language wins, even over a declared one (platforms often declare
   the user's interface language, not the post's). A declared tag with the
   same primary language is kept as it was (``en-GB`` stays ``en-GB``).
4. **Unsure** (below ``min_confidence``): keep the declared language when there
   is one; otherwise take the detector's best guess if its probability is at
   least ``guess_confidence`` (default 0.70), else ``None``.

Every decision is also left for later components in
``doc.features["language"]``: ``{"detected", "confidence", "declared",
"rule"}`` where rule is one of ``short``, ``declared_unknown``,
``detected``, ``declared``, ``guess``, ``none``.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterable
from importlib import metadata
from typing import Any, ClassVar

from nlp.base import NlpDoc

#: English, Welsh, and languages widely spoken in UK communities (ONS census 2021
#: main languages other than English, plus Somali, Bengali and Gujarati).
DEFAULT_LANGUAGES: tuple[str, ...] = (
    "en",
    "cy",
    "pl",
    "ur",
    "pa",
    "ar",
    "ro",
    "es",
    "fr",
    "pt",
    "so",
    "bn",
    "gu",
    "tr",
    "it",
    "de",
    "lt",
    "ta",
    "zh",
    "gd",
    "ga",
)

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@[\w.@-]+")
# A word: a letter, then anything but spaces, digits and ASCII punctuation (so the
# vowel signs of Gurmukhi or Bengali stay inside their word).
_WORD = re.compile(r"[^\W\d_][^\s\d!-/:-@\[-`{-~]*")


def _library_version() -> str:
    try:
        return metadata.version("py3langid")
    except metadata.PackageNotFoundError:  # pragma: no cover - reported on first use
        return "missing"


_MODEL_LOCK = threading.Lock()
_FULL: Any = None  # the unrestricted identifier, loaded once per process (~2 s)
_IDENTIFIERS: dict[frozenset[str], Any] = {}


def _identifier(languages: frozenset[str]) -> Any:
    """A py3langid identifier restricted to ``languages``, sharing one loaded model."""
    global _FULL
    with _MODEL_LOCK:
        found = _IDENTIFIERS.get(languages)
        if found is not None:
            return found
        if _FULL is None:
            try:
                from py3langid.langid import (
                    MODEL_FILE,
                    LanguageIdentifier,
                )
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise RuntimeError(
                    "the language component needs py3langid (pip install py3langid==0.4.0)"
                ) from exc
            _FULL = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        unknown = languages - set(_FULL.nb_classes)
        if unknown:
            raise ValueError(f"py3langid does not know language code(s) {sorted(unknown)}")
        # A shallow copy shares the model's arrays; set_languages only rebinds the
        # copy's own attributes to slices, so the shared full model is untouched.
        identifier = copy.copy(_FULL)
        identifier.set_languages(sorted(languages))
        _IDENTIFIERS[languages] = identifier
        return identifier


def detection_text(text: str) -> str:
    """The text the detector sees: no links or @mentions, hashtags as words."""
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    return text.replace("#", " ")


def word_count(text: str) -> int:
    """Different words of two or more characters (any case) in ``text``."""
    return len({w.casefold() for w in _WORD.findall(text) if len(w) > 1})


# ISO 639-2/3 codes some exports use for the languages the models care about.
_THREE_LETTER = {"eng": "en", "cym": "cy", "wel": "cy"}


def primary_language(tag: str | None) -> str | None:
    """``en-GB`` -> ``en``, ``eng`` -> ``en``; ``None`` for no tag or a tag that names no
    language (``und``)."""
    if not tag:
        return None
    primary = tag.split("-", 1)[0].casefold()
    primary = _THREE_LETTER.get(primary, primary)
    return None if primary in ("", "und", "zxx", "mul") else primary


class LanguageComponent:
    """Sets ``post.language`` (ISO 639-1 code) from the text; see the module doc."""

    name: ClassVar[str] = "language"
    version: ClassVar[str] = f"1.0.0+py3langid.{_library_version()}"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[str, ...]] = ("language",)
    costly: ClassVar[bool] = False

    def __init__(
        self,
        languages: Iterable[str] = DEFAULT_LANGUAGES,
        *,
        min_confidence: float = 0.90,
        guess_confidence: float = 0.70,
        min_words: int = 3,
    ) -> None:
        self.languages = frozenset(code.casefold() for code in languages)
        if not self.languages:
            raise ValueError("languages must name at least one language")
        if not 0.0 <= guess_confidence <= min_confidence <= 1.0:
            raise ValueError("need 0 <= guess_confidence <= min_confidence <= 1")
        self.min_confidence = min_confidence
        self.guess_confidence = guess_confidence
        self.min_words = min_words
        self._identifier: Any = None

    def detect(self, text: str) -> tuple[str, float]:
        """The detector alone: best language in the configured set and its probability."""
        if self._identifier is None:
            self._identifier = _identifier(self.languages)
        lang, prob = self._identifier.classify(text)
        return str(lang), float(prob)

    def __call__(self, docs: list[NlpDoc]) -> None:
        for doc in docs:
            post = doc.post
            declared = post.language
            declared_primary = primary_language(declared)
            if declared_primary is None:
                declared = None
            clean = detection_text(doc.text)
            detected: str | None = None
            confidence: float | None = None
            if word_count(clean) < self.min_words:
                rule, result = "short", declared
            elif declared_primary is not None and declared_primary not in self.languages:
                rule, result = "declared_unknown", declared
            else:
                detected, confidence = self.detect(clean)
                if confidence >= self.min_confidence:
                    rule = "detected"
                    result = declared if declared_primary == detected else detected
                elif declared is not None:
                    rule, result = "declared", declared
                elif confidence >= self.guess_confidence:
                    rule, result = "guess", detected
                else:
                    rule, result = "none", None
            post.language = result
            doc.features["language"] = {
                "detected": detected,
                "confidence": confidence,
                "declared": declared,
                "rule": rule,
            }
