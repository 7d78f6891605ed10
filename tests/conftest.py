"""Real services for the suite: an embedded OpenSearch (and Elasticsearch 9 for
the contract tests), started once per session. No engine is mocked anywhere."""

from __future__ import annotations

import os
import random
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bluelamp.settings import EngineSettings, Settings, load_settings
from indexer.embedded import EmbeddedEngine
from indexer.engine import Connection, SearchEngine, connect

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

# Tests configure themselves explicitly; nothing from the caller's shell leaks in.
for _name in [n for n in os.environ if n.startswith("BLUELAMP_")]:
    del os.environ[_name]


def free_port(low: int = 0, high: int = 0) -> int:
    """A free loopback port, from [low, high) when given."""
    candidates = range(low, high) if low else [0]
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError(f"no free port in {low}-{high}")


def engine_port() -> int:
    # The OpenSearch runner only serves HTTP on 9201-9299; the transport port is +100.
    while True:
        port = free_port(9202 + random.randrange(0, 80), 9290)
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port + 100)) != 0:
                return port


ENGINE_ROOTS: dict[str, Path] = {}  # engine url -> the data dir it runs from


def _start(flavour: str, root: Path) -> Iterator[str]:
    port = engine_port()
    engine = EmbeddedEngine(
        EngineSettings(
            flavour=flavour,
            http_port=port,
            heap_mb=512,  # type: ignore[arg-type]
            start_timeout_s=240,
        ),
        root,
    )
    status = engine.start()
    assert status.url
    ENGINE_ROOTS[status.url] = root
    try:
        yield status.url
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def opensearch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _start("opensearch", tmp_path_factory.mktemp("opensearch"))


@pytest.fixture(scope="session")
def elasticsearch_url() -> Iterator[str]:
    # Not under pytest's 0700 temp dir: Elasticsearch runs as a service account
    # when the suite runs as root, and must be able to reach its files.
    root = Path(tempfile.mkdtemp(prefix="bluelamp-es-"))
    root.chmod(0o755)
    try:
        yield from _start("elasticsearch", root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(
    params=["opensearch", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)]
)
def engine_url(request: pytest.FixtureRequest) -> str:
    """Both real engines, for contract tests that must hold on each."""
    return str(request.getfixturevalue(f"{request.param}_url"))


def make_settings(tmp: Path, url: str, **extra: Any) -> Settings:
    prefix = "t" + uuid.uuid4().hex[:10]
    search = {"url": url, "index_prefix": prefix, "request_timeout_s": 30}
    search.update(extra.pop("search", {}))
    indexer = {"backoff_base_s": 0.05, "backoff_max_s": 0.5}
    indexer.update(extra.pop("indexer", {}))
    # Enrichment is off unless a test is about it: it has its own tests, and
    # loading the models in every indexing test would only slow the suite.
    nlp = {"enabled": False}
    nlp.update(extra.pop("nlp", {}))
    return load_settings(data_dir=tmp, search=search, indexer=indexer, nlp=nlp, **extra)


@pytest.fixture
def settings(tmp_path: Path, opensearch_url: str) -> Settings:
    """Settings on the real OpenSearch, with indices of this test's own."""
    return make_settings(tmp_path, opensearch_url)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[SearchEngine]:
    eng = await connect(Connection.from_settings(settings.search, settings.search.url or ""))
    yield eng
    await eng.close()


def cli_env(settings: Settings) -> dict[str, str]:
    """Environment for running the real CLI as a subprocess against ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLUELAMP_")}
    env.update(
        BLUELAMP_DATA_DIR=str(settings.data_dir),
        BLUELAMP_SEARCH_URL=settings.search.url or "",
        BLUELAMP_SEARCH_INDEX_PREFIX=settings.search.index_prefix,
        BLUELAMP_INDEXER_BACKOFF_BASE_S="0.05",
        BLUELAMP_INDEXER_BACKOFF_MAX_S="0.5",
        BLUELAMP_LOG_FORMAT="json",
        BLUELAMP_NLP_ENABLED="true" if settings.nlp.enabled else "false",
    )
    return env


@pytest.fixture(scope="session")
def secure_elasticsearch() -> Iterator[Any]:
    """Elasticsearch 9 with TLS (private CA) and basic auth."""
    from tests.support.secure_es import start_secure_elasticsearch

    root = Path(tempfile.mkdtemp(prefix="bluelamp-secure-es-"))
    root.chmod(0o755)
    try:
        yield from start_secure_elasticsearch(root, engine_port())
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    )
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is missing: run scripts/setup.sh test")
    return found


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on loopback, in a throwaway cluster."""
    import pwd
    import subprocess

    root = Path(tempfile.mkdtemp(prefix="bluelamp-pg-"))
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = "bluelamp"
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    port = free_port(15432, 15532)
    data = root / "data"
    run = {"user": user, "check": True, "capture_output": True}
    subprocess.run(
        [_pg_bin("initdb"), "-D", str(data), "-U", "bluelamp", "--auth=trust", "--no-sync"], **run
    )  # type: ignore[call-overload]
    subprocess.run(
        [
            _pg_bin("pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(root / "pg.log"),
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ],
        **run,
    )  # type: ignore[call-overload]
    try:
        yield f"postgresql+psycopg://bluelamp@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            user=user,
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The state database on both supported servers."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    base = str(request.getfixturevalue("postgres_url"))
    # A database of the test's own keeps tests independent.
    import sqlalchemy

    name = "t" + uuid.uuid4().hex[:12]
    engine = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return base.rsplit("/", 1)[0] + f"/{name}"
