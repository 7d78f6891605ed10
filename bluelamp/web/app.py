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
from bluelamp.pipeline import layout_for, open_engine
from bluelamp.settings import Settings
from bluelamp.text import display_text
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


def create_app(settings: Settings) -> FastAPI:
    templates = _templates()
    ledger = AuditLedger(settings.state_url)
    layout = layout_for(settings)
    holder: dict[str, SearchEngine] = {}

    async def engine() -> SearchEngine:
        if "engine" not in holder:
            holder["engine"] = await open_engine(settings)
        return holder["engine"]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if "engine" in holder:
            await holder.pop("engine").close()

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
