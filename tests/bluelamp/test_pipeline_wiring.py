from __future__ import annotations

from pathlib import Path

from bluelamp.pipeline import indexer_for, layout_for
from indexer.engine import Connection, connect
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
