"""The real CLI in a subprocess, against the real engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from bluelamp.audit import AuditLedger
from bluelamp.settings import Settings
from tests.conftest import ENGINE_ROOTS, cli_env

BLUELAMP = [sys.executable, "-m", "bluelamp"]


def _run(
    args: list[str], env: dict[str, str], timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BLUELAMP, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_ingest_reports_bad_lines_indexes_good_ones_and_fails(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.jsonl"
    good = {
        "platform": "x",
        "text": "moped snatch on Oxford Road #manchester",
        "created_at": "2026-11-20T21:15:00Z",
        "author_handle": "witness1",
    }
    path.write_text(
        "\n".join(
            [
                json.dumps({**good, "id": "1"}),
                json.dumps({**good, "id": "2", "created_at": "last tuesday"}),
                "{broken",
                json.dumps({**good, "id": "3", "text": "second moped report"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    env = cli_env(settings)
    result = _run(["ingest", str(path)], env)
    assert result.returncode == 1, result.stderr
    assert "mixed.jsonl:2 (record 2) rejected: created_at: not an ISO 8601" in result.stderr
    assert "mixed.jsonl:3 (record 3) rejected: not valid JSON" in result.stderr
    assert "4 records read; 2 accepted; 2 rejected; 2 indexed" in result.stdout
    found = _run(
        [
            "search",
            "moped",
            "--purpose",
            "test: moped thefts",
            "--reference",
            "OP-TEST-1",
            "--platform",
            "x",
        ],
        env,
    )
    assert found.returncode == 0, found.stderr
    assert "2 posts match" in found.stdout and "witness1" in found.stdout
    entry = AuditLedger(settings.state_url).entries(1)[0]
    assert (entry.action, entry.purpose, entry.reference) == (
        "search",
        "test: moped thefts",
        "OP-TEST-1",
    )
    assert entry.detail["query"] == "moped" and entry.detail["hits"] == 2


def test_search_without_a_purpose_is_refused(settings: Settings) -> None:
    result = _run(["search", "anything"], cli_env(settings))
    assert result.returncode == 2
    assert "--purpose" in result.stderr


def test_training_the_encoder_outside_the_training_environment_says_how(
    settings: Settings,
) -> None:
    # The test venv never has torch (CI would catch it if it did: this test would start
    # an hour of fine-tuning and time out).
    result = _run(["train", "encoder"], cli_env(settings), timeout=60)
    assert result.returncode != 0
    assert "torch" in result.stderr and "scripts/setup.sh train" in result.stderr
    result = _run(["train", "nonsense"], cli_env(settings), timeout=60)
    assert result.returncode == 2 and "unknown model" in result.stderr


def test_engine_start_twice_and_stop_when_stopped_are_harmless(
    opensearch_url: str, tmp_path: Path
) -> None:
    # The session engine lives in its own data dir; point a CLI at it.
    port = urlparse(opensearch_url).port
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLUELAMP_")}
    env["BLUELAMP_ENGINE_HTTP_PORT"] = str(port)
    env["BLUELAMP_DATA_DIR"] = str(ENGINE_ROOTS[opensearch_url])
    again = _run(["engine", "start"], env)
    assert again.returncode == 0 and "already running" in again.stdout, again.stderr
    status = _run(["engine", "status"], env)
    assert status.returncode == 0 and opensearch_url in status.stdout
    empty = {**env, "BLUELAMP_DATA_DIR": str(tmp_path)}
    stopped = _run(["engine", "stop"], empty)
    assert stopped.returncode == 0 and "was not running" in stopped.stdout
    not_running = _run(["engine", "status"], empty)
    assert not_running.returncode == 3 and "not running" in not_running.stdout


def test_missing_java_and_maven_give_one_line_with_the_fix(tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    env = {"PATH": str(bare), "HOME": str(tmp_path), "BLUELAMP_DATA_DIR": str(tmp_path)}
    result = _run(["engine", "start"], env)
    assert result.returncode == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "apt-get install" in lines[0] and ("Java" in lines[0] or "Maven" in lines[0])


def test_doctor_reports_each_check_with_a_fix(settings: Settings, tmp_path: Path) -> None:
    env = cli_env(settings)
    healthy = _run(["doctor"], env)
    assert healthy.returncode == 0, healthy.stdout
    for name in ("config", "java", "maven", "engine", "spool", "models"):
        assert f"ok   {name}" in healthy.stdout
    broken = _run(["doctor"], {**env, "BLUELAMP_SEARCH_URL": "http://127.0.0.1:9"})
    assert broken.returncode == 1
    assert "FAIL engine" in broken.stdout and "fix:" in broken.stdout


def test_config_errors_are_one_readable_line(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("web:\n  port: lots\n", encoding="utf-8")
    result = _run(["spool", "status"], {**cli_env(settings), "BLUELAMP_CONFIG": str(bad)})
    assert result.returncode != 0
    assert "web.port" in result.stderr and "Traceback" not in result.stderr


def test_ingest_enriches_posts_so_area_search_finds_them(
    tmp_path: Path, opensearch_url: str
) -> None:
    """The whole path with the real models: file -> spool -> NLP -> index -> search by area."""
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, opensearch_url, nlp={"enabled": True})
    path = tmp_path / "posts.jsonl"
    rows = [
        ("1", "someone just got stabbed outside the co-op in Salford, ambulance here now"),
        ("2", "car window smashed on Deansgate again last night #manchester"),
        ("3", "lovely sunny afternoon for a walk"),
    ]
    path.write_text(
        "".join(
            json.dumps({"platform": "x", "id": i, "text": t, "created_at": "2026-11-21T08:00:00Z"})
            + "\n"
            for i, t in rows
        ),
        encoding="utf-8",
    )
    env = cli_env(settings)
    result = _run(["ingest", str(path)], env, timeout=600)
    assert result.returncode == 0, result.stderr
    found = _run(
        ["search", "", "--area", "Greater Manchester Police", "--purpose", "area monitoring test"],
        env,
    )
    assert found.returncode == 0, found.stderr
    assert "2 posts match" in found.stdout, found.stdout
    enriched = _run(["enrich", str(path), str(tmp_path / "out.jsonl")], env, timeout=600)
    assert enriched.returncode == 0, enriched.stderr
    first = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert first["enrichment"]["force_area"] == "Greater Manchester Police"
    assert first["enrichment"]["crime"]["relevant"] is True
    assert set(first["enrichment"]["models"]) >= {"language", "encoder", "crime", "geoparser"}
