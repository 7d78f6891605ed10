"""Loads the seeded synthetic demo stream through the same spool and indexer as
real sources, so the demo exercises the real path end to end."""

from __future__ import annotations

import asyncio

from bluelamp.demo.generator import generate_posts
from bluelamp.pipeline import (
    Drainer,
    DrainTotals,
    indexer_for,
    layout_for,
    nlp_for,
    open_engine,
    open_spool,
)
from bluelamp.post import InvalidRecord, Post, SourceRef
from bluelamp.settings import Settings
from collectors.file_import import record_to_post
from indexer.engine import EngineError

DEMO_SOURCE = SourceRef(name="demo", query="synthetic (seeded generator)")


def demo_posts(count: int, seed: int) -> list[Post]:
    posts = []
    for record in generate_posts(count, seed=seed):
        try:
            posts.append(record_to_post(dict(record), DEMO_SOURCE))
        except InvalidRecord as exc:  # a generator bug, not user data: say so loudly
            raise ValueError(f"demo generator made an invalid record: {exc}") from exc
    return posts


async def load_demo(settings: Settings, *, count: int, seed: int) -> DrainTotals:
    spool = open_spool(settings)
    engine = await open_engine(settings)
    try:
        posts = await asyncio.to_thread(demo_posts, count, seed)
        await asyncio.to_thread(spool.put, posts)
        indexer = indexer_for(settings, engine)
        totals = await Drainer(spool, indexer, settings, nlp_for(settings)).drain(
            until_empty=True, give_up_after_s=60
        )
        await engine.refresh(layout_for(settings).alias)
        return totals
    finally:
        await engine.close()
        spool.close()


async def posts_indexed(settings: Settings) -> int:
    engine = await open_engine(settings)
    try:
        return await engine.count(layout_for(settings).alias)
    except EngineError as exc:
        if exc.status == 404:
            return 0
        raise
    finally:
        await engine.close()
