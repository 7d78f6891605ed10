"""Thematic filtering for streams that carry a whole network (the Bluesky firehose).

Monitoring is thematic (docs/lawful-use.md): a force follows places, topics
and keywords, not everyone. A stream that delivers every public post is
therefore cut down, before anything is spooled, to posts that mention one of
the configured terms. Terms match whole words or phrases, case-insensitively
(``knife`` matches "Knife crime", not "knifed"); ``#tag`` and ``@handle`` terms
match as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence


class ThemeFilter:
    def __init__(self, terms: Sequence[str]) -> None:
        cleaned = sorted({t.strip() for t in terms if t.strip()}, key=len, reverse=True)
        self.terms = cleaned
        alternatives = "|".join(re.escape(t) for t in cleaned)
        # word boundaries that also work when a term starts with # or @
        self._pattern = re.compile(rf"(?<![\w#@])(?:{alternatives})(?!\w)", re.IGNORECASE)

    def __call__(self, text: str) -> bool:
        return bool(self.terms) and self._pattern.search(text) is not None
