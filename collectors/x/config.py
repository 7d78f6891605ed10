"""The ``kind: x`` entry of ``config/sources.yaml``.

One source is either a recent-search poll (``mode: search`` with a ``query``)
or the app's filtered stream (``mode: stream`` with ``rules``). The bearer
token is a :class:`~collectors.secrets.SecretRef`: the YAML says where the
token is, never what it is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from collectors.config import SourceBase, http_url
from collectors.secrets import SecretRef

DEFAULT_API = "https://api.x.com"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class XRule(_Strict):
    """One filtered-stream rule. ``tag`` names it in Bluelamp (and in ``source.query``)."""

    value: str = Field(min_length=1, max_length=4096)
    tag: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")


class ComplianceOptions(_Strict):
    """Batch compliance: which collected ids are re-checked for deletion, and how often."""

    enabled: bool = True
    interval_s: float = Field(86_400.0, ge=3_600, le=30 * 86_400)  # daily by default
    window_days: float = Field(30.0, gt=0, le=365)  # ids collected in the last N days
    max_ids: int = Field(20_000, ge=1, le=200_000)  # cap on ids kept in the cursor


class StreamOptions(_Strict):
    """Filtered-stream reading. Reconnecting (and its backoff) is the stream
    supervisor's job, the same for every stream kind, so it is not set here."""

    stall_timeout_s: float = Field(30.0, gt=0, le=600)  # X sends a keep-alive every 20 s
    batch_max: int = Field(200, ge=1, le=10_000)  # posts per yielded batch
    batch_s: float = Field(0.5, gt=0, le=60)  # or this long after a batch's first post


class XOptions(_Strict):
    max_results: int = Field(100, ge=10, le=100)  # posts per page (X's limits)
    max_pages: int = Field(5, ge=1, le=100)  # pages per poll: each costs one request
    compliance: ComplianceOptions = Field(default_factory=ComplianceOptions)
    stream: StreamOptions = Field(default_factory=StreamOptions)


class XSource(SourceBase):
    kind: Literal["x"]
    mode: Literal["search", "stream"] = "search"
    bearer_token: SecretRef
    query: str | None = Field(None, min_length=1, max_length=4096)
    rules: list[XRule] = Field(default_factory=list, max_length=1000)
    api_base: str = DEFAULT_API
    options: XOptions = Field(default_factory=XOptions)

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        return http_url(value).rstrip("/")

    @model_validator(mode="after")
    def _mode_fields(self) -> XSource:
        if self.mode == "search" and not self.query:
            raise ValueError("mode 'search' needs a 'query' (X search syntax)")
        if self.mode == "stream" and not self.rules:
            raise ValueError("mode 'stream' needs 'rules' (a list of {value, tag})")
        tags = [rule.tag for rule in self.rules]
        if len(set(tags)) != len(tags):
            raise ValueError("rule tags must be unique within a source")
        return self
