"""A loopback HTTP server that replays recorded responses, with injectable faults.

Real aiohttp.web on 127.0.0.1 with an OS-chosen port: collectors under test
make real requests over real sockets. Each path serves a :class:`Route` (a
fixture file's bytes, or later a VCR/Betamax interaction's status, headers
and body). Faults are queued per path and each is used for one request (or
``times`` requests), after which the route is served normally again:

    async with ReplayServer() as server:
        server.add_file("/feed.xml", FIXTURES / "rss/x.xml")
        server.inject("/feed.xml", Fault.status(500), Fault.retry_after(1))
        ... server.url("/feed.xml") ...

Routes get a strong ETag (a hash of the body) and a Last-Modified; a request
whose ``If-None-Match`` matches gets 304, as real servers do.

Recorded API traffic (VCR.py YAML or Betamax JSON cassettes in
``../shared/fixtures``) is served with :meth:`ReplayServer.add_cassette`:
each interaction answers its method and path (and query, when the request's
matches the recording exactly), with the recorded status, headers and body.
Several interactions for one method and path are served in order, the last
one repeating.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import yaml
from aiohttp import web


@dataclass
class Route:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/xml"
    conditional: bool = True  # ETag / Last-Modified and 304 handling

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


@dataclass
class Fault:
    kind: str
    status: int = 500
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    size: int = 0
    with_length: bool = True
    times: int = 1  # requests it applies to; 0 = every request from now on

    @classmethod
    def error(cls, status: int = 500, times: int = 1) -> Fault:
        return cls("status", status=status, times=times)

    @classmethod
    def retry_after(cls, value: float | str = 1, status: int = 429) -> Fault:
        return cls("status", status=status, headers={"Retry-After": str(value)})

    @classmethod
    def rate_headers(cls, headers: dict[str, str], status: int = 429) -> Fault:
        """A response with the given rate-limit headers (429, or 200 with the real body)."""
        return cls("status" if status != 200 else "headers", status=status, headers=headers)

    @classmethod
    def timeout(cls, delay_s: float = 2.0, times: int = 1) -> Fault:
        """Sleep before answering (past the client's timeout), then serve normally."""
        return cls("timeout", delay_s=delay_s, times=times)

    @classmethod
    def reset(cls, times: int = 1) -> Fault:
        """Close the connection without answering."""
        return cls("reset", times=times)

    @classmethod
    def truncate(cls, keep: int = 100, times: int = 1) -> Fault:
        """Promise the full Content-Length, send ``keep`` bytes, drop the connection."""
        return cls("truncate", size=keep, times=times)

    @classmethod
    def invalid_utf8(cls, times: int = 1) -> Fault:
        """Serve bytes that are not UTF-8 (nor any feed) under a UTF-8 content type."""
        return cls("invalid_utf8", times=times)

    @classmethod
    def huge(cls, size: int = 10 * 1024 * 1024 + 1, *, with_length: bool = True) -> Fault:
        """A body of ``size`` bytes, with a Content-Length or chunked (streamed)."""
        return cls("huge", size=size, with_length=with_length)


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]
    method: str = "GET"
    query: str = ""
    body: bytes = b""


@dataclass(frozen=True)
class Interaction:
    """One recorded exchange from a cassette."""

    method: str
    url: str
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> str:
        return _norm_query(urlsplit(self.url).query)


def _norm_query(query: str) -> str:
    return urlencode(sorted(parse_qsl(query, keep_blank_values=True)))


def _first(values: Any) -> str:
    if isinstance(values, list):
        return ", ".join(str(v) for v in values)
    return str(values)


def _body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, dict):
        if body.get("base64_string"):
            return base64.b64decode(body["base64_string"])
        value = body.get("string", "")
    else:
        value = body
    if isinstance(value, bytes):
        return value
    return str(value or "").encode("utf-8")


def load_cassette(path: Path) -> list[Interaction]:
    """A VCR.py YAML or Betamax JSON cassette as a list of interactions."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    out = []
    for item in data.get("interactions") or data.get("http_interactions") or []:
        request, response = item["request"], item["response"]
        status = response["status"]
        code = int(status["code"] if isinstance(status, dict) else status)
        headers = {str(k): _first(v) for k, v in (response.get("headers") or {}).items()}
        body = _body(response["body"])
        encoding = next((v for k, v in headers.items() if k.lower() == "content-encoding"), "")
        if "gzip" in encoding.lower() and body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)  # served without Content-Encoding (a hop header here)
        out.append(Interaction(request["method"].upper(), request["uri"], code, headers, body))
    return out


class ReplayServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        # (method, path, normalised query or None) -> recorded routes, served in order
        self.recorded: dict[tuple[str, str, str | None], deque[Route]] = {}
        self.faults: dict[str, deque[Fault]] = {}
        self.requests: list[SeenRequest] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --------------------------------------------------------------- setup
    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def add_body(self, path: str, body: bytes, content_type: str = "application/xml") -> str:
        return self.add(path, Route(body=body, content_type=content_type))

    def add_file(self, path: str, file: Path, content_type: str = "application/xml") -> str:
        return self.add_body(path, file.read_bytes(), content_type)

    def add_interaction(self, path: str, status: int, headers: dict[str, str], body: bytes) -> str:
        """A recorded exchange (VCR/Betamax), served as recorded: no ETag handling."""
        content_type = headers.get("Content-Type", "application/octet-stream")
        rest = {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}
        return self.add(path, Route(body, status, rest, content_type, conditional=False))

    def add_recorded(self, interaction: Interaction) -> str:
        """Serve one recorded exchange for its method and path (and exact query)."""
        content_type = next(
            (v for k, v in interaction.headers.items() if k.lower() == "content-type"),
            "application/octet-stream",
        )
        rest = {k: v for k, v in interaction.headers.items() if k.lower() not in _HOP_HEADERS}
        # Paging links point at the recorded host; point them here (call after start()).
        parts = urlsplit(interaction.url)
        origin = f"{parts.scheme}://{parts.netloc}"
        for name in list(rest):
            if name.lower() in ("link", "location") and self.port:
                rest[name] = rest[name].replace(origin, self.url("").rstrip("/"))
        route = Route(interaction.body, interaction.status, rest, content_type, conditional=False)
        for query in (interaction.query, None):
            key = (interaction.method, interaction.path, query)
            self.recorded.setdefault(key, deque()).append(route)
        return self.url(interaction.path)

    def add_cassette(self, cassette: Path | list[Interaction]) -> list[Interaction]:
        """Serve every interaction of a cassette; returns them (for assertions)."""
        interactions = load_cassette(cassette) if isinstance(cassette, Path) else cassette
        for interaction in interactions:
            self.add_recorded(interaction)
        return interactions

    def _recorded_route(self, request: web.Request) -> Route | None:
        for query in (_norm_query(request.query_string), None):
            queue = self.recorded.get((request.method, request.path, query))
            if queue:
                route = queue[0]
                if len(queue) > 1:
                    queue.popleft()
                    # keep the query-less queue in step with the exact one
                    other = self.recorded.get((request.method, request.path, None))
                    if query is not None and other and len(other) > 1 and other[0] is route:
                        other.popleft()
                return route
        return None

    def inject(self, path: str, *faults: Fault) -> None:
        self.faults.setdefault(path, deque()).extend(faults)

    def clear_faults(self, path: str | None = None) -> None:
        if path is None:
            self.faults.clear()
        else:
            self.faults.pop(path, None)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str, method: str | None = None) -> int:
        return sum(
            1 for r in self.requests if r.path == path and (method is None or r.method == method)
        )

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> ReplayServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ReplayServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -------------------------------------------------------------- serving
    def _next_fault(self, path: str) -> Fault | None:
        queue = self.faults.get(path)
        if not queue:
            return None
        fault = queue[0]
        if fault.times == 1:
            queue.popleft()
        elif fault.times > 1:
            fault.times -= 1
        return fault

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        body = await request.read() if request.can_read_body else b""
        self.requests.append(
            SeenRequest(path, dict(request.headers), request.method, request.query_string, body)
        )
        route = self._recorded_route(request) or self.routes.get(path)
        fault = self._next_fault(path)
        if fault is not None:
            response = await self._fault(request, fault, route)
            if response is not None:
                return response
        if route is None:
            return web.Response(status=404, text="no such fixture")
        return self._serve(request, route)

    def _serve(
        self, request: web.Request, route: Route, extra: dict[str, str] | None = None
    ) -> web.Response:
        headers = dict(route.headers)
        headers.update(extra or {})
        if route.conditional and route.status == 200:
            headers["ETag"] = route.etag
            headers["Last-Modified"] = formatdate(1_700_000_000, usegmt=True)
            if request.headers.get("If-None-Match") == route.etag:
                return web.Response(status=304, headers=headers)
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = route.content_type
        return web.Response(status=route.status, body=route.body, headers=headers)

    async def _fault(
        self, request: web.Request, fault: Fault, route: Route | None
    ) -> web.StreamResponse | None:
        if fault.kind == "status":
            return web.Response(status=fault.status, headers=fault.headers, text="injected fault")
        if fault.kind == "headers" and route is not None:
            return self._serve(request, route, fault.headers)
        if fault.kind == "timeout":
            await asyncio.sleep(fault.delay_s)
            return None
        if fault.kind == "reset":
            _abort(request)
            return web.Response(status=500)  # never reaches the client
        if fault.kind == "truncate":
            body = route.body if route else b"x" * 1000
            response = web.StreamResponse(status=200)
            response.content_type = "application/xml"
            response.content_length = len(body)
            await response.prepare(request)
            await response.write(body[: fault.size])
            await asyncio.sleep(0.05)
            _abort(request)
            return response
        if fault.kind == "invalid_utf8":
            garbage = b"\xff\xfe\xfd\x80\x81 not a feed \xc3\x28 \xa0\xa1" * 64
            return web.Response(
                status=200, body=garbage, headers={"Content-Type": "application/xml; charset=utf-8"}
            )
        if fault.kind == "huge":
            return await _huge(request, fault.size, fault.with_length)
        raise ValueError(f"unknown fault {fault.kind!r}")


_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def _abort(request: web.Request) -> None:
    transport: Any = request.transport
    if transport is not None:
        transport.abort()


async def _huge(request: web.Request, size: int, with_length: bool) -> web.StreamResponse:
    response = web.StreamResponse(status=200)
    response.content_type = "application/xml"
    if with_length:
        response.content_length = size
    else:
        response.enable_chunked_encoding()
    await response.prepare(request)
    chunk = b"<!-- padding -->" * 4096  # 64 KiB
    sent = 0
    try:
        while sent < size:
            part = chunk[: size - sent]
            await response.write(part)
            sent += len(part)
        await response.write_eof()
    except (ConnectionError, RuntimeError):
        pass  # the client stopped reading, as it should
    return response
