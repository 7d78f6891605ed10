"""The web page and JSON API, in process, against the real embedded OpenSearch.

Posts reach the index the way real ones do: the seeded demo stream and a few
hand-made hostile posts go through the spool, the drainer and the bulk indexer.
Nothing is mocked; the only fake thing is the closed port used for the outage.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from bluelamp.audit import AuditLedger
from bluelamp.demo.loader import demo_posts, load_demo
from bluelamp.pipeline import Drainer, layout_for, open_engine, open_spool
from bluelamp.post import Post, validate_post
from bluelamp.settings import Settings
from bluelamp.text import display_text
from bluelamp.web.app import create_app
from indexer.bulk import BulkIndexer
from tests.conftest import free_port, make_settings

PURPOSE = "community tension monitoring, Moss Side"
REFERENCE = "OP-TEST-0042"
DEMO_COUNT = 300
TOKEN = "zqxhostile"  # in every hostile post and in no demo post
NONSENSE = "qvxjzkwplumbob"
INVISIBLE = ("\u200b", "\u200d", "\ufeff", "\u202e", "\u202c")
HOSTILE_TEXTS = (
    f"{TOKEN} <script>alert(1)</script> seen on Deansgate",
    f"{TOKEN} <img src=x onerror=alert(1)> look at this",
    f"{TOKEN} zero\u200bwidth\u200d and \ufeffbom and \u202eevil\u202c override",
    f'{TOKEN} "><svg onload=alert(1)> {{{{ 7*7 }}}} </p></li></ol><h1>fake</h1>',
)
HOSTILE_QUERIES = (
    'title:(a OR b) AND "x',
    '{"query":{"match_all":{}}}',
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "*",
    "(((",
    "a AND",
    "-",
    '"',
    "\\",
    "/.*/",
    "text:*",
    "a~10000",
    "DROP TABLE posts; --",
    "{{ 7*7 }}",
    "\u202eevil\u200b",
    "x" * 5000,
)


def demo_matching(word: str) -> list[Post]:
    """Demo posts with ``word`` in a searched field (text, author, hashtags)."""
    return [
        p
        for p in demo_posts(DEMO_COUNT, 3)
        if word
        in " ".join(
            [p.text, p.author.handle or "", p.author.display_name or "", *p.hashtags]
        ).lower()
    ]


def hostile_posts() -> list[Post]:
    now = datetime.now(UTC).replace(microsecond=0)
    return [
        validate_post(
            {
                "id": f"x:hostile-{n}",
                "platform": "x",
                "native_id": f"hostile-{n}",
                "text": text,
                "created_at": now - timedelta(minutes=n),
                "author": {"handle": f"<b>mallory{n}</b>", "display_name": "<i>M</i>"},
                "source": {"name": "test", "query": "hostile"},
            }
        )
        for n, text in enumerate(HOSTILE_TEXTS)
    ]


async def index_through_spool(settings: Settings, posts: list[Post]) -> None:
    """Spool -> drainer -> bulk indexer, the path collectors use."""
    spool = open_spool(settings)
    engine = await open_engine(settings)
    try:
        spool.put(posts)
        indexer = BulkIndexer(engine, layout_for(settings), settings.indexer)
        totals = await Drainer(spool, indexer, settings).drain(until_empty=True, give_up_after_s=30)
        await engine.refresh(layout_for(settings).alias)
    finally:
        await engine.close()
        spool.close()
    assert totals.indexed == len(posts), totals
    assert totals.failed == 0, totals


@pytest.fixture
async def loaded(settings: Settings) -> Settings:
    totals = await load_demo(settings, count=DEMO_COUNT, seed=3)
    assert totals.indexed == DEMO_COUNT
    await index_through_spool(settings, hostile_posts())
    return settings


@asynccontextmanager
async def app_client(settings: Settings, **transport: bool) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client wired straight into the app, with its lifespan run."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, **transport), base_url="http://testserver"
        ) as client,
    ):
        yield client


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as c:
        yield c


async def set_purpose(
    client: httpx.AsyncClient, purpose: str = PURPOSE, reference: str = REFERENCE
) -> httpx.Response:
    response = await client.post("/purpose", data={"purpose": purpose, "reference": reference})
    assert response.status_code == 303, response.text
    return response


def post_texts(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="text">(.*?)</p>\s*</li>', page, re.S)]


def post_platforms(page: str) -> list[str]:
    return re.findall(r'<span class="platform">([^<]*)</span>', page)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def page_tags(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every element the browser would build from the page, with its attributes."""
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser.tags


def summary_total(page: str) -> int:
    match = re.search(r'<p class="summary">([\d,]+) posts?', page)
    assert match, "no result summary on the page"
    return int(match.group(1).replace(",", ""))


# ------------------------------------------------------------------ purpose


async def test_without_a_purpose_the_page_asks_for_one_and_shows_no_posts(
    loaded: Settings, client: httpx.AsyncClient
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Why are you looking today?" in page
    assert 'action="/purpose"' in page
    assert 'name="purpose"' in page
    assert '<ol class="posts">' not in page
    assert post_texts(page) == []
    assert TOKEN not in page
    # A search without a purpose is not run, shown or audited.
    response = await client.get("/", params={"q": "Brixton"})
    assert '<ol class="posts">' not in response.text
    assert "Why are you looking today?" in response.text
    assert AuditLedger(loaded.state_url).entries() == []


@pytest.mark.parametrize("short", ["", "ab", "   ", "  x  "])
async def test_a_too_short_purpose_is_refused(
    loaded: Settings, client: httpx.AsyncClient, short: str
) -> None:
    response = await client.post("/purpose", data={"purpose": short, "reference": REFERENCE})
    assert response.status_code == 303
    assert response.headers["location"] == "/?missing_purpose=1"
    assert "bl_purpose" not in response.headers.get("set-cookie", "")
    assert "bl_purpose" not in client.cookies
    page = (await client.get("/?missing_purpose=1")).text
    assert "Why are you looking today?" in page
    assert post_texts(page) == []
    assert AuditLedger(loaded.state_url).entries() == []


async def test_a_forged_short_purpose_cookie_shows_no_posts_and_is_not_audited(
    loaded: Settings, client: httpx.AsyncClient
) -> None:
    client.cookies.set("bl_purpose", "x")
    response = await client.get("/")
    assert post_texts(response.text) == []
    assert "Why are you looking today?" in response.text  # asked again, not served
    assert "Traceback" not in response.text
    assert AuditLedger(loaded.state_url).entries() == []


async def test_purpose_cookie_is_httponly_and_strict(client: httpx.AsyncClient) -> None:
    response = await set_purpose(client)
    assert response.headers["location"] == "/"
    cookies = response.headers.get_list("set-cookie")
    purpose_cookie = next(c for c in cookies if c.startswith("bl_purpose="))
    assert "HttpOnly" in purpose_cookie
    assert "SameSite=strict" in purpose_cookie or "SameSite=Strict" in purpose_cookie
    assert client.cookies.get("bl_purpose")


async def test_purpose_with_markup_is_shown_escaped(
    loaded: Settings, client: httpx.AsyncClient
) -> None:
    await set_purpose(client, "<b>tension</b> review", "<i>REF</i>")
    page = (await client.get("/")).text
    assert "Purpose: <strong>&lt;b&gt;tension&lt;/b&gt; review</strong>" in page
    assert "&lt;i&gt;REF&lt;/i&gt;" in page
    assert "<b>tension</b>" not in page
    [entry, *_] = AuditLedger(loaded.state_url).entries()
    assert entry.purpose == "<b>tension</b> review"
    assert entry.reference == "<i>REF</i>"


async def test_purpose_with_welsh_and_non_latin1_characters_is_accepted(
    loaded: Settings,
) -> None:
    # UK forces write Welsh place names (ŵ, ŷ) and typographic dashes in purposes.
    purpose = "tensiwn cymunedol ym Mhont-y-pŵl — community tension"
    async with app_client(loaded, raise_app_exceptions=False) as client:
        response = await client.post("/purpose", data={"purpose": purpose, "reference": "Ŵ-1"})
        assert response.status_code == 303, (
            f"POST /purpose with a non-Latin-1 purpose answered {response.status_code}"
        )
        page = (await client.get("/")).text
        assert purpose in page
        assert post_texts(page)
        [entry, *_] = AuditLedger(loaded.state_url).entries()
        assert entry.purpose == purpose


# ------------------------------------------------------------ listing, search


async def test_with_a_purpose_the_page_lists_posts_newest_first(
    loaded: Settings, client: httpx.AsyncClient
) -> None:
    await set_purpose(client)
    response = await client.get("/")
    assert response.status_code == 200
    page = response.text
    assert f"Purpose: <strong>{html.escape(PURPOSE)}</strong>" in page
    assert f"ref <strong>{REFERENCE}</strong>" in page
    assert "Why are you looking today?" not in page
    texts = post_texts(page)
    assert len(texts) == 25
    assert summary_total(page) == DEMO_COUNT + len(HOSTILE_TEXTS)
    # The hostile posts were written "now", after the whole demo window.
    assert all(TOKEN in t for t in texts[: len(HOSTILE_TEXTS)])
    times = re.findall(r'<time datetime="([^"]+)"', page)
    assert times == sorted(times, reverse=True)
    assert 'class="synthetic"' in page
    assert "page=2" in page
    page2 = (await client.get("/", params={"page": 2})).text
    assert len(post_texts(page2)) == 25
    assert not set(post_texts(page2)) & set(texts)


async def test_search_finds_a_word_that_is_in_some_posts(
    loaded: Settings, client: httpx.AsyncClient
) -> None:
    await set_purpose(client)
    response = await client.get("/", params={"q": "Brixton"})
    assert response.status_code == 200
    page = response.text
    expected = demo_matching("brixton")
    assert 0 < len(expected) < 25
    assert summary_total(page) == len(expected)
    assert sorted(post_texts(page)) == sorted(display_text(p.text) for p in expected)
    assert "match <q>Brixton</q>" in page
    assert 'value="Brixton"' in page


async def test_search_for_a_nonsense_word_finds_nothing(
    loaded: Settings, client: httpx.AsyncClient
) -> None:
    await set_purpose(client)
    response = await client.get("/", params={"q": NONSENSE})
    assert response.status_code == 200
    assert summary_total(response.text) == 0
    assert post_texts(response.text) == []
    assert "No posts match this search." in response.text


async def test_platform_filter_limits_the_listing(
    loaded: Settings, client: httpx.AsyncClient
) -> None:
    await set_purpose(client)
    page = (await client.get("/", params={"platform": "reddit"})).text
    assert 0 < summary_total(page) < DEMO_COUNT
    assert set(post_platforms(page)) == {"reddit"}
    assert '<option value="reddit" selected>' in page


async def test_each_search_is_audited_with_its_purpose(
    loaded: Settings, client: httpx.AsyncClient
) -> None:
    await set_purpose(client)
    brixton = summary_total((await client.get("/", params={"q": "Brixton"})).text)
    await client.get("/", params={"q": NONSENSE})
    await client.get("/")
    api = await client.get("/api/posts", params={"purpose": "api check of Leeds", "q": "Leeds"})
    assert api.status_code == 200

    ledger = AuditLedger(loaded.state_url)
    entries = ledger.entries()
    assert [e.action for e in entries] == ["search"] * 4
    newest_api, listing, nonsense, first = entries
    for entry in (first, nonsense, listing):
        assert entry.purpose == PURPOSE
        assert entry.reference == REFERENCE
        assert entry.actor.startswith("web:")
        assert entry.detail["via"] == "web"
    assert first.detail["query"] == "Brixton"
    assert first.detail["hits"] == brixton
    assert nonsense.detail["query"] == NONSENSE
    assert nonsense.detail["hits"] == 0
    assert listing.detail["query"] is None
    assert listing.detail["hits"] == DEMO_COUNT + len(HOSTILE_TEXTS)
    assert newest_api.purpose == "api check of Leeds"
    assert newest_api.reference is None
    assert newest_api.detail["via"] == "api"
    assert newest_api.detail["query"] == "Leeds"
    assert newest_api.detail["hits"] == api.json()["total"]
    assert [e.seq for e in entries] == [4, 3, 2, 1]
    assert ledger.verify() == (True, 4, None)


# ------------------------------------------------------------------ hostile


async def test_hostile_post_text_is_escaped_never_markup(
    loaded: Settings, client: httpx.AsyncClient
) -> None:
    await set_purpose(client)
    response = await client.get("/", params={"q": TOKEN})
    assert response.status_code == 200
    page = response.text
    assert summary_total(page) == len(HOSTILE_TEXTS)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&#34;&gt;&lt;svg onload=alert(1)&gt;" in page
    assert "&lt;/p&gt;&lt;/li&gt;&lt;/ol&gt;&lt;h1&gt;fake&lt;/h1&gt;" in page
    assert "{{ 7*7 }}" in page  # data, never template code
    assert "&lt;b&gt;mallory0&lt;/b&gt;" in page
    tags = page_tags(page)
    assert not {"script", "img", "svg", "iframe", "b", "i"} & {t for t, _ in tags}
    assert not [a for _, attrs in tags for a, _ in attrs if a.startswith("on")]
    assert [t for t, _ in tags].count("h1") == 1
    for char in INVISIBLE:
        assert char not in page, f"U+{ord(char):04X} reached the page"
    # Invisible characters are removed, so the words they split are whole again.
    assert "zerowidth and bom and evil override" in page
    # The structure survives: exactly one list item per hostile post.
    assert page.count('<li class="post">') == len(HOSTILE_TEXTS)


async def test_the_search_text_is_reflected_escaped(
    loaded: Settings, client: httpx.AsyncClient
) -> None:
    await set_purpose(client)
    q = '"></title><script>alert(1)</script><input value="'
    response = await client.get("/", params={"q": q})
    assert response.status_code == 200
    page = response.text
    assert "<script" not in page.lower()
    assert "</title><" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'value="&#34;&gt;&lt;/title&gt;' in page


@pytest.mark.parametrize("q", HOSTILE_QUERIES, ids=lambda q: repr(q)[:30])
async def test_hostile_search_queries_answer_200(
    loaded: Settings, client: httpx.AsyncClient, q: str
) -> None:
    await set_purpose(client)
    response = await client.get("/", params={"q": q})
    assert response.status_code == 200, response.text[:2000]
    page = response.text
    assert "Traceback" not in page
    assert '<p class="error"' not in page
    assert summary_total(page) >= 0
    assert "<script" not in page.lower()
    api = await client.get("/api/posts", params={"purpose": PURPOSE, "q": q})
    assert api.status_code == 200, api.text[:2000]
    assert isinstance(api.json()["posts"], list)


async def test_query_dsl_in_the_search_box_is_just_words(
    loaded: Settings, client: httpx.AsyncClient
) -> None:
    await set_purpose(client)
    page = (await client.get("/", params={"q": '{"query":{"match_all":{}}}'})).text
    assert summary_total(page) < DEMO_COUNT


@pytest.mark.parametrize(
    "params",
    [
        {"platform": "<script>alert(1)</script>"},
        {"platform": "x", "q": "*"},
        {"area": '"}]}'},
        {"days": "1"},
        {"days": "3650", "page": "400"},
    ],
)
async def test_odd_filters_answer_200(
    loaded: Settings, client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    await set_purpose(client)
    response = await client.get("/", params=params)
    assert response.status_code == 200, response.text[:2000]
    assert "<script" not in response.text.lower()


# ------------------------------------------------------------------ headers


async def test_security_headers_forbid_all_script(loaded: Settings) -> None:
    async with app_client(loaded) as client:
        await set_purpose(client)
        for path in ("/", "/?q=Brixton", "/healthz", f"/api/posts?purpose={PURPOSE}"):
            response = await client.get(path)
            csp = response.headers.get("content-security-policy")
            assert csp, f"{path} has no Content-Security-Policy"
            directives = {
                d.split()[0]: d.split()[1:] for d in (p.strip() for p in csp.split(";")) if d
            }
            assert directives.get("default-src") == ["'none'"], csp
            assert "'unsafe-inline'" not in csp
            assert "'unsafe-eval'" not in csp
            assert directives.get("script-src", ["'none'"]) == ["'none'"], csp
            assert directives.get("script-src-elem", ["'none'"]) == ["'none'"], csp
            assert directives.get("script-src-attr", ["'none'"]) == ["'none'"], csp
            assert directives.get("frame-ancestors") == ["'none'"], csp
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"
        css = await client.get("/static/bluelamp.css")
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert "content-security-policy" in css.headers


# ---------------------------------------------------------------------- API


async def test_api_posts_requires_a_purpose(loaded: Settings, client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/posts", params={"q": "Brixton"})
    assert missing.status_code in (400, 422)
    for short in ("", "ab", "   "):
        response = await client.get("/api/posts", params={"purpose": short, "q": "Brixton"})
        assert response.status_code in (400, 422), short
        assert "posts" not in response.json()
    # A purpose cookie from the page does not stand in for the API's own purpose.
    await set_purpose(client)
    assert (await client.get("/api/posts")).status_code in (400, 422)
    assert AuditLedger(loaded.state_url).entries() == []


async def test_api_posts_returns_json_posts(loaded: Settings, client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/posts", params={"purpose": PURPOSE, "reference": REFERENCE, "q": "Brixton"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body["took_ms"], int)
    assert len(body["posts"]) == min(body["total"], 20)
    expected = demo_matching("brixton")
    assert body["total"] == len(expected)
    assert sorted(p["id"] for p in body["posts"]) == sorted(p.id for p in expected)
    for post in body["posts"]:
        Post.model_validate(post)
        assert post["synthetic"] is True

    everything = (await client.get("/api/posts", params={"purpose": PURPOSE, "size": 500})).json()
    assert everything["total"] == DEMO_COUNT + len(HOSTILE_TEXTS)
    assert len(everything["posts"]) == DEMO_COUNT + len(HOSTILE_TEXTS)
    assert len({p["id"] for p in everything["posts"]}) == len(everything["posts"])

    reddit = (
        await client.get("/api/posts", params={"purpose": PURPOSE, "platform": "reddit"})
    ).json()
    assert reddit["posts"]
    assert {p["platform"] for p in reddit["posts"]} == {"reddit"}

    # JSON carries the text as it was; it is served as JSON, never as HTML.
    hostile = (await client.get("/api/posts", params={"purpose": PURPOSE, "q": TOKEN})).json()
    assert sorted(p["text"] for p in hostile["posts"]) == sorted(HOSTILE_TEXTS)

    for bad in ({"size": 0}, {"size": 501}, {"offset": -1}, {"since": "yesterday"}):
        response = await client.get("/api/posts", params={"purpose": PURPOSE, **bad})
        assert response.status_code == 422, bad


async def test_healthz_says_ok(settings: Settings, client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["engine"]["flavour"] == "opensearch"
    assert body["engine"]["health"] in ("green", "yellow")


# ------------------------------------------------------------------ outage


async def test_engine_unreachable_answers_503_with_a_readable_error(tmp_path: Path) -> None:
    closed = make_settings(tmp_path, f"http://127.0.0.1:{free_port()}")
    async with app_client(closed) as client:
        # Without a purpose the page needs no engine.
        assert (await client.get("/")).status_code == 200
        await set_purpose(client)
        response = await client.get("/", params={"q": "Brixton"})
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("text/html")
        page = response.text
        assert '<p class="error" role="alert">The search engine is unavailable:' in page
        assert "unreachable" in page
        assert "Traceback" not in page
        assert 'File "' not in page
        assert post_texts(page) == []
        assert "Content-Security-Policy".lower() in response.headers

        health = await client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "degraded"

        api = await client.get("/api/posts", params={"purpose": PURPOSE})
        assert api.status_code == 503
        assert "unavailable" in api.json()["error"]

        # A failed search is not recorded as a consultation.
        assert AuditLedger(closed.state_url).entries() == []
