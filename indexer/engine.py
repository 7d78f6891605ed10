"""One thin adapter over the two official clients (opensearch-py, elasticsearch-py).

elasticsearch-py 9 refuses any server that is not Elasticsearch, and the two
clients differ in keyword arguments and errors, so the rest of Bluelamp talks
only to :class:`SearchEngine`. The flavour is chosen by probing ``GET /``.
"""

from __future__ import annotations

import base64
import ssl
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from bluelamp.errors import BluelampError
from bluelamp.settings import SearchSettings

Flavour = Literal["opensearch", "elasticsearch"]


class EngineError(BluelampError):
    """The engine answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status is not None and (self.status == 429 or self.status >= 500)


class EngineUnavailable(EngineError):
    """The engine could not be reached (down, refused, timed out)."""

    @property
    def retryable(self) -> bool:
        return True


@dataclass(frozen=True)
class EngineInfo:
    flavour: Flavour
    version: str
    url: str

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


@dataclass(frozen=True)
class Connection:
    url: str
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    ca_file: str | None = None
    verify_certs: bool = True
    request_timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, search: SearchSettings, url: str) -> Connection:
        return cls(
            url=url.rstrip("/"),
            username=search.username,
            password=search.password.get_secret_value() if search.password else None,
            api_key=search.api_key.get_secret_value() if search.api_key else None,
            ca_file=str(search.ca_file) if search.ca_file else None,
            verify_certs=search.verify_certs,
            request_timeout_s=search.request_timeout_s,
        )

    def auth_headers(self) -> dict[str, str]:
        if self.api_key:
            return {"Authorization": f"ApiKey {self.api_key}"}
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password or ''}".encode())
            return {"Authorization": f"Basic {token.decode()}"}
        return {}

    def ssl_context(self) -> ssl.SSLContext | bool:
        if not self.url.startswith("https"):
            return False
        if not self.verify_certs:
            return False
        return ssl.create_default_context(cafile=self.ca_file)


async def probe(conn: Connection) -> EngineInfo:
    """Find out what is at ``conn.url`` with one plain HTTP request."""
    timeout = aiohttp.ClientTimeout(total=min(conn.request_timeout_s, 15))
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, headers=conn.auth_headers()) as session,
            session.get(conn.url + "/", ssl=conn.ssl_context()) as resp,
        ):
            body: dict[str, Any] = {}
            if resp.content_type == "application/json":
                body = await resp.json()
            if resp.status in (401, 403):
                raise EngineError(
                    f"{conn.url} refused our credentials (HTTP {resp.status})",
                    status=resp.status,
                    hint="check BLUELAMP_SEARCH_USERNAME/PASSWORD or BLUELAMP_SEARCH_API_KEY",
                )
            if resp.headers.get("X-elastic-product") == "Elasticsearch":
                version = body.get("version", {}).get("number") or await _es_version(session, conn)
                return EngineInfo("elasticsearch", version, conn.url)
            version_info = body.get("version", {})
            if version_info.get("distribution") == "opensearch":
                return EngineInfo("opensearch", version_info["number"], conn.url)
            raise EngineError(
                f"{conn.url} is neither OpenSearch 2.x nor Elasticsearch 8/9 "
                f"(HTTP {resp.status}, version {version_info.get('number')!r})",
                hint="point BLUELAMP_SEARCH_URL at a supported cluster",
            )
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise EngineUnavailable(
            f"search engine at {conn.url} is unreachable: {exc.__class__.__name__}: {exc}",
            hint="run `bluelamp engine start`, or check BLUELAMP_SEARCH_URL",
        ) from exc


async def _es_version(session: aiohttp.ClientSession, conn: Connection) -> str:
    # Minimal distributions (the integ-test zip) have no GET / handler.
    async with session.get(
        conn.url + "/_nodes/_local",
        params={"filter_path": "nodes.*.version"},
        ssl=conn.ssl_context(),
    ) as resp:
        data = await resp.json()
    nodes = data.get("nodes") or {}
    return str(next(iter(nodes.values()))["version"]) if nodes else "unknown"


class SearchEngine(ABC):
    """What Bluelamp needs from a search engine, whichever one it is."""

    def __init__(self, info: EngineInfo) -> None:
        self.info = info

    @property
    def flavour(self) -> Flavour:
        return self.info.flavour

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        ndjson: bool = False,
    ) -> Any:
        """Send one request; raise EngineUnavailable or EngineError on failure."""

    # Everything below is written once over ``request`` so both flavours agree.

    async def bulk(self, ndjson_body: str | bytes, *, refresh: bool = False) -> dict[str, Any]:
        params = {"refresh": "true"} if refresh else None
        result: dict[str, Any] = await self.request(
            "POST", "/_bulk", body=ndjson_body, params=params, ndjson=True
        )
        return result

    async def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "POST", f"/{index}/_search", body=body, params={"ignore_unavailable": "true"}
        )
        return result

    async def count(self, index: str, query: dict[str, Any] | None = None) -> int:
        body = {"query": query} if query else None
        result = await self.request(
            "POST", f"/{index}/_count", body=body, params={"ignore_unavailable": "true"}
        )
        return int(result["count"])

    async def put_index_template(self, name: str, body: dict[str, Any]) -> None:
        await self.request("PUT", f"/_index_template/{name}", body=body)

    async def list_indices(self, pattern: str) -> list[str]:
        result = await self.request(
            "GET", f"/_cat/indices/{pattern}", params={"format": "json", "h": "index"}
        )
        return sorted(row["index"] for row in result)

    async def delete_index(self, name: str) -> None:
        await self.request("DELETE", f"/{name}")

    async def refresh(self, index: str) -> None:
        await self.request("POST", f"/{index}/_refresh", params={"ignore_unavailable": "true"})

    async def health(self, *, wait_for: str = "yellow", timeout_s: int = 30) -> dict[str, Any]:
        # "timeout" goes in the path: opensearch-py reads a "timeout" param as its own.
        result: dict[str, Any] = await self.request(
            "GET", f"/_cluster/health?wait_for_status={wait_for}&timeout={int(timeout_s)}s"
        )
        return result

    async def analyzer_exists(self, analyzer: str) -> bool:
        try:
            await self.request("POST", "/_analyze", body={"analyzer": analyzer, "text": "x"})
        except EngineError as exc:
            if exc.status == 400:
                return False
            raise
        return True


class _OpenSearch(SearchEngine):
    def __init__(self, info: EngineInfo, conn: Connection) -> None:
        super().__init__(info)
        from opensearchpy import AIOHttpConnection, AsyncOpenSearch

        kwargs: dict[str, Any] = {
            "hosts": [conn.url],
            "connection_class": AIOHttpConnection,
            "timeout": conn.request_timeout_s,
            "max_retries": 0,  # our own retry policy owns retries
            "retry_on_timeout": False,
            "verify_certs": conn.verify_certs,
            "ssl_show_warn": False,
            # Basic or ApiKey, already encoded; one source of truth for both probes.
            "headers": conn.auth_headers(),
        }
        if conn.ca_file:
            kwargs["ca_certs"] = conn.ca_file
        self._client = AsyncOpenSearch(**kwargs)

    async def close(self) -> None:
        await self._client.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        ndjson: bool = False,
    ) -> Any:
        from opensearchpy import exceptions as ex

        headers = {"Content-Type": "application/x-ndjson"} if ndjson else None
        try:
            return await self._client.transport.perform_request(
                method, path, params=params, body=body, headers=headers
            )
        except (ex.ConnectionError, ex.ConnectionTimeout) as exc:
            raise EngineUnavailable(
                f"{method} {path} on {self.info.url} failed: {exc.__class__.__name__}: {exc}"
            ) from exc
        except ex.TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else None
            raise EngineError(
                f"{method} {path} on {self.info.url}: HTTP {status}: {_reason(exc.info)}",
                status=status,
            ) from exc


class _Elasticsearch(SearchEngine):
    def __init__(self, info: EngineInfo, conn: Connection) -> None:
        super().__init__(info)
        from elasticsearch import AsyncElasticsearch

        kwargs: dict[str, Any] = {
            "hosts": [conn.url],
            "request_timeout": conn.request_timeout_s,
            "max_retries": 0,
            "retry_on_timeout": False,
            "verify_certs": conn.verify_certs,
        }
        if conn.api_key:
            kwargs["api_key"] = conn.api_key
        elif conn.username:
            kwargs["basic_auth"] = (conn.username, conn.password or "")
        if conn.ca_file:
            kwargs["ca_certs"] = conn.ca_file
        self._client = AsyncElasticsearch(**kwargs)
        # The 9.x client asks for compatible-with=9, which an 8.x server refuses.
        self._compat = f"compatible-with={min(info.major, 9) if info.major >= 8 else 9}"

    async def close(self) -> None:
        await self._client.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        ndjson: bool = False,
    ) -> Any:
        from elastic_transport import ConnectionError as TransportConnectionError
        from elastic_transport import ConnectionTimeout
        from elasticsearch import ApiError

        kind = "x-ndjson" if ndjson else "json"
        headers = {"accept": f"application/vnd.elasticsearch+json; {self._compat}"}
        if body is not None:
            headers["content-type"] = f"application/vnd.elasticsearch+{kind}; {self._compat}"
        try:
            resp = await self._client.perform_request(
                method, path, params=params, headers=headers, body=body
            )
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise EngineUnavailable(
                f"{method} {path} on {self.info.url} failed: {exc.__class__.__name__}: {exc}"
            ) from exc
        except ApiError as exc:
            raise EngineError(
                f"{method} {path} on {self.info.url}: HTTP {exc.meta.status}: {_reason(exc.body)}",
                status=exc.meta.status,
            ) from exc
        return resp.body


def _reason(info: Any) -> str:
    if isinstance(info, dict):
        err = info.get("error")
        if isinstance(err, dict):
            return f"{err.get('type')}: {err.get('reason')}"
        return str(err or info)[:500]
    return str(info)[:500]


async def connect(conn: Connection) -> SearchEngine:
    """Probe the server and return the adapter for it."""
    info = await probe(conn)
    if info.flavour == "opensearch":
        if info.major < 2:
            raise EngineError(f"OpenSearch {info.version} is too old; Bluelamp needs 2.x or later")
        return _OpenSearch(info, conn)
    if info.major < 8:
        raise EngineError(f"Elasticsearch {info.version} is too old; Bluelamp needs 8 or 9")
    return _Elasticsearch(info, conn)
