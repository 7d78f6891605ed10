"""Push: an HMAC-signed webhook that accepts posts in the import format.

Another tool (a partner force's monitor, a commercial platform's export job)
POSTs JSON Lines (or a JSON array) of records in the documented import format
(docs/import-format.md) to ``/api/v1/webhooks/<source name>``. Each request
carries::

    X-Bluelamp-Timestamp: <Unix seconds>
    X-Bluelamp-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">

signed with the source's shared secret (from the environment or a secret
file, never the YAML). The timestamp is inside the signature and must be
within ``tolerance_s`` of our clock, so a captured request cannot be replayed
later; comparison is constant-time. Valid records are spooled (deduplicated
by id, like every source); invalid ones are reported back line by line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, SecretStr

from bluelamp.post import Post, SourceRef
from collectors.base import SourceHealth
from collectors.config import SourceBase
from collectors.file_import import record_to_post
from collectors.registry import BuildContext
from collectors.secrets import SecretRef

SIGNATURE_HEADER = "X-Bluelamp-Signature"
TIMESTAMP_HEADER = "X-Bluelamp-Timestamp"
MAX_RECORDS = 10_000


class WebhookSource(SourceBase):
    kind: Literal["webhook"]
    secret: SecretRef
    tolerance_s: int = Field(300, ge=10, le=3600)  # how old a signed timestamp may be
    max_records: int = Field(5_000, ge=1, le=MAX_RECORDS)  # per request
    # Platforms this sender may submit. A sender allowed "bluesky" can overwrite a
    # collected Bluesky post with the same id, so list only what it really exports.
    platforms: list[str] = Field(default_factory=lambda: ["webhook"], min_length=1)


SOURCE_MODEL = WebhookSource


class WebhookRejected(Exception):
    """The request is refused as a whole; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Parsed:
    posts: list[Post] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value a sender computes (also used by our tests and docs)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookReceiver:
    kind = "webhook"

    def __init__(self, config: WebhookSource, secret: SecretStr) -> None:
        self.config = config
        self.name = config.name
        self._secret = secret
        self.health = SourceHealth(config.name, kind="webhook")

    def verify(
        self, body: bytes, timestamp: str | None, signature: str | None, now: float | None = None
    ) -> None:
        """Raise WebhookRejected unless the request is signed, fresh and within limits."""
        if len(body) > self.config.max_body_bytes:
            raise WebhookRejected(413, f"body over {self.config.max_body_bytes} bytes")
        if not timestamp or not signature:
            raise WebhookRejected(401, f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required")
        try:
            sent = int(timestamp)
        except ValueError:
            raise WebhookRejected(401, f"{TIMESTAMP_HEADER} must be Unix seconds") from None
        now = time.time() if now is None else now
        if abs(now - sent) > self.config.tolerance_s:
            limit = self.config.tolerance_s
            raise WebhookRejected(
                401, f"timestamp is {now - sent:.0f}s from our clock (limit ±{limit}s)"
            )
        expected = sign(self._secret.get_secret_value(), sent, body)
        if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
            raise WebhookRejected(401, "signature does not match")

    def parse(self, body: bytes) -> Parsed:
        """Records from JSON Lines or a JSON array; each valid one becomes a Post."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WebhookRejected(400, f"body is not UTF-8 (byte {exc.start})") from None
        rows = _rows(text)
        if len(rows) > self.config.max_records:
            raise WebhookRejected(
                413, f"{len(rows)} records; at most {self.config.max_records} per request"
            )
        out = Parsed()
        ref = SourceRef(name=self.name, query="webhook")
        for number, row in rows:
            if not isinstance(row, dict):
                out.rejects.append({"record": number, "reason": str(row)[:500]})
                continue
            try:
                post = record_to_post(row, ref)
            except ValueError as exc:
                out.rejects.append({"record": number, "reason": str(exc)[:500]})
                continue
            if post.platform not in self.config.platforms:
                allowed = ", ".join(self.config.platforms)
                out.rejects.append(
                    {
                        "record": number,
                        "reason": f"platform: {post.platform!r} not allowed for this sender"
                        f" (allowed: {allowed})",
                    }
                )
                continue
            out.posts.append(post)
        return out


def _rows(text: str) -> list[tuple[int, Any]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except ValueError as exc:
            raise WebhookRejected(400, f"not valid JSON: {exc}") from None
        return list(enumerate(items, start=1))
    rows: list[tuple[int, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except ValueError as exc:
            rows.append((number, f"line {number}: not valid JSON: {exc}"))
    return rows


def build(config: SourceBase, context: BuildContext) -> WebhookReceiver:
    assert isinstance(config, WebhookSource)
    return WebhookReceiver(config, config.secret.resolve(source=config.name, what="secret"))
