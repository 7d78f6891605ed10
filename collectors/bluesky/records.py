"""``app.bsky.feed.post`` records to Posts, identically from search and firehose.

Native id: the post's AT URI, ``at://<did>/app.bsky.feed.post/<rkey>``. Search
results carry it as ``uri``; a firehose commit gives the repo DID and the op
path ``app.bsky.feed.post/<rkey>``, from which the same URI is built. The URI
always names the DID (never the handle, which can change), so one post has one
id whichever way it came, and reply and quote references (also AT URIs) point
at the ids their targets get. The web URL uses the DID for the same reason.

Record text is plain text on Bluesky, but attacker-controlled: it goes through
``to_plain_text`` like every platform's text (markup stripped, ``<`` that could
open a tag neutralised, zero-width characters removed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import libipld
from pydantic import ValidationError

from bluelamp.post import (
    MAX_TEXT_CHARS,
    Author,
    Engagement,
    InvalidRecord,
    Media,
    Post,
    PostRef,
    SourceRef,
    make_id,
    reasons_from,
)
from bluelamp.text import strip_invisible
from collectors.rss import safe_url, to_plain_text

PLATFORM = "bluesky"
POST_COLLECTION = "app.bsky.feed.post"
_DID = re.compile(r"^did:[a-z]+:[A-Za-z0-9._:%-]{1,200}$")
_RKEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_SPACE = re.compile(r"\s+")
_MARKUP = re.compile(r"[<&]")
_HANDLE = re.compile(r"^[A-Za-z0-9.-]{1,253}$")


def post_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST_COLLECTION}/{rkey}"


def parse_post_uri(uri: Any) -> tuple[str, str] | None:
    """``(did, rkey)`` of a post's AT URI, or None for anything else."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    if len(parts) != 3 or parts[1] != POST_COLLECTION:
        return None
    did, _, rkey = parts
    if not _DID.match(did) or not _RKEY.match(rkey):
        return None
    return did, rkey


def post_id(did: str, rkey: str) -> str:
    """The Bluelamp id (``bluesky:at://...``) of a post."""
    return make_id(PLATFORM, post_uri(did, rkey))


def web_url(did: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{did}/post/{rkey}"


def plain(value: Any, limit: int = MAX_TEXT_CHARS) -> str:
    """Hostile text to plain text; a fast path for text with no markup characters."""
    if not isinstance(value, str):
        return ""
    if _MARKUP.search(value):
        return to_plain_text(value, limit)
    return _SPACE.sub(" ", strip_invisible(value)).strip()[:limit]


def parse_time(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise ValueError("missing")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def cid_text(value: Any) -> str | None:
    """A CID link as text: JSON gives ``{"$link": ...}``, DAG-CBOR the binary CID."""
    if isinstance(value, Mapping):
        value = value.get("$link")
    elif isinstance(value, bytes):
        try:
            value = libipld.encode_cid(value)
        except ValueError:
            return None
    if isinstance(value, str) and value.isalnum() and len(value) < 200:
        return value
    return None


def _ref(kind: Literal["reply", "quote"], uri: Any) -> PostRef | None:
    parsed = parse_post_uri(uri)
    if parsed is None:
        return None
    return PostRef(kind=kind, id=post_id(*parsed), url=web_url(*parsed))


def _references(record: Mapping[str, Any]) -> list[PostRef]:
    refs: list[PostRef] = []
    reply = record.get("reply")
    if isinstance(reply, Mapping):
        parent = reply.get("parent")
        ref = _ref("reply", parent.get("uri")) if isinstance(parent, Mapping) else None
        if ref:
            refs.append(ref)
    embed = record.get("embed")
    if isinstance(embed, Mapping):
        quoted = embed.get("record")
        if isinstance(quoted, Mapping) and isinstance(quoted.get("record"), Mapping):
            quoted = quoted["record"]  # app.bsky.embed.recordWithMedia
        ref = _ref("quote", quoted.get("uri")) if isinstance(quoted, Mapping) else None
        if ref:
            refs.append(ref)
    return refs


def _facets(record: Mapping[str, Any]) -> tuple[list[str], list[str], list[str]]:
    tags: list[str] = [plain(t, 64) for t in record.get("tags") or [] if isinstance(t, str)]
    mentions: list[str] = []
    links: list[str] = []
    for facet in record.get("facets") or []:
        if not isinstance(facet, Mapping):
            continue
        for feature in facet.get("features") or []:
            if not isinstance(feature, Mapping):
                continue
            kind = str(feature.get("$type", ""))
            if kind.endswith("#tag") and isinstance(feature.get("tag"), str):
                tags.append(plain(feature["tag"], 64))
            elif kind.endswith("#mention") and _DID.match(str(feature.get("did", ""))):
                mentions.append(str(feature["did"]))
            elif kind.endswith("#link"):
                url = safe_url(feature.get("uri"))
                if url:
                    links.append(url)
    embed = record.get("embed")
    if isinstance(embed, Mapping) and isinstance(embed.get("external"), Mapping):
        url = safe_url(embed["external"].get("uri"))
        if url:
            links.append(url)
    return [t for t in tags if t], mentions, list(dict.fromkeys(links))


def _media(record: Mapping[str, Any], did: str) -> list[Media]:
    embed = record.get("embed")
    if not isinstance(embed, Mapping):
        return []
    if isinstance(embed.get("media"), Mapping):  # recordWithMedia
        embed = embed["media"]
    out: list[Media] = []
    for image in embed.get("images") or []:
        if not isinstance(image, Mapping) or not isinstance(image.get("image"), Mapping):
            continue
        cid = cid_text(image["image"].get("ref"))
        if cid:
            out.append(
                Media(
                    url=f"https://cdn.bsky.app/img/feed_fullsize/plain/{did}/{cid}@jpeg",
                    type="image",
                    alt_text=plain(image.get("alt"), 5_000) or None,
                )
            )
    return out


def _language(record: Mapping[str, Any]) -> str | None:
    langs = record.get("langs")
    if isinstance(langs, list) and langs and isinstance(langs[0], str):
        lang = langs[0].strip()
        primary, _, rest = lang.partition("-")
        lang = primary.lower() + (f"-{rest}" if rest else "")
        return lang if _LANG.match(lang) else None
    return None


def record_to_post(
    record: Any,
    *,
    did: str,
    rkey: str,
    source: str,
    query: str | None = None,
    handle: str | None = None,
    display_name: str | None = None,
    engagement: Engagement | None = None,
) -> Post:
    """One post record as a Post; :class:`InvalidRecord` (naming the fields) if it is
    not a usable ``app.bsky.feed.post`` record."""
    if not isinstance(record, Mapping):
        raise InvalidRecord(["record: not an object"])
    problems: list[str] = []
    text = record.get("text")
    if not isinstance(text, str):
        problems.append("text: missing or not a string")
    try:
        created_at = parse_time(record.get("createdAt"))
    except ValueError as exc:
        problems.append(f"createdAt: {exc or 'not a datetime'}")
    if not _DID.match(did) or not _RKEY.match(rkey):
        problems.append("uri: not a valid DID and record key")
    if problems:
        raise InvalidRecord(problems)
    tags, mentions, links = _facets(record)
    handle = handle if handle and _HANDLE.match(handle) else None
    uri = post_uri(did, rkey)
    try:
        return Post(
            id=make_id(PLATFORM, uri),
            platform=PLATFORM,
            native_id=uri,
            url=web_url(did, rkey),
            text=plain(text),
            language=_language(record),
            created_at=created_at,
            author=Author(id=did, handle=handle, display_name=plain(display_name, 512) or None),
            references=_references(record),
            hashtags=tags,
            mentions=mentions,
            links=links,
            media=_media(record, did),
            engagement=engagement or Engagement(),
            source=SourceRef(name=source, query=query),
        )
    except ValidationError as exc:
        raise InvalidRecord(reasons_from(exc)) from exc


def view_to_post(view: Any, *, source: str, query: str | None) -> Post:
    """A ``app.bsky.feed.defs#postView`` (a search result) as a Post."""
    if not isinstance(view, Mapping):
        raise InvalidRecord(["post: not an object"])
    parsed = parse_post_uri(view.get("uri"))
    if parsed is None:
        raise InvalidRecord([f"uri: not a post AT URI: {str(view.get('uri'))[:200]!r}"])
    author = view.get("author") if isinstance(view.get("author"), Mapping) else {}
    assert isinstance(author, Mapping)

    def count(name: str) -> int | None:
        value = view.get(name)
        return value if isinstance(value, int) and value >= 0 else None

    return record_to_post(
        view.get("record"),
        did=parsed[0],
        rkey=parsed[1],
        source=source,
        query=query,
        handle=author.get("handle") if isinstance(author.get("handle"), str) else None,
        display_name=author.get("displayName"),
        engagement=Engagement(
            replies=count("replyCount"),
            reposts=count("repostCount"),
            likes=count("likeCount"),
            quotes=count("quoteCount"),
        ),
    )
