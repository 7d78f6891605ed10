"""The one Post schema every platform normalises into.

A post's id is ``"<platform>:<native id>"``, so the same post collected twice
(or by two sources) has one id and is indexed once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

MAX_TEXT_CHARS = 100_000  # longer than any platform allows; bigger payloads are hostile
PLATFORM_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
_NATIVE_ID = re.compile(r"^[^\s\x00-\x1f]{1,256}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=False)


class Author(_Strict):
    id: str | None = None
    handle: str | None = Field(None, max_length=256)
    display_name: str | None = Field(None, max_length=512)
    # The free-text location on the author's profile (X has one). Kept with the post for
    # the geoparser, which weighs it below the text and geotag; not indexed for search.
    location: str | None = Field(None, max_length=512)


class PostRef(_Strict):
    kind: Literal["reply", "quote", "repost"]
    id: str
    url: str | None = None


class Media(_Strict):
    url: str
    type: Literal["image", "video", "gif", "audio", "other"] = "other"
    alt_text: str | None = Field(None, max_length=5_000)


class GeoPoint(_Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Engagement(_Strict):
    replies: int | None = Field(None, ge=0)
    reposts: int | None = Field(None, ge=0)
    likes: int | None = Field(None, ge=0)
    quotes: int | None = Field(None, ge=0)
    views: int | None = Field(None, ge=0)


class SourceRef(_Strict):
    """The configured source (and its query) that captured the post."""

    name: str
    query: str | None = None


class Place(_Strict):
    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    confidence: float = Field(ge=0, le=1)
    method: str  # e.g. native_geotag, gazetteer, postcode, ner, profile


class Sentiment(_Strict):
    label: Literal["negative", "neutral", "positive"]
    score: float = Field(ge=0, le=1)


class CrimeAssessment(_Strict):
    relevant: bool
    score: float = Field(ge=0, le=1)
    categories: list[str] = Field(default_factory=list)
    urgency: Literal["none", "in_progress", "risk_to_life"] | None = None
    urgency_score: float | None = Field(None, ge=0, le=1)


class Abuse(_Strict):
    offensive: float | None = Field(None, ge=0, le=1)
    hate: float | None = Field(None, ge=0, le=1)


class Entity(_Strict):
    type: str
    text: str
    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=0)


class Enrichment(_Strict):
    """What the NLP pipeline adds; empty until a model has run."""

    places: list[Place] = Field(default_factory=list)
    force_area: str | None = None
    neighbourhood: str | None = None
    sentiment: Sentiment | None = None
    crime: CrimeAssessment | None = None
    abuse: Abuse | None = None
    entities: list[Entity] = Field(default_factory=list)
    # component name -> version of the model that produced its fields
    models: dict[str, str] = Field(default_factory=dict)


class Post(_Strict):
    id: str
    platform: str = Field(pattern=PLATFORM_PATTERN)
    native_id: str
    url: str | None = Field(None, max_length=4096)
    text: str = Field(max_length=MAX_TEXT_CHARS)
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    created_at: datetime
    collected_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    author: Author = Field(default_factory=Author)
    references: list[PostRef] = Field(default_factory=list)
    hashtags: list[str] = Field(default_factory=list)
    mentions: list[str] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    media: list[Media] = Field(default_factory=list)
    geo: GeoPoint | None = None
    engagement: Engagement = Field(default_factory=Engagement)
    source: SourceRef
    synthetic: bool = False
    enrichment: Enrichment = Field(default_factory=Enrichment)

    @field_validator("native_id")
    @classmethod
    def _native_id(cls, value: str) -> str:
        if not _NATIVE_ID.match(value):
            raise ValueError("must be 1-256 characters with no whitespace or control characters")
        return value

    @field_validator("created_at", "collected_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # Naive times are taken as UTC (documented in docs/import-format.md).
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, value: list[str]) -> list[str]:
        return _unique(tag.lstrip("#").casefold() for tag in value if tag.strip("# "))

    @field_validator("mentions")
    @classmethod
    def _mentions(cls, value: list[str]) -> list[str]:
        return _unique(m.lstrip("@") for m in value if m.strip("@ "))

    @field_validator("text")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        # NUL breaks some stores and terminals; nothing legitimate carries it.
        return value.replace("\x00", "")

    @model_validator(mode="after")
    def _id_matches(self) -> Post:
        expected = f"{self.platform}:{self.native_id}"
        if self.id != expected:
            raise ValueError(f"id must be '<platform>:<native id>' = {expected!r}, got {self.id!r}")
        return self


def make_id(platform: str, native_id: str) -> str:
    return f"{platform}:{native_id}"


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


class InvalidRecord(ValueError):
    """A record that cannot become a Post; ``reasons`` are field-level."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def reasons_from(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        out.append(f"{loc}: {err['msg']}")
    return out


def validate_post(data: dict[str, Any]) -> Post:
    """Validate a full Post dict, raising InvalidRecord with field-level reasons."""
    try:
        return Post.model_validate(data)
    except ValidationError as exc:
        raise InvalidRecord(reasons_from(exc)) from exc
