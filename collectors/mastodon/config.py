"""The ``kind: mastodon`` source model: one instance and one timeline on it."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from collectors.config import SourceBase, http_url
from collectors.secrets import SecretRef


class MastodonOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_limit: int = Field(40, ge=1, le=40)  # statuses per request (Mastodon's maximum: 40)
    max_pages: int = Field(10, ge=1, le=100)  # requests per poll; the rest follows next poll
    batch_events: int = Field(200, ge=1, le=10_000)  # stream: events per batch at most
    batch_s: float = Field(0.5, gt=0, le=60)  # stream: a batch is yielded at least this often
    idle_timeout_s: float = Field(90.0, gt=0, le=3600)  # stream: silence (no heartbeat) = dead


class MastodonSource(SourceBase):
    """One instance and one timeline (or search) on it."""

    kind: Literal["mastodon"]
    instance: str  # https://mastodon.social
    timeline: Literal["public", "hashtag", "list", "search"] = "public"
    tag: str | None = Field(None, pattern=r"^[^\s#/?&]{1,100}$")  # hashtag, without '#'
    any_tags: list[str] = Field(default_factory=list, max_length=10)  # hashtag: OR these too
    list_id: str | None = Field(None, pattern=r"^[0-9]{1,30}$")
    query: str | None = Field(None, min_length=1, max_length=500)  # search
    scope: Literal["all", "local", "remote"] = "all"  # public/hashtag: which statuses
    only_media: bool = False
    stream: bool = False  # use the streaming API (with a REST backfill) instead of polling
    streaming_url: str | None = None  # default: from /api/v2/instance, else `instance`
    reblogs: Literal["original", "repost", "skip"] = "original"
    access_token: SecretRef | None = None
    options: MastodonOptions = Field(default_factory=MastodonOptions)

    @field_validator("instance", "streaming_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value).rstrip("/")

    @model_validator(mode="after")
    def _timeline_fields(self) -> MastodonSource:
        needs = {"hashtag": ("tag", self.tag), "list": ("list_id", self.list_id)}
        needs["search"] = ("query", self.query)
        if self.timeline in needs and needs[self.timeline][1] is None:
            raise ValueError(f"timeline {self.timeline!r} needs '{needs[self.timeline][0]}'")
        if self.timeline in ("list", "search") and self.access_token is None:
            raise ValueError(f"timeline {self.timeline!r} needs an 'access_token' (Mastodon rule)")
        if self.timeline == "search" and self.stream:
            raise ValueError("search has no streaming API: set stream: false")
        if self.any_tags and self.timeline != "hashtag":
            raise ValueError("any_tags only applies to timeline 'hashtag'")
        return self

    @property
    def host(self) -> str:
        """The instance's host (with a non-default port), lower case: the id prefix."""
        parts = urlsplit(self.instance)
        host = (parts.hostname or "").lower()
        return f"{host}:{parts.port}" if parts.port else host
