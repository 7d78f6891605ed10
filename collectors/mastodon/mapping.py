"""A Mastodon status as a :class:`bluelamp.post.Post`.

The native id is ``<instance host>/<status id>`` (e.g. ``mastodon.social/113…``):
status ids are per-instance, so the same number on two instances is two
statuses, and a streamed ``delete`` (which carries only the local id) maps to
exactly the post it deletes.

Boosts (reblogs): by default the boosted status is collected in place of the
boost (``reblogs: original``): its text is what is being spread, it is keyed by
its own id so boosting it again adds nothing, and thematic monitoring needs no
list of who boosted. ``reblogs: repost`` also keeps the boost itself as a post
by the booster with a ``repost`` reference; ``reblogs: skip`` drops boosts.

Status text is hostile: ``content``, ``spoiler_text``, display names and media
descriptions go through :func:`collectors.rss.to_plain_text`, URLs through
:func:`collectors.rss.safe_url`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, Literal

from bluelamp.post import (
    MAX_TEXT_CHARS,
    Author,
    Engagement,
    Media,
    Post,
    PostRef,
    SourceRef,
    make_id,
)
from collectors.mastodon.config import MastodonSource
from collectors.mastodon.ids import status_id
from collectors.rss import safe_url, to_plain_text

PLATFORM = "mastodon"
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_MEDIA_TYPES: dict[str, Literal["image", "video", "gif", "audio", "other"]] = {
    "image": "image",
    "video": "video",
    "gifv": "gif",
    "audio": "audio",
}


def post_id(host: str, local_id: str) -> str:
    """The Post id of status ``local_id`` on ``host``."""
    return make_id(PLATFORM, f"{host}/{local_id}")


class _Anchors(HTMLParser):
    """Hrefs of ordinary links in status HTML (mentions and hashtags excluded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        href = safe_url(values.get("href"))
        if href and "mention" not in classes and "hashtag" not in classes:
            self.hrefs.append(href)


def _links(content: str, card: Any) -> list[str]:
    parser = _Anchors()
    try:
        parser.feed(content)
        parser.close()
    except Exception:  # noqa: S110 - links are a nicety; the text is already safe
        pass
    links = parser.hrefs
    if isinstance(card, dict) and (url := safe_url(card.get("url"))):
        links.append(url)
    return list(dict.fromkeys(links))[:50]


def _required(data: Mapping[str, Any], key: str) -> Any:
    value = data.get(key)
    if value is None or value == "":
        raise ValueError(f"{key}: missing")
    return value


def _when(value: Any) -> datetime:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"created_at: not an ISO 8601 time: {str(value)[:40]!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _author(account: Any, host: str) -> Author:
    if not isinstance(account, dict):
        raise ValueError("account: missing")
    handle = _handle(str(_required(account, "acct")), host)
    return Author(
        id=f"{host}/{status_id(account.get('id'))}",
        handle=handle,
        display_name=to_plain_text(str(account.get("display_name") or ""), 512) or None,
    )


def _handle(acct: str, host: str) -> str:
    """Local accounts have a bare acct ("admin"); every handle becomes user@host."""
    acct = to_plain_text(acct, 200).lstrip("@")
    if not acct.strip("@"):
        raise ValueError("account.acct: empty once made safe")
    return (acct if "@" in acct else f"{acct}@{host.split(':')[0]}")[:256]


def _media(items: Any) -> list[Media]:
    out: list[Media] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        url = safe_url(item.get("url")) or safe_url(item.get("remote_url"))
        if url is None:
            continue
        alt = to_plain_text(item.get("description"), 5_000) or None
        kind = _MEDIA_TYPES.get(str(item.get("type")), "other")
        out.append(Media(url=url, type=kind, alt_text=alt))
    return out


def status_to_post(
    status: Mapping[str, Any], *, host: str, source: str, query: str | None, fetched_at: datetime
) -> Post:
    """One Mastodon status (not a boost wrapper) as a Post; ValueError if unusable."""
    local = status_id(status.get("id"))
    ident = f"{host}/{local}"
    content = to_plain_text(str(status.get("content") or ""))
    spoiler = to_plain_text(str(status.get("spoiler_text") or ""), 2_000)
    text = f"{spoiler}\n\n{content}" if spoiler and content else (spoiler or content)
    refs: list[PostRef] = []
    if status.get("in_reply_to_id") is not None:
        parent = status_id(status.get("in_reply_to_id"))
        refs.append(PostRef(kind="reply", id=post_id(host, parent)))
    quote_of = status.get("quote")
    if isinstance(quote_of, dict) and isinstance(quote_of.get("quoted_status"), dict):
        quoted = quote_of["quoted_status"]
        refs.append(
            PostRef(
                kind="quote",
                id=post_id(host, status_id(quoted.get("id"))),
                url=safe_url(quoted.get("url")),
            )
        )
    language = status.get("language")
    tags = [t.get("name") for t in status.get("tags") or [] if isinstance(t, dict)]
    mentions = [m.get("acct") for m in status.get("mentions") or [] if isinstance(m, dict)]
    return Post(
        id=make_id(PLATFORM, ident),
        platform=PLATFORM,
        native_id=ident,
        url=safe_url(status.get("url")) or safe_url(status.get("uri")),
        text=text[:MAX_TEXT_CHARS],
        language=language if isinstance(language, str) and _LANGUAGE.match(language) else None,
        created_at=_when(_required(status, "created_at")),
        collected_at=fetched_at,
        author=_author(status.get("account"), host),
        references=refs,
        hashtags=[to_plain_text(t, 200) for t in tags if isinstance(t, str)],
        mentions=[_handle(m, host) for m in mentions if isinstance(m, str)],
        links=_links(str(status.get("content") or ""), status.get("card")),
        media=_media(status.get("media_attachments")),
        engagement=Engagement(
            replies=_count(status.get("replies_count")),
            reposts=_count(status.get("reblogs_count")),
            likes=_count(status.get("favourites_count")),
            quotes=_count(status.get("quotes_count")),
        ),
        source=SourceRef(name=source, query=query),
    )


def statuses_to_posts(
    statuses: Iterable[Any],
    config: MastodonSource,
    *,
    query: str | None,
    fetched_at: datetime,
) -> tuple[list[Post], list[str]]:
    """Posts and warnings: a malformed status is skipped with a warning naming it."""
    posts: list[Post] = []
    warnings: list[str] = []
    for index, status in enumerate(statuses):
        label = f"status #{index}"
        try:
            if not isinstance(status, dict):
                raise ValueError("not a JSON object")
            label = f"status {str(status.get('id'))[:40]!r}"
            posts.extend(_convert(status, config, query=query, fetched_at=fetched_at))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            reason = " ".join(str(exc).split())[:300]
            warnings.append(f"{config.name}: {label} skipped: {reason}")
    return posts, warnings


def _convert(
    status: Mapping[str, Any], config: MastodonSource, *, query: str | None, fetched_at: datetime
) -> list[Post]:
    def post(s: Mapping[str, Any]) -> Post:
        return status_to_post(
            s, host=config.host, source=config.name, query=query, fetched_at=fetched_at
        )

    boosted = status.get("reblog")
    if not isinstance(boosted, dict):
        return [post(status)]
    if config.reblogs == "skip":
        status_id(status.get("id"))
        return []
    original = post(boosted)
    if config.reblogs == "original":
        return [original]
    boost = post({**status, "content": boosted.get("content"), "reblog": None})
    boost.references = [PostRef(kind="repost", id=original.id, url=original.url)]
    return [original, boost]
