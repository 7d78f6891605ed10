"""The first page in a real Chromium (Debian's, driven by Playwright), served by
a real uvicorn on a loopback port, over posts in the real embedded OpenSearch.

Chromium comes from the distribution (``apt-get install chromium``, done by the
project's setup script); Playwright's own browser download is never used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Dialog, Page, async_playwright, expect

from bluelamp.audit import AuditLedger
from bluelamp.demo.loader import demo_posts, load_demo
from bluelamp.pipeline import Drainer, layout_for, open_engine, open_spool
from bluelamp.post import Post, validate_post
from bluelamp.settings import Settings
from bluelamp.web.app import create_app
from indexer.bulk import BulkIndexer
from tests.conftest import free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path("/tmp/bluelamp-ui.png")
PURPOSE = "community tension monitoring, Moss Side"
REFERENCE = "OP-BROWSER-7"
DEMO_COUNT = 200
DEMO_SEED = 11
TOKEN = "zqxpwn"  # in every hostile post and in no demo post
HOSTILE_TEXTS = (
    f"{TOKEN} <script>window.__pwned=1</script> seen near Piccadilly Gardens",
    f'{TOKEN} <img src=x onerror="window.__pwned=1"> look at this',
    f'{TOKEN} <svg onload="window.__pwned=1"> and <iframe srcdoc="<script>parent.__pwned=1'
    f'</script>"></iframe> and <a href="javascript:window.__pwned=1">click</a>',
    f"{TOKEN} </p></li></ol><script>alert(1)</script><style>body{{display:none}}</style>",
)


@pytest.fixture(scope="module")
def chromium() -> str:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium. Run the "
            "project's setup script (it runs `apt-get install -y chromium`); "
            "do not use Playwright's own browser download.",
            pytrace=False,
        )
    return str(CHROMIUM)


def hostile_posts() -> list[Post]:
    now = datetime.now(UTC).replace(microsecond=0)
    return [
        validate_post(
            {
                "id": f"bluesky:pwn-{n}",
                "platform": "bluesky",
                "native_id": f"pwn-{n}",
                "text": text,
                "created_at": now - timedelta(minutes=n),
                "author": {"handle": f'<img src=x onerror="window.__pwned=1">{n}'},
                "source": {"name": "test", "query": "hostile"},
            }
        )
        for n, text in enumerate(HOSTILE_TEXTS)
    ]


@pytest.fixture
async def indexed(settings: Settings) -> Settings:
    """The demo stream and the hostile posts, through spool, drainer and indexer."""
    assert (await load_demo(settings, count=DEMO_COUNT, seed=DEMO_SEED)).indexed == DEMO_COUNT
    spool = open_spool(settings)
    engine = await open_engine(settings)
    try:
        posts = hostile_posts()
        spool.put(posts)
        indexer = BulkIndexer(engine, layout_for(settings), settings.indexer)
        totals = await Drainer(spool, indexer, settings).drain(until_empty=True, give_up_after_s=30)
        assert totals.indexed == len(posts), totals
        await engine.refresh(layout_for(settings).alias)
    finally:
        await engine.close()
        spool.close()
    return settings


@pytest.fixture
def server(indexed: Settings) -> Iterator[str]:
    """The app under a real uvicorn, in a thread with its own event loop."""
    port = free_port()
    config = uvicorn.Config(
        create_app(indexed), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
async def page(chromium: str) -> AsyncIterator[Page]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context(viewport={"width": 1200, "height": 900})
            yield await context.new_page()
        finally:
            await browser.close()


async def pwned(page: Page) -> object:
    return await page.evaluate("() => window.__pwned")


async def test_purpose_search_and_hostile_posts_in_chromium(
    server: str, indexed: Settings, page: Page
) -> None:
    dialogs: list[str] = []
    console: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))

    # No purpose yet: the page asks for one and shows no posts.
    response = await page.goto(server + "/")
    assert response is not None
    assert response.status == 200
    await expect(page.get_by_role("heading", name="Why are you looking today?")).to_be_visible()
    await expect(page.locator("li.post")).to_have_count(0)

    # The browser itself will not submit a purpose shorter than three characters.
    await page.get_by_label("Purpose").fill("ab")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", name="Why are you looking today?")).to_be_visible()
    assert not [c for c in await page.context.cookies() if c["name"] == "bl_purpose"]

    # State a purpose: the listing appears, newest (the hostile posts) first.
    await page.get_by_label("Purpose").fill(PURPOSE)
    await page.get_by_label("Reference").fill(REFERENCE)
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator(".purpose-now")).to_contain_text(PURPOSE)
    await expect(page.locator(".purpose-now")).to_contain_text(REFERENCE)
    await expect(page.locator("li.post")).to_have_count(25)
    await expect(page.locator(".summary")).to_contain_text(
        f"{DEMO_COUNT + len(HOSTILE_TEXTS)} posts"
    )
    [cookie] = [c for c in await page.context.cookies() if c["name"] == "bl_purpose"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert await pwned(page) is None

    # Search for a word that is in some demo posts.
    search = page.get_by_role("searchbox", name="Search text")
    expected = [
        p
        for p in demo_posts(DEMO_COUNT, DEMO_SEED)
        if "leeds" in " ".join([p.text, p.author.handle or "", p.author.display_name or ""]).lower()
    ]
    assert 0 < len(expected) < 25
    await search.fill("Leeds")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url("**/?q=Leeds*")
    await expect(page.locator(".summary")).to_contain_text(f"{len(expected)} posts match Leeds")
    await expect(page.locator("li.post")).to_have_count(len(expected))
    await expect(page.locator("li.post .text").filter(has_text="Leeds").first).to_be_visible()
    await expect(search).to_have_value("Leeds")

    # A nonsense word finds nothing, and says so.
    await search.fill("qvxjzkwplumbob")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("li.empty")).to_have_text("No posts match this search.")
    await expect(page.locator("li.post")).to_have_count(0)

    # The hostile posts: shown as text, never run.
    await search.fill(TOKEN)
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("li.post")).to_have_count(len(HOSTILE_TEXTS))
    await expect(page.get_by_text("<script>window.__pwned=1</script>")).to_be_visible()
    await expect(page.get_by_text('<img src=x onerror="window.__pwned=1"> look')).to_be_visible()
    await expect(page.get_by_text('<svg onload="window.__pwned=1">')).to_be_visible()
    await expect(page.get_by_text("<style>body{display:none}</style>")).to_be_visible()
    texts = await page.locator("li.post .text").all_inner_texts()
    assert any("<script>" in t for t in texts), texts
    built = await page.evaluate(
        """() => ({
            scripts: document.querySelectorAll('script').length,
            imgs: document.querySelectorAll('img').length,
            svgs: document.querySelectorAll('svg').length,
            iframes: document.querySelectorAll('iframe').length,
            styles: document.querySelectorAll('style').length,
            jsLinks: document.querySelectorAll('a[href^="javascript:"]').length,
            onAttrs: [...document.querySelectorAll('*')].filter(
                el => [...el.attributes].some(a => a.name.startsWith('on'))).length,
            posts: document.querySelectorAll('ol.posts > li.post').length,
        })"""
    )
    assert built == {
        "scripts": 0,
        "imgs": 0,
        "svgs": 0,
        "iframes": 0,
        "styles": 0,
        "jsLinks": 0,
        "onAttrs": 0,
        "posts": len(HOSTILE_TEXTS),
    }
    await expect(page.locator("main")).to_be_visible()
    await page.screenshot(path=str(SCREENSHOT), full_page=True)

    # Markup typed into the search box is reflected as text, too.
    await search.fill("<script>window.__pwned=2</script>")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator(".summary q")).to_have_text("<script>window.__pwned=2</script>")
    await expect(search).to_have_value("<script>window.__pwned=2</script>")

    assert await pwned(page) is None
    assert await page.evaluate("() => document.querySelectorAll('script').length") == 0
    assert dialogs == []
    assert not [c for c in console if "Content Security Policy" in c or "pageerror" in c], console

    # Every search the browser made was audited with the stated purpose.
    ledger = AuditLedger(indexed.state_url)
    entries = ledger.entries()
    assert [e.detail["query"] for e in reversed(entries)] == [
        None,
        "Leeds",
        "qvxjzkwplumbob",
        TOKEN,
        "<script>window.__pwned=2</script>",
    ]
    assert {(e.purpose, e.reference, e.action) for e in entries} == {(PURPOSE, REFERENCE, "search")}
    assert ledger.verify() == (True, len(entries), None)
