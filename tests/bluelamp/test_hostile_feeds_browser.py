"""All 425 hostile feeds of the shared corpus, end to end: collected by the RSS
collector over loopback HTTP, spooled, drained into the real OpenSearch, read
back through the JSON API, and rendered page by page in a real Chromium. No
script may run anywhere on the way (the fixture README's requirement)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Dialog, Page

from bluelamp.pipeline import Drainer, indexer_for, layout_for, open_engine, open_spool
from bluelamp.settings import Settings
from collectors.base import FetchPolicy, HttpSource, run_once
from collectors.cursors import CursorStore
from collectors.rss import RssCollector, RssSource
from tests.bluelamp.test_web_browser import chromium, page, server  # noqa: F401 - fixtures
from tests.support.replay import ReplayServer

pytestmark = pytest.mark.browser

SANITIZE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "rss" / "sanitize"
PURPOSE = "checking hostile feed handling before go-live"


async def _collect_corpus(settings: Settings) -> int:
    files = sorted(SANITIZE.glob("*.xml"))
    assert len(files) == 425, f"expected 425 hostile feeds in {SANITIZE}"
    spool = open_spool(settings)
    cursors = CursorStore(f"sqlite:///{settings.data_dir / 'cursors.db'}")
    policy = FetchPolicy(total_timeout_s=5, max_attempts=2, backoff_base_s=0.01, trust_env=False)
    failed: list[str] = []
    async with ReplayServer() as feeds:
        limit = asyncio.Semaphore(16)

        async def one(index: int, file: Path) -> None:
            async with limit:
                url = feeds.add_file(f"/f/{file.name}", file)
                config = RssSource(name=f"h{index}", kind="rss", url=url)
                collector = RssCollector(config, HttpSource(config.name, policy))
                report = await run_once(collector, spool, cursors)
                await collector.close()
                if not report.ok:
                    failed.append(f"{file.name}: {report.error}")

        await asyncio.gather(*(one(i, f) for i, f in enumerate(files)))
    assert not failed, failed[:5]
    engine = await open_engine(settings)
    try:
        totals = await Drainer(spool, indexer_for(settings, engine), settings).drain(
            until_empty=True, give_up_after_s=60
        )
        await engine.refresh(layout_for(settings).alias)
    finally:
        await engine.close()
        spool.close()
        cursors.close()
    assert totals.failed == 0, totals
    return totals.indexed


@pytest.fixture
async def collected(settings: Settings) -> int:
    return await _collect_corpus(settings)


@pytest.fixture
def indexed(settings: Settings, collected: int) -> Settings:
    """Replaces test_web_browser's demo-loading fixture: only the corpus is indexed."""
    return settings


async def test_hostile_feed_corpus_never_runs_in_chromium(
    server: str,  # noqa: F811 - the fixture imported above
    collected: int,
    page: Page,  # noqa: F811
) -> None:
    count = collected
    assert count >= 250  # many fixtures attack only feed-level fields
    dialogs: list[str] = []
    errors: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))

    # The JSON API: every collected post, all plain text.
    api = await page.request.get(f"{server}/api/posts?size=500&purpose={PURPOSE}")
    assert api.status == 200
    body = await api.json()
    assert body["total"] == count
    for post in body["posts"]:
        assert "<script" not in post["text"].lower() and "javascript:" not in post["text"].lower()

    await page.goto(server + "/")
    await page.get_by_label("Purpose").fill(PURPOSE)
    await page.get_by_role("button", name="Continue").click()
    seen = 0
    for number in range(1, count // 25 + 2):
        await page.goto(f"{server}/?page={number}")
        seen += await page.locator("li.post").count()
        built = await page.evaluate(
            """() => ({
                scripts: document.querySelectorAll('script').length,
                frames: document.querySelectorAll('iframe, object, embed, frame').length,
                imgs: document.querySelectorAll('img, svg, video, audio').length,
                handlers: [...document.querySelectorAll('*')].filter(
                    el => [...el.attributes].some(a => a.name.startsWith('on'))).length,
                jsLinks: [...document.querySelectorAll('a[href]')].filter(
                    a => a.getAttribute('href').trim().toLowerCase().startsWith('javascript')
                ).length,
            })"""
        )
        assert built == {"scripts": 0, "frames": 0, "imgs": 0, "handlers": 0, "jsLinks": 0}, (
            number,
            built,
        )
    assert seen == count
    assert dialogs == [] and errors == []
    # nothing was fetched from anywhere but Bluelamp itself
    assert all(url.startswith(server) for url in requests), [
        u for u in requests if not u.startswith(server)
    ][:5]
