"""The ``kind: bluesky`` source: one model for both modes.

``mode: search`` polls ``app.bsky.feed.searchPosts`` for each of ``queries``
on an AppView (or, with credentials, on the account's PDS, which proxies to
the AppView). ``mode: firehose`` follows ``com.atproto.sync.subscribeRepos``
on a relay or PDS. Credentials (an app password) are optional and only ever
read from the environment or a secret file.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from collectors.config import SourceBase, http_url
from collectors.secrets import SecretRef

DEFAULT_SEARCH_SERVICE = "https://public.api.bsky.app"
DEFAULT_FIREHOSE_SERVICE = "wss://bsky.network"
DEFAULT_AUTH_SERVICE = "https://bsky.social"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BlueskyCredentials(_Strict):
    """An account handle (or email) and an app password, for ``createSession``."""

    identifier: SecretRef
    password: SecretRef
    service: str = DEFAULT_AUTH_SERVICE  # the PDS (entryway) that issues the session

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        return http_url(value).rstrip("/")


class BlueskyOptions(_Strict):
    # search
    page_limit: int = Field(100, ge=1, le=100)  # posts per searchPosts page (the API's max)
    max_pages: int = Field(10, ge=1, le=1000)  # pages per query per poll; the rest next poll
    remember: int = Field(2000, ge=0, le=20_000)  # recent post URIs kept to skip repeats
    sort: Literal["latest", "top"] = "latest"
    lang: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    # firehose
    batch_events: int = Field(200, ge=1, le=100_000)  # yield after this many events (or posts)
    batch_seconds: float = Field(0.5, gt=0, le=60)  # ... or after this long
    heartbeat_s: float = Field(30.0, gt=0, le=600)  # websocket ping interval


class BlueskySource(SourceBase):
    kind: Literal["bluesky"]
    mode: Literal["search", "firehose"] = "search"
    queries: list[str] = Field(default_factory=list)
    # firehose: keep only posts mentioning one of these words or phrases (thematic
    # monitoring); collect_all: true keeps every post and must be justified (DPIA).
    match: list[str] = Field(default_factory=list, max_length=500)
    collect_all: bool = False
    # AppView (search) or relay/PDS websocket (firehose); default by mode.
    service: str | None = None
    credentials: BlueskyCredentials | None = None
    options: BlueskyOptions = Field(default_factory=BlueskyOptions)

    @field_validator("match")
    @classmethod
    def _match(cls, value: list[str]) -> list[str]:
        cleaned = [t.strip() for t in value]
        if any(not t or len(t) > 200 for t in cleaned):
            raise ValueError("each term must be 1-200 characters")
        return list(dict.fromkeys(cleaned))

    @field_validator("queries")
    @classmethod
    def _queries(cls, value: list[str]) -> list[str]:
        cleaned = [q.strip() for q in value]
        if any(not q or len(q) > 512 for q in cleaned):
            raise ValueError("each query must be 1-512 characters")
        return list(dict.fromkeys(cleaned))

    @model_validator(mode="after")
    def _by_mode(self) -> BlueskySource:
        if self.mode == "search":
            if not self.queries:
                raise ValueError("mode 'search' needs at least one entry in 'queries'")
            self.service = http_url(self.service or DEFAULT_SEARCH_SERVICE).rstrip("/")
        else:
            if self.queries:
                raise ValueError("'queries' only applies to mode 'search'")
            if not self.match and not self.collect_all:
                raise ValueError(
                    "mode 'firehose' carries every public post on Bluesky: list the words or"
                    " phrases to keep in 'match' (thematic monitoring), or set"
                    " 'collect_all: true' where a DPIA covers collecting everything"
                )
            self.service = websocket_url(self.service or DEFAULT_FIREHOSE_SERVICE)
        return self

    @property
    def service_url(self) -> str:
        assert self.service is not None  # set by the validator
        return self.service


def websocket_url(value: str) -> str:
    """A ws(s):// base URL; http(s) is accepted and converted."""
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError("service must be a ws://, wss://, http:// or https:// URL with a host")
    return f"{scheme}://{value.split('://', 1)[1]}"
