"""Start and stop a real local Bluesky network (``devnet.js``) from Python.

Redis runs as a throwaway ``redis-server`` on a free loopback port; PostgreSQL
is the caller's (a database of the network's own is created on it). The
network prints one JSON line when it serves; :class:`DevNet` reads it and
offers the few XRPC calls tests and benchmarks need (accounts, posts, deletes).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
POST = "app.bsky.feed.post"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


class Redis:
    """A throwaway redis-server on loopback, no persistence."""

    def __init__(self) -> None:
        exe = shutil.which("redis-server")
        if not exe:
            raise RuntimeError("redis-server is missing: run scripts/setup.sh test")
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, 20)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Postgres:
    """A throwaway PostgreSQL cluster on loopback (for benchmarks; the tests use the
    suite's ``postgres_url`` fixture). As root it runs as the ``bluelamp`` account,
    since PostgreSQL refuses to run as root (scripts/setup.sh test creates it)."""

    def __init__(self) -> None:
        import pwd

        self.root = Path(tempfile.mkdtemp(prefix="bluelamp-pg-"))
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "bluelamp"
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.port = _free_port()
        self.data = self.root / "data"
        self._run(
            _pg_bin("initdb"), "-D", str(self.data), "-U", "bluelamp", "--auth=trust", "--no-sync"
        )
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.root / "pg.log"),
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        self.url = f"postgresql+psycopg://bluelamp@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> None:
        subprocess.run(list(args), user=self.user, check=check, capture_output=True)

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    )
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is missing: run scripts/setup.sh test")
    return found


def create_database(sqlalchemy_url: str) -> str:
    """A fresh database on the server at ``sqlalchemy_url``; its libpq URL for Node."""
    import sqlalchemy

    name = "bsky" + uuid.uuid4().hex[:10]
    engine = sqlalchemy.create_engine(sqlalchemy_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    base = sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
    return base.rsplit("/", 1)[0] + f"/{name}"


@dataclass
class Account:
    did: str
    handle: str
    password: str
    access_jwt: str


class DevNet:
    """The running network: its URLs, and XRPC helpers over the PDS."""

    def __init__(self, postgres_url: str, *, start_timeout_s: float = 240) -> None:
        if not (HERE / "node_modules" / "@atproto" / "dev-env").is_dir():
            raise RuntimeError(
                f"{HERE}/node_modules is missing: run scripts/setup.sh test (npm ci there)"
            )
        self.redis = Redis()
        self.tmp = Path(tempfile.mkdtemp(prefix="bluelamp-devnet-"))
        env = {
            **os.environ,
            "DB_POSTGRES_URL": create_database(postgres_url),
            "DB_POSTGRES_SCHEMA": "devnet",
            "REDIS_HOST": self.redis.host,
            "TMPDIR": str(self.tmp),  # the PDS keeps its repos and blobs here
            "LOG_ENABLED": "false",
            "NODE_ENV": "development",
        }
        self._stderr: deque[str] = deque(maxlen=200)
        self.proc = subprocess.Popen(
            ["node", str(HERE / "devnet.js")],
            cwd=HERE,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        info = self._wait_ready(start_timeout_s)
        self.pds: str = info["pds"].replace("localhost", "127.0.0.1")
        self.bsky: str = info["bsky"].replace("localhost", "127.0.0.1")
        self.plc: str = info["plc"].replace("localhost", "127.0.0.1")
        self.firehose = self.pds.replace("http://", "ws://", 1)

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line.rstrip())

    def _wait_ready(self, timeout_s: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        result: dict[str, Any] = {}

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                if line.startswith("{"):
                    result.update(json.loads(line))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout_s)
        if not result.get("ready"):
            self.stop()
            tail = "\n".join(self._stderr)
            raise RuntimeError(f"the Bluesky dev network did not start in {timeout_s}s:\n{tail}")
        # Keep reading stdout so the child never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout or []], daemon=True).start()
        return result

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.redis.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------- XRPC
    async def xrpc(
        self,
        session: aiohttp.ClientSession,
        nsid: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        token: str | None = None,
        base: str | None = None,
    ) -> Any:
        url = f"{base or self.pds}/xrpc/{nsid}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if body is None:
            request = session.get(url, params=params, headers=headers)
        else:
            request = session.post(url, json=body, headers=headers)
        async with request as resp:
            data = await resp.json(content_type=None) if resp.content_length != 0 else None
            if resp.status >= 400:
                raise RuntimeError(f"{nsid} -> HTTP {resp.status}: {data}")
            return data

    async def create_account(self, session: aiohttp.ClientSession, name: str) -> Account:
        handle = f"{name}-{uuid.uuid4().hex[:6]}.test"
        password = uuid.uuid4().hex
        data = await self.xrpc(
            session,
            "com.atproto.server.createAccount",
            body={"handle": handle, "email": f"{handle}@example.test", "password": password},
        )
        return Account(data["did"], data["handle"], password, data["accessJwt"])

    async def create_post(
        self, session: aiohttp.ClientSession, account: Account, text: str, **fields: Any
    ) -> str:
        """Create a post; return its at:// URI."""
        record = {
            "$type": POST,
            "text": text,
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            **fields,
        }
        data = await self.xrpc(
            session,
            "com.atproto.repo.createRecord",
            body={"repo": account.did, "collection": POST, "record": record},
            token=account.access_jwt,
        )
        return str(data["uri"])

    async def delete_post(self, session: aiohttp.ClientSession, account: Account, uri: str) -> None:
        rkey = uri.rsplit("/", 1)[1]
        await self.xrpc(
            session,
            "com.atproto.repo.deleteRecord",
            body={"repo": account.did, "collection": POST, "rkey": rkey},
            token=account.access_jwt,
        )

    async def create_posts(
        self, session: aiohttp.ClientSession, account: Account, texts: list[str]
    ) -> list[str]:
        """Create many posts in one commit (``applyWrites``); return their URIs."""
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        writes = [
            {
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": POST,
                "value": {"$type": POST, "text": text, "createdAt": now},
            }
            for text in texts
        ]
        data = await self.xrpc(
            session,
            "com.atproto.repo.applyWrites",
            body={"repo": account.did, "writes": writes},
            token=account.access_jwt,
        )
        return [str(r["uri"]) for r in data.get("results", [])]


def with_firehose_source(settings: Any, service: str, name: str) -> Any:
    """``settings`` whose sources file holds one firehose source on ``service``
    (every post: the dev network has nothing to filter), for running the real
    ``Monitor`` in tests and benchmarks."""
    import yaml

    path = settings.data_dir / "sources.yaml"
    source = {
        "name": name,
        "kind": "bluesky",
        "mode": "firehose",
        "collect_all": True,
        "service": service,
    }
    path.write_text(yaml.safe_dump({"sources": [source]}), encoding="utf-8")
    collectors = settings.collectors.model_copy(update={"sources_file": path})
    return settings.model_copy(update={"collectors": collectors})
