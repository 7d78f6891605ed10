"""Talking to X API v2 with an app bearer token, over the source's :class:`HttpSource`.

The token is held as a ``SecretStr`` and only put into the ``Authorization``
header of requests to the API itself; never into a URL, an error or a log
line, and never sent to the compliance upload/download URLs (another host).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from pydantic import SecretStr

from collectors.base import CollectorError, HttpResponse, HttpSource

# What a post is asked for; the Post mapping reads exactly these.
TWEET_FIELDS = (
    "created_at,lang,author_id,geo,public_metrics,referenced_tweets,conversation_id,entities,"
    "note_tweet"
)
USER_FIELDS = "username,name,verified,location"
PLACE_FIELDS = "full_name,name,country_code,geo,place_type"
EXPANSIONS = "author_id,geo.place_id"


def expansion_params() -> dict[str, str]:
    return {
        "tweet.fields": TWEET_FIELDS,
        "expansions": EXPANSIONS,
        "user.fields": USER_FIELDS,
        "place.fields": PLACE_FIELDS,
    }


class XApiError(CollectorError):
    """X answered, but not with what the endpoint promises (not JSON, no ``data``...)."""


class XApi:
    def __init__(self, source: str, http: HttpSource, token: SecretStr, base: str) -> None:
        self.source = source
        self.http = http
        self._token = token
        self.base = base.rstrip("/")

    def url(self, path: str, params: dict[str, str] | None = None) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.base}{path}{query}"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

    async def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        url = self.url(path, params)
        response = await self.http.fetch(url, headers=self.auth_headers())
        return self.decode(response, url)

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A POST that is safe to repeat (HttpSource retries it)."""
        url = self.url(path)
        response = await self.http.fetch(
            url, method="POST", headers=self.auth_headers(), json_body=body
        )
        return self.decode(response, url)

    def decode(self, response: HttpResponse, url: str) -> dict[str, Any]:
        """The JSON object of a response, or an XApiError naming the source and URL."""
        try:
            document = json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise XApiError(
                f"response is not JSON ({len(response.body)} bytes): {str(exc)[:200]}",
                source=self.source,
                url=url,
                status=response.status,
                retryable=True,
            ) from exc
        if not isinstance(document, dict):
            raise XApiError(
                f"expected a JSON object, got {type(document).__name__}",
                source=self.source,
                url=url,
                status=response.status,
            )
        return document


def api_problems(document: dict[str, Any], limit: int = 3) -> list[str]:
    """X's partial errors (``errors: [{title, detail, resource_id}]``) as short lines."""
    errors = document.get("errors")
    if not isinstance(errors, list):
        return []
    out = []
    for error in errors[:limit]:
        if isinstance(error, dict):
            title = str(error.get("title") or error.get("message") or "error")
            detail = str(error.get("detail") or "")
            out.append(f"{title}: {detail}"[:300] if detail else title[:300])
    if len(errors) > limit:
        out.append(f"... and {len(errors) - limit} more")
    return out
