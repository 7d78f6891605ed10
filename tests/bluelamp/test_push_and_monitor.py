"""The HMAC-signed webhook, the sources API, and `serve` collecting in the
background: the real web app in process, a real spool, the real OpenSearch."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bluelamp.audit import AuditLedger
from bluelamp.pipeline import open_spool
from bluelamp.post import Post
from bluelamp.settings import Settings
from bluelamp.web.app import create_app
from collectors.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.conftest import make_settings
from tests.support.replay import ReplayServer

SECRET = "correct horse battery staple 42"
HOSTILE = "<script>alert(1)</script> fight outside\u200b the Arndale <img src=x onerror=alert(1)>"


def _settings(tmp_path: Path, url: str, sources: list[dict[str, Any]]) -> Settings:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}))
    return make_settings(tmp_path, url, collectors={"sources_file": str(path)})


@asynccontextmanager
async def _client(settings: Settings, *, collect: bool = False) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, collect=collect)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        yield client


def _records(n: int, platform: str = "webhook") -> bytes:
    rows = [
        {
            "platform": platform,
            "id": f"partner-{i}",
            "text": HOSTILE if i == 0 else f"report {i} of a broken window on Oxford Road",
            "created_at": "2026-11-01T10:00:00Z",
            "author_handle": "partner_tool",
        }
        for i in range(n)
    ]
    return "\n".join(json.dumps(r) for r in rows).encode()


def _signed(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    ts = str(int(time.time() if at is None else at))
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, body)}


@pytest.fixture
def push_settings(tmp_path: Path, opensearch_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("BL_TEST_WEBHOOK_SECRET", SECRET)
    monkeypatch.delenv("BL_TEST_WEBHOOK_UNSET", raising=False)
    return _settings(
        tmp_path,
        opensearch_url,
        [
            {
                "name": "partner",
                "kind": "webhook",
                "secret": {"env": "BL_TEST_WEBHOOK_SECRET"},
                "max_body_bytes": 64 * 1024,
            },
            {"name": "unready", "kind": "webhook", "secret": {"env": "BL_TEST_WEBHOOK_UNSET"}},
        ],
    )


async def test_signed_pushes_are_spooled_and_everything_else_refused(
    push_settings: Settings,
) -> None:
    body = _records(5)
    async with _client(push_settings) as client:
        ok = await client.post("/api/v1/webhooks/partner", content=body, headers=_signed(body))
        assert ok.status_code == 202, ok.text
        assert ok.json() == {"accepted": 5, "duplicates": 0, "rejected": []}

        refusals = {
            "wrong secret": (body, _signed(body, secret="guess")),
            "no signature": (body, {}),
            "stale": (body, _signed(body, at=time.time() - 3600)),
            "tampered": (body + b" ", _signed(body)),
        }
        for label, (content, headers) in refusals.items():
            response = await client.post(
                "/api/v1/webhooks/partner", content=content, headers=headers
            )
            assert response.status_code == 401, label
        big = b"x" * (70 * 1024)
        too_big = await client.post("/api/v1/webhooks/partner", content=big, headers=_signed(big))
        assert too_big.status_code == 413

        mixed = (
            _records(2)
            + b"\nnot json\n"
            + json.dumps({"platform": "webhook", "id": "x"}).encode()
            + b"\n"
            + _records(1, platform="bluesky")
        )
        partial = await client.post(
            "/api/v1/webhooks/partner", content=mixed, headers=_signed(mixed)
        )
        assert partial.status_code == 202
        result = partial.json()
        reasons = " | ".join(r["reason"] for r in result["rejected"])
        assert result["accepted"] == 2 and len(result["rejected"]) == 3, result
        assert "not valid JSON" in reasons and "text: required" in reasons
        assert "'bluesky' not allowed" in reasons

        unknown = await client.post("/api/v1/webhooks/nobody", content=body, headers=_signed(body))
        assert unknown.status_code == 404
        unready = await client.post("/api/v1/webhooks/unready", content=body, headers=_signed(body))
        assert unready.status_code == 503 and "BL_TEST_WEBHOOK_UNSET" in unready.text
        assert SECRET not in unready.text

        sources = (await client.get("/api/v1/sources")).json()["sources"]
    by_name = {s["name"]: s for s in sources}
    partner = by_name["partner"]
    assert partner["mode"] == "push" and partner["health"]["items_collected"] == 7
    assert "signature" in partner["health"]["last_error"] or partner["health"]["errors"] >= 4
    assert SECRET not in json.dumps(sources)

    spool = open_spool(push_settings)
    try:
        ops = spool.next_batch(100)
    finally:
        spool.close()
    ids = [op.post_id for op in ops]
    # partner-0 and partner-1 came twice: spooled twice, indexed once (same id)
    assert sorted(set(ids)) == sorted(f"webhook:partner-{i}" for i in range(5))
    stored = Post.model_validate_json(next(op.payload for op in ops if op.post_id.endswith("-0")))
    assert stored.text == HOSTILE.replace("\u200b", "") or stored.text == HOSTILE
    assert stored.source is not None and stored.source.name == "partner"

    actions = [e.action for e in AuditLedger(push_settings.state_url).entries(50)]
    assert actions.count("ingest") == 2


async def test_serve_collects_and_indexes_in_the_background(
    tmp_path: Path, opensearch_url: str
) -> None:
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>GMP</title>
<item><guid>n-1</guid><title>Zqxmonitor appeal after burglary in Didsbury</title>
<pubDate>Sun, 01 Nov 2026 09:30:00 GMT</pubDate></item></channel></rss>"""
    async with ReplayServer() as server:
        server.add_body("/news.xml", feed)
        settings = _settings(
            tmp_path,
            opensearch_url,
            [{"name": "news", "kind": "rss", "url": server.url("/news.xml")}],
        )
        async with _client(settings, collect=True) as client:
            found: dict[str, Any] = {}
            for _ in range(150):
                response = await client.get(
                    "/api/posts", params={"q": "zqxmonitor", "purpose": "burglary series review"}
                )
                found = response.json()
                if found.get("total"):
                    break
                await asyncio.sleep(0.2)
            assert found.get("total") == 1, found
            assert found["posts"][0]["source"]["name"] == "news"
            status = (await client.get("/api/v1/sources")).json()["sources"]
        assert status[0]["status"] == "ok" and status[0]["mode"] == "polled"
    # what was monitored is on the record: the sources in force when collection started
    [configured] = [
        e for e in AuditLedger(settings.state_url).entries(50) if e.action == "configure"
    ]
    detail = configured.detail
    assert [s["name"] for s in detail["enabled"]] == ["news"]
    assert detail["enabled"][0]["url"] == server.url("/news.xml")
    assert len(detail["sha256"]) == 64
