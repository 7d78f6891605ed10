from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from bluelamp.pipeline import Drainer, indexer_for, layout_for
from bluelamp.spool import Spool
from indexer.engine import Connection, connect
from nlp.base import NlpDoc
from nlp.pipeline import Pipeline
from tests.conftest import make_settings
from tests.indexer.helpers import make_post


async def test_replicas_setting_reaches_the_index_template(
    tmp_path: Path, opensearch_url: str
) -> None:
    settings = make_settings(tmp_path, opensearch_url, search={"index_replicas": 1})
    engine = await connect(Connection.from_settings(settings.search, opensearch_url))
    try:
        await indexer_for(settings, engine).index_posts([make_post(1)], refresh=True)
        index = layout_for(settings).index_for(make_post(1).created_at)
        found = await engine.request("GET", f"/{index}/_settings")
        assert found[index]["settings"]["index"]["number_of_replicas"] == "1"
    finally:
        await engine.close()


class _Breaks:
    """A component with a bug: it writes a field, then fails half-way."""

    name: ClassVar[str] = "breaks"
    version: ClassVar[str] = "b1"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[str, ...]] = ("enrichment.neighbourhood",)
    costly: ClassVar[bool] = False

    def __call__(self, docs: list[NlpDoc]) -> None:
        docs[0].post.enrichment.neighbourhood = "partial"
        raise RuntimeError("model exploded")


async def test_a_failing_model_never_loses_posts(tmp_path: Path, opensearch_url: str) -> None:
    settings = make_settings(tmp_path, opensearch_url)
    engine = await connect(Connection.from_settings(settings.search, opensearch_url))
    spool = Spool(tmp_path / "spool.sqlite3")
    try:
        spool.put([make_post(n) for n in range(5)])
        drainer = Drainer(spool, indexer_for(settings, engine), settings, Pipeline([_Breaks()]))
        totals = await drainer.drain(until_empty=True, give_up_after_s=10)
        assert totals.indexed == 5 and totals.enrich_errors == 5
        assert spool.stats().pending == 0
        await engine.refresh(layout_for(settings).alias)
        assert await engine.count(layout_for(settings).alias) == 5
    finally:
        spool.close()
        await engine.close()
