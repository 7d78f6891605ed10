"""No accepted post is lost or duplicated: the ingesting process is killed with
SIGKILL at random moments, restarted each time, and the index is compared with
the input, id by id. Also: with the engine down, posts wait in the spool and
drain when it returns. Everything is real: the CLI in a subprocess, SQLite,
OpenSearch (behind a loopback proxy that can play dead)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from bluelamp.demo.generator import generate_posts
from bluelamp.pipeline import layout_for
from bluelamp.settings import Settings
from indexer.engine import SearchEngine
from tests.conftest import cli_env
from tests.support.proxy import FaultProxy

BLUELAMP = [sys.executable, "-m", "bluelamp"]


def _write_input(path: Path, count: int) -> tuple[set[str], int]:
    records = list(generate_posts(count, seed=11))
    # Collected twice (two sources, a re-run): must still be indexed once.
    records += records[:: max(1, count // 50)]
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return {f"{r['platform']}:{r['id']}" for r in records}, len(records)


async def _indexed_ids(engine: SearchEngine, settings: Settings) -> list[str]:
    alias = layout_for(settings).alias
    await engine.refresh(alias)
    ids: list[str] = []
    after: list[str] | None = None
    while True:
        body: dict[str, object] = {
            "size": 5000,
            "_source": False,
            "sort": [{"id": "asc"}],
            "query": {"match_all": {}},
        }
        if after:
            body["search_after"] = after
        hits = (await engine.search(alias, body))["hits"]["hits"]
        if not hits:
            return ids
        ids.extend(h["_id"] for h in hits)
        after = hits[-1]["sort"]


async def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    settings: Settings, engine: SearchEngine, tmp_path: Path
) -> None:
    source = tmp_path / "posts.jsonl"
    expected, _ = _write_input(source, 40_000)
    env = cli_env(settings)
    env["BLUELAMP_SPOOL_BATCH_SIZE"] = "500"
    rng = random.Random()
    seed = rng.randrange(1_000_000)
    rng.seed(seed)
    # Each run resumes where the last was killed, so runs must be short for the
    # kills to land mid-work (reading, spooling, bulk requests, acks) on a fast
    # machine as well as a busy one. Kill up to 6 times; stop early if a run
    # finishes on its own.
    kills = 0
    for _ in range(12):
        proc = subprocess.Popen(
            [*BLUELAMP, "ingest", str(source)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(1.2, 2.5))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        if kills == 6:
            break
    final = subprocess.run(
        [*BLUELAMP, "ingest", str(source)], env=env, capture_output=True, text=True, timeout=600
    )
    assert final.returncode == 0, (seed, final.stdout, final.stderr)
    assert kills >= 3, f"the process finished before most kills (seed {seed})"
    ids = await _indexed_ids(engine, settings)
    assert len(ids) == len(set(ids)), f"duplicates in the index (seed {seed})"
    assert set(ids) == expected, (
        f"seed {seed}: missing {len(expected - set(ids))}, extra {len(set(ids) - expected)}"
    )
    status = subprocess.run(
        [*BLUELAMP, "spool", "status"], env=env, capture_output=True, text=True, timeout=60
    )
    assert "pending 0" in status.stdout and "dead letters 0" in status.stdout


async def test_engine_outage_keeps_posts_in_the_spool_until_it_returns(
    settings: Settings, engine: SearchEngine, tmp_path: Path
) -> None:
    target = urlparse(settings.search.url or "")
    proxy = FaultProxy(target.hostname or "127.0.0.1", target.port or 80).start()
    try:
        source = tmp_path / "posts.jsonl"
        expected, lines = _write_input(source, 800)
        env = cli_env(settings)
        env["BLUELAMP_SEARCH_URL"] = proxy.url
        proxy.down()
        down = subprocess.run(
            [*BLUELAMP, "ingest", str(source), "--give-up-after", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert down.returncode == 3, down.stderr
        assert "unreachable" in down.stderr or "unavailable" in down.stderr
        status = subprocess.run(
            [*BLUELAMP, "spool", "status"], env=env, capture_output=True, text=True, timeout=60
        )
        # Every line is accepted and waits, duplicates included (indexing is idempotent).
        assert status.stdout.startswith(f"pending {lines} "), status.stdout
        assert await engine.count(layout_for(settings).alias) == 0
        proxy.up()
        back = subprocess.run(
            [*BLUELAMP, "drain"], env=env, capture_output=True, text=True, timeout=300
        )
        assert back.returncode == 0, back.stderr
        assert set(await _indexed_ids(engine, settings)) == expected
    finally:
        proxy.stop()
