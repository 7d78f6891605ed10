"""FastAPI app: a page that lists and searches indexed posts, and its JSON API.

Post text is hostile: templates autoescape everything, and the Content
Security Policy allows no script at all, so even a missed escape cannot run.
Every listing or search is recorded in the audit ledger with the purpose the
user stated for the session.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bluelamp import __version__
from bluelamp.audit import AuditLedger, AuditRefused, Justification
from bluelamp.errors import BluelampError
from bluelamp.monitor import Monitor, sources_path
from bluelamp.pipeline import layout_for, open_engine, open_spool
from bluelamp.settings import Settings
from bluelamp.sources_status import source_status
from bluelamp.spool import Spool
from bluelamp.text import display_text
from collectors import registry
from collectors.base import CollectorError, SourceHealth
from collectors.config import load_sources
from collectors.health_store import HealthStore
from collectors.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookReceiver,
    WebhookRejected,
)
from indexer.engine import EngineError, SearchEngine
from indexer.search import PostQuery, SearchResult, search_posts

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PURPOSE_COOKIE = "bl_purpose"
REFERENCE_COOKIE = "bl_reference"
PLATFORMS = ("bluesky", "mastodon", "x", "reddit", "rss")
PAGE_SIZE = 25


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["display"] = display_text
    return env


def create_app(settings: Settings, *, collect: bool = False) -> FastAPI:
    """The web app. With ``collect``, it also runs the monitor (every enabled
    source, and the drain into the index) in the background while it serves."""
    templates = _templates()
    ledger = AuditLedger(settings.state_url)
    layout = layout_for(settings)
    holder: dict[str, SearchEngine] = {}
    webhooks = _webhooks(settings)
    spool_holder: dict[str, Spool] = {}

    def spool() -> Spool:
        if "spool" not in spool_holder:
            spool_holder["spool"] = open_spool(settings)
        return spool_holder["spool"]

    async def engine() -> SearchEngine:
        if "engine" not in holder:
            holder["engine"] = await open_engine(settings)
        return holder["engine"]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        monitor = Monitor(settings) if collect else None
        if monitor is not None:
            await monitor.start()
        try:
            yield
        finally:
            if monitor is not None:
                await monitor.stop()
            if "engine" in holder:
                await holder.pop("engine").close()
            if "spool" in spool_holder:
                spool_holder.pop("spool").close()

    app = FastAPI(title="Bluelamp", version=__version__, lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    async def run_search(query: PostQuery, why: Justification, via: str) -> SearchResult:
        why = why.checked()  # refuse before searching, never search unaudited
        result = await search_posts(await engine(), layout, query)
        await asyncio.to_thread(
            ledger.record,
            "search",
            why,
            {
                "via": via,
                "query": query.text,
                "platforms": list(query.platforms),
                "areas": list(query.areas),
                "since": query.since,
                "offset": query.offset,
                "hits": result.total,
            },
        )
        return result

    @app.get("/", response_class=HTMLResponse)
    async def index(
        request: Request,
        q: str = "",
        platform: str = "",
        area: str = "",
        days: int = Query(0, ge=0, le=3650),
        page: int = Query(1, ge=1, le=400),
    ) -> HTMLResponse:
        purpose, reference = _cookie_purpose(request)
        context: dict[str, Any] = {
            "q": q,
            "platform": platform,
            "area": area,
            "days": days,
            "page": page,
            "platforms": PLATFORMS,
            "purpose": purpose,
            "reference": reference,
            "result": None,
            "error": None,
            "version": __version__,
            "page_size": PAGE_SIZE,
        }
        status = 200
        if purpose:
            query = PostQuery(
                text=q or None,
                platforms=(platform,) if platform else (),
                areas=(area,) if area else (),
                since=datetime.now(UTC) - timedelta(days=days) if days else None,
                size=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
            )
            try:
                context["result"] = await run_search(
                    query, Justification(purpose, reference, actor=_actor(request)), "web"
                )
            except EngineError as exc:
                holder.pop("engine", None)
                context["error"] = f"The search engine is unavailable: {exc}"
                status = 503
            except BluelampError as exc:
                context["error"] = str(exc)
                status = 503
        html = templates.get_template("index.html").render(**context)
        return HTMLResponse(html, status_code=status)

    @app.post("/purpose")
    async def set_purpose(purpose: str = Form(""), reference: str = Form("")) -> Response:
        try:
            why = Justification(purpose, reference).checked()
        except AuditRefused:
            return RedirectResponse("/?missing_purpose=1", status_code=303)
        response = RedirectResponse("/", status_code=303)
        # Cookies are Latin-1 on the wire; purposes may be Welsh or carry a dash.
        response.set_cookie(
            PURPOSE_COOKIE, quote(why.purpose), max_age=8 * 3600, httponly=True, samesite="strict"
        )
        response.set_cookie(
            REFERENCE_COOKIE,
            quote(why.reference or ""),
            max_age=8 * 3600,
            httponly=True,
            samesite="strict",
        )
        return response

    @app.post("/purpose/clear")
    async def clear_purpose() -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(PURPOSE_COOKIE)
        response.delete_cookie(REFERENCE_COOKIE)
        return response

    @app.get("/api/posts")
    async def api_posts(
        request: Request,
        purpose: str = Query(..., description="why you are searching (audited)"),
        reference: str | None = None,
        q: str | None = None,
        platform: list[str] = Query(default=[]),  # noqa: B008
        area: list[str] = Query(default=[]),  # noqa: B008
        since: datetime | None = None,
        until: datetime | None = None,
        size: int = Query(20, ge=1, le=500),
        offset: int = Query(0, ge=0, le=10_000),
    ) -> JSONResponse:
        try:
            why = Justification(purpose, reference, actor=_actor(request)).checked()
        except AuditRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        query = PostQuery(q, since, until, tuple(platform), tuple(area), size, offset)
        try:
            result = await run_search(query, why, "api")
        except EngineError as exc:
            holder.pop("engine", None)
            return JSONResponse({"error": f"search engine unavailable: {exc}"}, status_code=503)
        return JSONResponse(
            {
                "total": result.total,
                "took_ms": result.took_ms,
                "posts": [p.model_dump(mode="json") for p in result.posts],
            }
        )

    @app.get("/api/v1/sources")
    async def api_sources() -> JSONResponse:
        """Each configured source and its health (operational data: no personal data)."""
        try:
            rows = await asyncio.to_thread(source_status, settings)
        except BluelampError as exc:
            return JSONResponse({"error": str(exc)}, status_code=500)
        return JSONResponse({"sources": rows})

    @app.post("/api/v1/webhooks/{name}")
    async def webhook(name: str, request: Request) -> JSONResponse:
        """Posts pushed by another tool, HMAC-signed (collectors/webhook.py)."""
        receiver = webhooks.get(name)
        if isinstance(receiver, str):  # configured but not usable, e.g. secret unset
            return JSONResponse({"error": f"webhook {name!r} not ready: {receiver}"}, 503)
        if receiver is None:
            return JSONResponse({"error": f"no webhook source named {name!r}"}, 404)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > receiver.config.max_body_bytes:
            return JSONResponse({"error": "body too large"}, 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > receiver.config.max_body_bytes:
                return JSONResponse({"error": "body too large"}, 413)
        try:
            receiver.verify(
                bytes(body),
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
            )
            parsed = receiver.parse(bytes(body))
        except WebhookRejected as exc:
            receiver.health.record_error(CollectorError(exc.reason, source=name, status=exc.status))
            await asyncio.to_thread(_save_health, settings, receiver.health)
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        unique = list({p.id: p for p in parsed.posts}.values())
        try:
            await asyncio.to_thread(spool().put, unique)
        except Exception as exc:
            return JSONResponse({"error": f"not accepted, try again: {exc}"}, 503)
        await asyncio.to_thread(
            ledger.record,
            "ingest",
            Justification(f"push from webhook source {name}", None, actor=f"webhook:{name}"),
            {"via": "webhook", "accepted": len(unique), "rejected": len(parsed.rejects)},
        )
        health = receiver.health
        health.polls += 1
        health.items_collected += len(unique)
        health.last_success_at = datetime.now(UTC)
        if parsed.rejects:
            health.last_warning = f"{len(parsed.rejects)} records rejected; first: " + str(
                parsed.rejects[0]["reason"]
            )
        await asyncio.to_thread(_save_health, settings, health)
        status = 202 if unique or not parsed.rejects else 422
        return JSONResponse(
            {
                "accepted": len(unique),
                "duplicates": len(parsed.posts) - len(unique),
                "rejected": parsed.rejects[:100],
            },
            status_code=status,
        )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        try:
            eng = await engine()
            health = await eng.health(timeout_s=2)
        except BluelampError as exc:
            holder.pop("engine", None)
            return JSONResponse({"status": "degraded", "engine": str(exc)}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "engine": {
                    "flavour": eng.info.flavour,
                    "version": eng.info.version,
                    "health": health.get("status"),
                },
            }
        )

    return app


def _webhooks(settings: Settings) -> dict[str, WebhookReceiver | str]:
    """Configured webhook sources: a receiver, or why it cannot receive."""
    out: dict[str, WebhookReceiver | str] = {}
    try:
        configs = load_sources(sources_path(settings))
    except BluelampError:
        return out  # `bluelamp sources check` reports the file's problems
    for config in configs:
        if config.kind != "webhook" or not config.enabled:
            continue
        try:
            built = registry.build(config, registry.BuildContext(settings))
        except (BluelampError, ValueError) as exc:
            out[config.name] = str(exc)
            continue
        assert isinstance(built, WebhookReceiver)
        out[config.name] = built
    return out


def _save_health(settings: Settings, health: SourceHealth) -> None:
    store = HealthStore(settings.state_url)
    try:
        store.save(health)
    finally:
        store.close()


def _cookie_purpose(request: Request) -> tuple[str, str | None]:
    """The session's stated purpose, or ("", None) when absent or not acceptable."""
    purpose = unquote(request.cookies.get(PURPOSE_COOKIE, ""))
    reference = unquote(request.cookies.get(REFERENCE_COOKIE, "")) or None
    try:
        why = Justification(purpose, reference).checked()
    except AuditRefused:
        return "", None
    return why.purpose, why.reference


def _actor(request: Request) -> str:
    # No sign-in yet: attribute to the loopback client; roles arrive with auth.
    host = request.client.host if request.client else "unknown"
    return f"web:{host}"
