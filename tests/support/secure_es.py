"""A real Elasticsearch 9 with security on: TLS from a private CA and a
file-realm user for basic auth. Proves the BLUELAMP_SEARCH_* connection
settings against the server that enforces them."""

from __future__ import annotations

import base64
import json
import pwd
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bluelamp.settings import EngineSettings
from indexer.embedded import EmbeddedEngine, _chown_tree, _terminate

USER, PASSWORD = "bluelamp_test", "s3cret-Passw0rd"


@dataclass(frozen=True)
class SecureCluster:
    url: str
    ca_file: Path
    username: str
    password: str


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path) -> None:
    """A private CA and a server certificate for 127.0.0.1 signed by it."""
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Bluelamp Test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=folder,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "node.key",
        "-out",
        "node.csr",
        cwd=folder,
    )
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        "node.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "node.crt",
        cwd=folder,
    )


def start_secure_elasticsearch(root: Path, port: int) -> Iterator[SecureCluster]:
    settings = EngineSettings(flavour="elasticsearch", http_port=port)
    engine = EmbeddedEngine(settings, root)
    engine.fetch()
    home = root / "engine" / "elasticsearch" / f"elasticsearch-{settings.elasticsearch_version}"
    certs = home / "config" / "certs"
    certs.mkdir(exist_ok=True)
    make_certificates(certs)
    cmd, env, user = engine.elasticsearch_command(
        port,
        {
            "xpack.security.enabled": "true",
            "xpack.security.http.ssl.enabled": "true",
            "xpack.security.http.ssl.certificate": "certs/node.crt",
            "xpack.security.http.ssl.key": "certs/node.key",
            "xpack.security.transport.ssl.enabled": "false",
        },
    )
    if user:  # the certificates were made after the tree was handed over
        _chown_tree(certs, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    subprocess.run(
        [
            str(home / "bin" / "elasticsearch-users"),
            "useradd",
            USER,
            "-p",
            PASSWORD,
            "-r",
            "superuser",
        ],
        env=env,
        check=True,
        capture_output=True,
        user=user,
    )
    log_path = root / "secure.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, user=user
    )
    cluster = SecureCluster(f"https://127.0.0.1:{port}", certs / "ca.crt", USER, PASSWORD)
    try:
        _wait_ready(cluster, proc, log_path)
        yield cluster
    finally:
        _terminate(proc.pid, grace_s=30)
        log.close()


def _wait_ready(cluster: SecureCluster, proc: subprocess.Popen[bytes], log: Path) -> None:
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    token = base64.b64encode(f"{cluster.username}:{cluster.password}".encode()).decode()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"secure Elasticsearch exited: {log.read_text()[-2000:]}")
        request = urllib.request.Request(
            f"{cluster.url}/_cluster/health", headers={"Authorization": f"Basic {token}"}
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=2) as resp:
                if json.loads(resp.read())["status"] in ("green", "yellow"):
                    return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(1)
    raise RuntimeError(f"secure Elasticsearch not ready: {log.read_text()[-2000:]}")
