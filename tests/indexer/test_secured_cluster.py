"""BLUELAMP_SEARCH_URL with basic auth and a private CA, against a real
Elasticsearch that enforces both.

API keys are not exercised: creating one needs the security index, whose
mappings need the analysis-common module that the integ-test zip lacks
(``Unknown filter type [pattern_capture]``). The adapter sends them as the
standard ``Authorization: ApiKey`` header through the official clients."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bluelamp.settings import SearchSettings
from indexer.engine import Connection, EngineError, EngineUnavailable, connect

pytestmark = pytest.mark.elasticsearch


def _conn(cluster: Any, **kw: Any) -> Connection:
    search = SearchSettings(url=cluster.url, ca_file=cluster.ca_file, **kw)
    return Connection.from_settings(search, cluster.url)


async def test_basic_auth_over_tls_with_a_ca_file(secure_elasticsearch: Any) -> None:
    engine = await connect(
        _conn(
            secure_elasticsearch,
            username=secure_elasticsearch.username,
            password=SecretStr(secure_elasticsearch.password),
        )
    )
    try:
        assert engine.info.flavour == "elasticsearch" and engine.info.major == 9
        assert (await engine.health())["status"] in ("green", "yellow")
    finally:
        await engine.close()


async def test_wrong_password_says_so(secure_elasticsearch: Any) -> None:
    with pytest.raises(EngineError) as info:
        await connect(
            _conn(secure_elasticsearch, username="bluelamp_test", password=SecretStr("wrong"))
        )
    assert info.value.status == 401 and "credentials" in str(info.value)


async def test_an_unknown_ca_is_refused(secure_elasticsearch: Any) -> None:
    search = SearchSettings(
        url=secure_elasticsearch.url,
        username="bluelamp_test",
        password=SecretStr(secure_elasticsearch.password),
    )
    with pytest.raises(EngineUnavailable) as info:
        await connect(Connection.from_settings(search, secure_elasticsearch.url))
    assert "certificate" in str(info.value).lower() or "ssl" in str(info.value).lower()


def test_cli_ingest_and_search_through_the_environment(
    secure_elasticsearch: Any, tmp_path: Path
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "BLUELAMP_DATA_DIR": str(tmp_path),
        "BLUELAMP_SEARCH_URL": secure_elasticsearch.url,
        "BLUELAMP_SEARCH_USERNAME": secure_elasticsearch.username,
        "BLUELAMP_SEARCH_PASSWORD": secure_elasticsearch.password,
        "BLUELAMP_SEARCH_CA_FILE": str(secure_elasticsearch.ca_file),
        "BLUELAMP_SEARCH_INDEX_PREFIX": "secure",
    }
    source = tmp_path / "p.jsonl"
    source.write_text(
        '{"platform":"x","id":"9","text":"speeding on the A56 again",'
        '"created_at":"2026-11-21T08:00:00Z"}\n',
        encoding="utf-8",
    )
    ingest = subprocess.run(
        [sys.executable, "-m", "bluelamp", "ingest", str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ingest.returncode == 0, ingest.stderr
    found = subprocess.run(
        [
            sys.executable,
            "-m",
            "bluelamp",
            "search",
            "speeding",
            "--purpose",
            "roads policing review",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert found.returncode == 0 and "1 posts match" in found.stdout, found.stderr
    assert secure_elasticsearch.password not in ingest.stdout + ingest.stderr + found.stdout
