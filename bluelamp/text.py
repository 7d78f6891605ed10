"""Making hostile post text safe to *show* (escaping is the renderer's job).

Removes what can mislead a reader or a terminal: control characters (ANSI
escapes), bidirectional overrides and zero-width characters; folds
whitespace; and caps the length.
"""

from __future__ import annotations

import re

_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SPACE = re.compile(r"\s+")


def strip_invisible(text: str) -> str:
    return _INVISIBLE.sub("", text)


def display_text(text: str, limit: int = 500) -> str:
    clean = _SPACE.sub(" ", strip_invisible(text)).strip()
    return clean if len(clean) <= limit else clean[: limit - 1].rstrip() + "…"
