"""CamelCase hashtags, read as the words they join ("#MossSideShooting").

One definition for the two readers: the geoparser looks for places among the
words, and the encoder's text normalisation spells them out, because the
WordPiece vocabulary cuts "#freegaza" into fragments but knows "free gaza".
"""

from __future__ import annotations

import re

# A hashtag with a lower-to-upper case change inside ("#SalfordStabbing"); all-lower
# and all-capital tags have no word boundaries to read, so they are left as written.
CAMEL_HASHTAG_RE = re.compile(r"(?<![\w#])#([A-Za-z][A-Za-z0-9]*[a-z][A-Z][A-Za-z0-9]*)")
CAMEL_WORD_RE = re.compile(r"[A-Z][a-z]+|[A-Z]+(?![a-z])|[a-z]+|[0-9]+")


def _spelled(match: re.Match[str]) -> str:
    return "#" + " ".join(CAMEL_WORD_RE.findall(match.group(1)))


def spell_out_hashtags(text: str) -> str:
    """'#FreeGaza now' -> '#Free Gaza now'; other text is unchanged."""
    return CAMEL_HASHTAG_RE.sub(_spelled, text) if "#" in text else text
