"""One X API v2 tweet object (plus the response's ``includes``) to a :class:`Post`.

Tweet text is hostile: X sends ``&lt;`` ``&gt;`` ``&amp;`` entity-encoded,
and decoding them naively could turn text into markup, so every text field
goes through :func:`collectors.rss.to_plain_text` and every URL through
:func:`collectors.rss.safe_url`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bluelamp.post import (
    Author,
    Engagement,
    GeoPoint,
    Post,
    PostRef,
    SourceRef,
    make_id,
)
from collectors.rss import safe_url, to_plain_text

PLATFORM = "x"
_TWITTER_EPOCH_MS = 1_288_834_974_657  # X's snowflake ids count from here
_TWEET_ID = re.compile(r"^[0-9]{1,19}$")
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# X's pseudo-languages: undetermined, no text, media/hashtag/cashtag-only posts.
_NOT_A_LANGUAGE = {"und", "zxx", "qme", "qht", "qam", "qct", "qst", "art"}
_REF_KIND = {"replied_to": "reply", "quoted": "quote", "retweeted": "repost"}


class MalformedTweet(ValueError):
    """A tweet object that cannot become a Post; the message names it."""


def id_time(tweet_id: str | int) -> datetime:
    """When a post was created, from its snowflake id (accurate to the millisecond)."""
    ms = (int(tweet_id) >> 22) + _TWITTER_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


def newest(*ids: str | None) -> str | None:
    """The largest of some tweet ids (ids are numbers; compare them as numbers)."""
    present = [i for i in ids if i]
    return max(present, key=int) if present else None


@dataclass
class Includes:
    """A response's ``includes``, by id, for joining into its tweets."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    places: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, document: dict[str, Any]) -> Includes:
        raw = document.get("includes")
        if not isinstance(raw, dict):
            return cls()
        return cls(users=_by_id(raw.get("users")), places=_by_id(raw.get("places")))


def _by_id(items: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(items, list):
        return {}
    return {str(i["id"]): i for i in items if isinstance(i, dict) and i.get("id") is not None}


def describe(tweet: Any, index: int) -> str:
    tweet_id = tweet.get("id") if isinstance(tweet, dict) else None
    return f"post {tweet_id}" if tweet_id else f"data[{index}]"


def tweet_to_post(
    tweet: Any,
    includes: Includes,
    *,
    source: str,
    query: str | None,
    collected_at: datetime,
) -> Post:
    """The Post for one tweet object; :class:`MalformedTweet` when a required field is bad."""
    if not isinstance(tweet, dict):
        raise MalformedTweet(f"not an object: {type(tweet).__name__}")
    tweet_id = str(tweet.get("id") or "")
    if not _TWEET_ID.match(tweet_id):
        raise MalformedTweet(f"'id' missing or not a post id: {tweet_id[:40]!r}")
    raw_text = _full_text(tweet)
    if raw_text is None:
        raise MalformedTweet(f"post {tweet_id}: 'text' missing")

    user = includes.users.get(str(tweet.get("author_id") or ""), {})
    handle = _clean(user.get("username"), 256)
    try:
        return Post(
            id=make_id(PLATFORM, tweet_id),
            platform=PLATFORM,
            native_id=tweet_id,
            url=_status_url(handle, tweet_id),
            text=to_plain_text(raw_text),
            language=_language(tweet.get("lang")),
            created_at=_created_at(tweet.get("created_at"), tweet_id),
            collected_at=collected_at,
            author=Author(
                id=_clean(tweet.get("author_id"), 64),
                handle=handle,
                display_name=_clean(user.get("name"), 512),
                location=_clean(user.get("location"), 512),
            ),
            references=_references(tweet.get("referenced_tweets")),
            hashtags=_entity_values(tweet, "hashtags", "tag"),
            mentions=_entity_values(tweet, "mentions", "username"),
            links=_links(tweet),
            geo=_geo(tweet.get("geo"), includes),
            engagement=_engagement(tweet.get("public_metrics")),
            source=SourceRef(name=source, query=query),
        )
    except ValueError as exc:  # pydantic's ValidationError
        raise MalformedTweet(f"post {tweet_id}: {str(exc)[:300]}") from exc


def _full_text(tweet: dict[str, Any]) -> str | None:
    """A long post's whole text is in ``note_tweet``; ``text`` then holds the first 280."""
    note = tweet.get("note_tweet")
    if isinstance(note, dict) and isinstance(note.get("text"), str):
        return str(note["text"])
    text = tweet.get("text")
    return text if isinstance(text, str) else None


def _clean(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    return to_plain_text(str(value), limit) or None


def _status_url(handle: str | None, tweet_id: str) -> str:
    if handle and re.fullmatch(r"[A-Za-z0-9_]{1,50}", handle):
        return f"https://x.com/{handle}/status/{tweet_id}"
    return f"https://x.com/i/web/status/{tweet_id}"


def _language(value: Any) -> str | None:
    if not isinstance(value, str) or value in _NOT_A_LANGUAGE or not _LANG.match(value):
        return None
    return value


def _created_at(value: Any, tweet_id: str) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    return id_time(tweet_id)  # not requested, or garbled: the id knows


def _references(value: Any) -> list[PostRef]:
    refs = []
    for ref in value if isinstance(value, list) else []:
        if not isinstance(ref, dict):
            continue
        kind = _REF_KIND.get(str(ref.get("type")))
        ref_id = str(ref.get("id") or "")
        if kind and _TWEET_ID.match(ref_id):
            refs.append(
                PostRef(
                    kind=kind,
                    id=make_id(PLATFORM, ref_id),
                    url=f"https://x.com/i/web/status/{ref_id}",
                )
            )
    return refs


def _entities(tweet: dict[str, Any], name: str) -> list[dict[str, Any]]:
    entities = tweet.get("entities")
    items = entities.get(name) if isinstance(entities, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _entity_values(tweet: dict[str, Any], name: str, key: str) -> list[str]:
    values = (to_plain_text(str(i.get(key) or ""), 256) for i in _entities(tweet, name))
    return [v for v in values if v]


def _links(tweet: dict[str, Any]) -> list[str]:
    links = []
    for item in _entities(tweet, "urls"):
        url = safe_url(item.get("unwound_url")) or safe_url(item.get("expanded_url"))
        if url:
            links.append(url)
    return list(dict.fromkeys(links))


def _geo(value: Any, includes: Includes) -> GeoPoint | None:
    """The post's exact point when it has one, else its tagged place's bbox centre."""
    if not isinstance(value, dict):
        return None
    coordinates = value.get("coordinates")
    if isinstance(coordinates, dict):
        point = coordinates.get("coordinates")
        if isinstance(point, list) and len(point) == 2:
            found = _point(point[1], point[0])  # GeoJSON order: lon, lat
            if found:
                return found
    place = includes.places.get(str(value.get("place_id") or ""))
    geo = place.get("geo") if place else None
    bbox = geo.get("bbox") if isinstance(geo, dict) else None
    if isinstance(bbox, list) and len(bbox) == 4:
        try:
            west, south, east, north = (float(v) for v in bbox)
        except (TypeError, ValueError):
            return None
        return _point((south + north) / 2, (west + east) / 2)
    return None


def _point(lat: Any, lon: Any) -> GeoPoint | None:
    try:
        return GeoPoint(lat=float(lat), lon=float(lon))
    except (TypeError, ValueError):
        return None


def _engagement(value: Any) -> Engagement:
    metrics = value if isinstance(value, dict) else {}

    def count(key: str) -> int | None:
        number = metrics.get(key)
        return number if isinstance(number, int) and number >= 0 else None

    return Engagement(
        replies=count("reply_count"),
        reposts=count("retweet_count"),
        likes=count("like_count"),
        quotes=count("quote_count"),
        views=count("impression_count"),
    )
