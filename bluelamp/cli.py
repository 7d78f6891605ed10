"""The ``bluelamp`` command line."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bluelamp.audit import AuditLedger, Justification
from bluelamp.errors import BluelampError
from bluelamp.logging import configure_logging
from bluelamp.settings import Settings, get_settings
from indexer.engine import EngineUnavailable

app = typer.Typer(
    help="Bluelamp: social-media intelligence and engagement monitor.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
engine_app = typer.Typer(help="Run the embedded search engine.", no_args_is_help=True)
spool_app = typer.Typer(help="Inspect the durable spool.", no_args_is_help=True)
audit_app = typer.Typer(help="Read and verify the audit ledger.", no_args_is_help=True)
demo_app = typer.Typer(help="The bundled synthetic demo stream.", no_args_is_help=True)
sources_app = typer.Typer(
    help="The sources Bluelamp collects from (config/sources.yaml).", no_args_is_help=True
)
app.add_typer(engine_app, name="engine")
app.add_typer(spool_app, name="spool")
app.add_typer(audit_app, name="audit")
app.add_typer(demo_app, name="demo")
app.add_typer(sources_app, name="sources")

# Piped output is read by people too: give tables room instead of 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
T = TypeVar("T")

# An existing, readable file in the import format (docs/import-format.md).
ImportFile = Annotated[
    Path,
    typer.Argument(
        exists=True, dir_okay=False, readable=True, help="JSON Lines or CSV in the import format"
    ),
]

EXIT_REJECTED = 1
EXIT_ERROR = 2
EXIT_ENGINE_DOWN = 3


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(settings.log)
    return settings


def handled(func: Callable[..., T]) -> Callable[..., T]:
    """Report expected errors in one line with a fix, not a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except EngineUnavailable as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(EXIT_ENGINE_DOWN) from None
        except BluelampError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# --------------------------------------------------------------------- engine
@engine_app.command("start")
@handled
def engine_start() -> None:
    """Start the embedded engine (harmless if it is already running)."""
    from indexer.embedded import EmbeddedEngine

    settings = _settings()
    engine = EmbeddedEngine(settings.engine, settings.data_dir)
    before = engine.status()
    if before.running:
        out.print(f"engine already running at {before.url} (pid {before.pid}, {before.health})")
        return
    out.print(f"starting the embedded {settings.engine.flavour} (first start downloads it)...")
    status = engine.start()
    out.print(f"engine running at {status.url} (pid {status.pid}, {status.health})")


@engine_app.command("stop")
@handled
def engine_stop() -> None:
    """Stop the embedded engine (harmless if it is not running)."""
    from indexer.embedded import EmbeddedEngine

    settings = _settings()
    stopped = EmbeddedEngine(settings.engine, settings.data_dir).stop()
    out.print("engine stopped" if stopped else "engine was not running")


@engine_app.command("status")
@handled
def engine_status() -> None:
    """Say whether the engine is running, where, and how healthy."""
    from indexer.embedded import EmbeddedEngine

    settings = _settings()
    if settings.search.url:
        out.print(f"using the configured cluster at {settings.search.url} (BLUELAMP_SEARCH_URL)")
    status = EmbeddedEngine(settings.engine, settings.data_dir).status()
    if status.running:
        out.print(
            f"embedded {status.flavour} running at {status.url} "
            f"(pid {status.pid}, health {status.health})"
        )
    else:
        out.print(f"embedded {status.flavour} not running ({status.detail})")
        if not settings.search.url:
            raise typer.Exit(EXIT_ENGINE_DOWN)


# --------------------------------------------------------------------- ingest
@app.command()
@handled
def ingest(
    file: ImportFile,
    restart: Annotated[
        bool, typer.Option(help="ignore the saved position and read it all")
    ] = False,
    give_up_after: Annotated[
        float,
        typer.Option(
            help="seconds of engine outage before exiting; spooled posts wait for `bluelamp drain`"
        ),
    ] = 60.0,
    purpose: Annotated[
        str, typer.Option(help="why this data is collected (audit ledger)")
    ] = "bulk import",
    reference: Annotated[
        str | None, typer.Option(help="operation, incident or crime number")
    ] = None,
) -> None:
    """Import posts from FILE; bad records are reported, good ones indexed.

    Exit status: 0 all indexed; 1 some records rejected; 3 engine unreachable
    (accepted posts stay spooled and are indexed by the next run or `bluelamp drain`).
    """
    from bluelamp.ingest import count_records, ingest_file

    why = Justification(purpose, reference).checked()  # refuse before collecting anything
    from bluelamp.pipeline import Drainer, indexer_for, nlp_for, open_engine, open_spool

    settings = _settings()

    async def main() -> Any:
        spool = open_spool(settings)
        engine = None
        engine_error = None
        try:
            engine = await open_engine(settings)
        except EngineUnavailable as exc:
            # Accept the file anyway: posts wait in the spool for the engine.
            engine_error = str(exc)
        try:
            drainer = None
            if engine is not None:
                indexer = indexer_for(settings, engine)
                drainer = Drainer(spool, indexer, settings, nlp_for(settings))
            total = count_records(file)
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=False,
                disable=not err.is_terminal,
            ) as progress:
                read_task = progress.add_task("read   ", total=total)
                index_task = progress.add_task("indexed", total=total)

                def on_reject(reject: Any) -> None:
                    progress.console.print(
                        f"[yellow]{escape(file.name)}:{reject.line}[/yellow] "
                        f"(record {reject.number}) rejected: {escape(reject.reason)}",
                        highlight=False,
                    )

                result = await ingest_file(
                    file,
                    spool,
                    drainer,
                    batch_size=settings.spool.batch_size,
                    restart=restart,
                    on_record=lambda n: progress.advance(read_task, n),
                    on_reject=on_reject,
                    on_drain=lambda t: progress.update(index_task, completed=t.indexed),
                    give_up_after_s=give_up_after,
                )
            if engine_error and result.pending_after:
                result.engine_error = engine_error
            return result
        finally:
            if engine is not None:
                await engine.close()
            spool.close()

    result = run_async(main())
    AuditLedger(settings.state_url).record(
        "ingest",
        why,
        {
            "file": str(file.resolve()),
            "read": result.read,
            "accepted": result.accepted,
            "rejected": len(result.rejects),
            "indexed": result.drain.indexed,
        },
    )
    if not err.is_terminal:
        for reject in result.rejects:
            err.print(
                f"{file.name}:{reject.line} (record {reject.number}) rejected: "
                f"{escape(reject.reason)}",
                highlight=False,
            )
    resumed = f", resumed after record {result.resumed_from}" if result.resumed_from else ""
    out.print(
        f"{result.read} records read{resumed}; {result.accepted} accepted; "
        f"{len(result.rejects)} rejected; {result.drain.indexed} indexed; "
        f"{result.drain.failed} refused by the engine; {result.pending_after} still spooled"
    )
    if result.drain.enrich_errors:
        err.print(
            f"[yellow]warning:[/yellow] enrichment failed for {result.drain.enrich_errors} "
            "posts; they were indexed without it (see the log)"
        )
    if result.pending_after:
        err.print(
            f"[red]engine unavailable:[/red] {escape(result.engine_error or '')}; "
            "posts are safe in the spool: run `bluelamp drain` when it is back"
        )
        raise typer.Exit(EXIT_ENGINE_DOWN)
    if result.rejects or result.drain.failed:
        raise typer.Exit(EXIT_REJECTED)


@app.command()
@handled
def enrich(
    source: ImportFile,
    target: Annotated[Path, typer.Argument(dir_okay=False, help="enriched posts, JSON Lines")],
) -> None:
    """Run the whole NLP pipeline over SOURCE and write one enriched post per line."""
    from bluelamp.enrich import enrich_file
    from nlp.build import build_pipeline

    settings = _settings()
    pipeline = build_pipeline(settings.nlp)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("enriched", total=None)
        result = enrich_file(
            source,
            target,
            pipeline,
            on_record=lambda n: progress.advance(task, n),
            on_reject=lambda r: progress.console.print(
                f"{escape(source.name)}:{r.line} (record {r.number}) rejected: {escape(r.reason)}",
                highlight=False,
            ),
        )
    versions = ", ".join(f"{k} {v}" for k, v in pipeline.versions.items())
    out.print(
        f"{result.read} records read; {result.written} enriched posts written to "
        f"{target}; {len(result.rejects)} rejected ({versions})",
        highlight=False,
    )
    if result.rejects:
        raise typer.Exit(EXIT_REJECTED)


@app.command()
@handled
def drain(
    give_up_after: Annotated[float, typer.Option(help="seconds of outage before exiting")] = 60.0,
) -> None:
    """Index everything waiting in the spool."""
    from bluelamp.pipeline import Drainer, indexer_for, nlp_for, open_engine, open_spool

    settings = _settings()

    async def main() -> Any:
        spool = open_spool(settings)
        engine = await open_engine(settings)
        try:
            drainer = Drainer(spool, indexer_for(settings, engine), settings, nlp_for(settings))
            totals = await drainer.drain(until_empty=True, give_up_after_s=give_up_after)
            return totals, spool.stats()
        finally:
            await engine.close()
            spool.close()

    totals, stats = run_async(main())
    out.print(
        f"{totals.indexed} indexed, {totals.deleted} deleted, {totals.failed} refused; "
        f"{stats.pending} still spooled, {stats.dead} in the dead-letter table"
    )
    if stats.pending:
        raise typer.Exit(EXIT_ENGINE_DOWN)


# ---------------------------------------------------------------------- spool
@spool_app.command("status")
@handled
def spool_status() -> None:
    """How many posts wait in the spool, and any the engine refused."""
    from bluelamp.pipeline import open_spool

    spool = open_spool(_settings())
    stats = spool.stats()
    age = f"{stats.oldest_age_s:.0f}s" if stats.oldest_age_s is not None else "-"
    out.print(
        f"pending {stats.pending} (due now {stats.ready}, oldest {age}); dead letters {stats.dead}"
    )
    for post_id, reason, _at in spool.dead_letters(20):
        out.print(f"  {escape(post_id)}: {escape(reason)}", highlight=False)


@spool_app.command("requeue-dead")
@handled
def spool_requeue() -> None:
    """Send dead-lettered posts round again (after fixing the cause)."""
    from bluelamp.pipeline import open_spool

    out.print(f"{open_spool(_settings()).requeue_dead()} posts requeued")


# --------------------------------------------------------------------- search
_RELATIVE = re.compile(r"^(\d+)([mhdw])$")


def parse_when(value: str | None) -> datetime | None:
    """ISO 8601 date or date-time, or a relative age like 30m, 24h, 7d, 2w."""
    if not value:
        return None
    match = _RELATIVE.match(value.strip())
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (2026-11-01), date-time or age (7d)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command()
@handled
def search(
    query: Annotated[
        str,
        typer.Argument(
            help='words to find; "quotes" for a phrase, -word to exclude, word* for a prefix'
        ),
    ],
    purpose: Annotated[
        str,
        typer.Option(
            help="why you are searching (recorded in the audit ledger)", envvar="BLUELAMP_PURPOSE"
        ),
    ],
    reference: Annotated[
        str | None,
        typer.Option(help="operation, incident or crime number", envvar="BLUELAMP_REFERENCE"),
    ] = None,
    since: Annotated[str | None, typer.Option(help="from: 2026-11-01 or 7d")] = None,
    until: Annotated[str | None, typer.Option(help="before: 2026-11-08 or 1d")] = None,
    platform: Annotated[
        list[str] | None, typer.Option(help="bluesky, mastodon, x, reddit, ...")
    ] = None,
    area: Annotated[
        list[str] | None, typer.Option(help="force area, e.g. 'Greater Manchester Police'")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
) -> None:
    """Search indexed posts and print a table (every search is audited)."""
    from bluelamp.pipeline import layout_for, open_engine
    from indexer.search import PostQuery, search_posts

    settings = _settings()
    why = Justification(purpose, reference).checked()
    q = PostQuery(
        text=query,
        since=parse_when(since),
        until=parse_when(until),
        platforms=tuple(platform or ()),
        areas=tuple(area or ()),
        size=limit,
    )

    async def main() -> Any:
        engine = await open_engine(settings)
        try:
            return await search_posts(engine, layout_for(settings), q)
        finally:
            await engine.close()

    result = run_async(main())
    AuditLedger(settings.state_url).record(
        "search",
        why,
        {
            "via": "cli",
            "query": query,
            "since": since,
            "until": until,
            "platforms": platform or [],
            "areas": area or [],
            "hits": result.total,
        },
    )
    table = Table(
        title=f"{result.total} posts match (showing {len(result.posts)})",
        show_lines=False,
        expand=True,
    )
    table.add_column("when (UTC)", no_wrap=True)
    table.add_column("platform")
    table.add_column("author")
    table.add_column("area")
    table.add_column("text", ratio=1)
    from bluelamp.text import display_text

    for post in result.posts:
        table.add_row(
            f"{post.created_at:%Y-%m-%d %H:%M}",
            post.platform + (" (synthetic)" if post.synthetic else ""),
            escape(display_text(post.author.handle or "-", 40)),
            escape(post.enrichment.force_area or "-"),
            escape(display_text(post.text, 280)),
        )
    out.print(table)


# ------------------------------------------------------------------------ nlp
TRAINABLE = ("sentiment", "offensive", "hate", "crime", "place_sense", "ner")
HEADS = ("sentiment", "offensive", "hate", "crime", "place_sense")  # what "all" rebuilds


@app.command()
@handled
def train(
    head: Annotated[
        str,
        typer.Argument(
            help=f"one of {', '.join(TRAINABLE)}, encoder, or all (every shipped model but"
            " the encoder)"
        ),
    ],
) -> None:
    """Rebuild a model from the datasets (fixed seed) and write it with its model card.

    ``encoder`` fine-tunes the shared encoder (about an hour on 2 cores) and needs the
    training environment (scripts/setup.sh train); every head must be rebuilt after it.
    """
    if head == "encoder":
        _train_encoder()
        return
    names = list(HEADS) if head == "all" else [head]
    unknown = [n for n in names if n not in TRAINABLE]
    if unknown:
        raise typer.BadParameter(
            f"unknown model {unknown[0]!r}; choose from {TRAINABLE}, encoder or all"
        )
    try:
        from nlp.training import train_crime, train_heads, train_ner, train_place_sense
    except ImportError as exc:
        raise BluelampError(
            f"training needs the dev extras ({exc.name} is missing)",
            hint="pip install -e '.[dev]' (scripts/setup.sh test does it)",
        ) from exc
    for name in names:
        out.print(f"training {name}...")
        if name == "crime":
            train_crime.main([])
        elif name == "ner":
            train_ner.main([])
        elif name == "place_sense":
            train_place_sense.main([])
        else:
            train_heads.main([name])


def _train_encoder() -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise BluelampError(
            "fine-tuning the encoder needs torch, which only the training environment has",
            hint="scripts/setup.sh train, then .venv-train/bin/bluelamp train encoder",
        )
    from nlp.training import finetune_encoder

    out.print("fine-tuning the encoder (var/finetune, var/finetune-e3, var/finetune-soup)...")
    finetune_encoder.main(["all"])
    out.print("encoder written; now rebuild every head: bluelamp train all")


@app.command("eval")
@handled
def evaluate() -> None:
    """Print every model's figures on held-out data beside its baselines."""
    try:
        from nlp.evaluate_all import main as evaluate_main
    except ImportError as exc:
        raise BluelampError(
            f"evaluation needs the dev extras ({exc.name} is missing)",
            hint="pip install -e '.[dev]' (scripts/setup.sh test does it)",
        ) from exc
    raise typer.Exit(evaluate_main())


# --------------------------------------------------------------------- doctor
@app.command()
def doctor() -> None:
    """Check Java, Maven, the engine, models and config; say how to fix each."""
    from bluelamp.doctor import run_checks

    ok = True
    for check in run_checks():
        mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
        out.print(f"{mark} {check.name}: {escape(check.detail)}")
        if not check.ok and check.hint:
            out.print(f"      fix: {escape(check.hint)}")
        ok = ok and (check.ok or check.optional)
    if not ok:
        raise typer.Exit(1)


# ------------------------------------------------------------------ retention
@app.command()
@handled
def retention(
    dry_run: Annotated[bool, typer.Option(help="only say what would be dropped")] = False,
) -> None:
    """Drop monthly indices older than the retention period."""
    from bluelamp.pipeline import layout_for, open_engine
    from indexer.retention import apply_retention

    settings = _settings()

    async def main() -> Any:
        engine = await open_engine(settings)
        try:
            return await apply_retention(
                engine, layout_for(settings), settings.retention.days, dry_run=dry_run
            )
        finally:
            await engine.close()

    result = run_async(main())
    verb = "would drop" if dry_run else "dropped"
    out.print(
        f"retention {settings.retention.days} days (cutoff {result.cutoff:%Y-%m-%d}): "
        f"{verb} {len(result.dropped)} indices {result.dropped}; kept {len(result.kept)}"
    )
    if result.dropped and not dry_run:
        AuditLedger(settings.state_url).record(
            "retention",
            Justification("retention schedule", actor="system:retention"),
            {"dropped": result.dropped, "days": settings.retention.days},
        )


# ---------------------------------------------------------------------- audit
@audit_app.command("verify")
@handled
def audit_verify() -> None:
    """Check that no audit entry was altered, removed or reordered."""
    intact, count, problem = AuditLedger(_settings().state_url).verify()
    if intact:
        out.print(f"audit ledger intact: {count} entries")
    else:
        err.print(f"[red]audit ledger broken[/red] at entry {count}: {problem}")
        raise typer.Exit(1)


@audit_app.command("list")
@handled
def audit_list(limit: Annotated[int, typer.Option(min=1)] = 20) -> None:
    """Show the newest audit entries."""
    table = Table()
    for col in ("#", "when (UTC)", "who", "action", "purpose", "reference", "detail"):
        table.add_column(col)
    for e in AuditLedger(_settings().state_url).entries(limit):
        table.add_row(
            str(e.seq),
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            escape(e.actor),
            e.action,
            escape(e.purpose),
            escape(e.reference or "-"),
            escape(str(e.detail)[:80]),
        )
    out.print(table)


# ----------------------------------------------------------------------- demo
@demo_app.command("load")
@handled
def demo_load(
    count: Annotated[int, typer.Option(min=1)] = 2000,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Index the seeded synthetic demo stream (labelled synthetic)."""
    from bluelamp.demo.loader import load_demo

    settings = _settings()
    totals = run_async(load_demo(settings, count=count, seed=seed))
    out.print(f"demo: {totals.indexed} synthetic posts indexed")


# -------------------------------------------------------------------- sources
@sources_app.command("status")
@handled
def sources_status(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Each source's health as the running monitor last saved it."""
    import json

    from bluelamp.sources_status import source_status

    rows = source_status(_settings())
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if not rows:
        out.print("no sources configured (see config/sources.yaml)")
        return
    table = Table(
        "source",
        "kind",
        "mode",
        "status",
        "last success",
        "lag",
        "items",
        "deletes",
        "errors",
        "rate-limit wait",
        "breaker",
        "last error",
    )
    for row in rows:
        h = row["health"] or {}
        lag = h.get("lag_s")
        table.add_row(
            escape(row["name"]),
            row["kind"],
            row["mode"],
            row["status"],
            h.get("last_success_at") or "-",
            f"{lag:.0f}s" if lag is not None else "-",
            str(h.get("items_collected", 0)),
            str(h.get("deletes_collected", 0)),
            f"{h.get('errors', 0)}/{h.get('polls', 0)}",
            f"{h.get('rate_limit_wait_s', 0.0):.0f}s ({h.get('rate_limit_hits', 0)})",
            h.get("breaker", "-"),
            escape((h.get("last_error") or "")[:160]),
        )
    out.print(table)


@sources_app.command("check")
@handled
def sources_check() -> None:
    """Validate config/sources.yaml and find each enabled source's credentials."""
    from bluelamp.monitor import sources_path
    from collectors import registry
    from collectors.config import load_sources

    settings = _settings()
    path = sources_path(settings)
    sources = load_sources(path)
    bad = 0
    for config in sources:
        if not config.enabled:
            out.print(f"  {escape(config.name)}: disabled")
            continue
        try:
            registry.build(config, registry.BuildContext(settings))
        except (BluelampError, ValueError) as exc:
            bad += 1
            out.print(f"  [red]{escape(config.name)}[/red]: {escape(str(exc))}")
            continue
        out.print(f"  {escape(config.name)} ({config.kind}): ready")
    out.print(f"{path}: {len(sources)} sources, {bad} not ready")
    if bad:
        raise typer.Exit(1)


@sources_app.command("run")
@handled
def sources_run(name: Annotated[str, typer.Argument(help="the source to poll once now")]) -> None:
    """Poll one source now, spool what it finds, and report (for testing a source)."""
    from bluelamp.monitor import sources_path
    from bluelamp.pipeline import open_spool
    from collectors import registry
    from collectors.base import Collector, run_once
    from collectors.config import load_sources
    from collectors.cursors import CursorStore
    from collectors.health_store import HealthStore

    settings = _settings()
    matches = [s for s in load_sources(sources_path(settings)) if s.name == name]
    if not matches:
        raise BluelampError(f"no source named {name!r} in {sources_path(settings)}")
    collector = registry.build(matches[0], registry.BuildContext(settings))
    if not isinstance(collector, Collector):
        raise BluelampError(f"{name!r} is not a polled source; `bluelamp collect` runs streams")

    async def main() -> Any:
        spool = open_spool(settings)
        cursors = CursorStore(settings.state_url)
        try:
            report = await run_once(collector, spool, cursors)
            HealthStore(cursors.engine).save(collector.health)
            return report
        finally:
            await collector.close()
            spool.close()
            cursors.close()

    report = run_async(main())
    for warning in report.warnings:
        out.print(f"  warning: {escape(warning)}", highlight=False)
    if report.error is not None:
        out.print(f"[red]failed[/red]: {escape(str(report.error))}", highlight=False)
        raise typer.Exit(1)
    cursor = "saved" if report.cursor_saved else "unchanged"
    out.print(
        f"{name}: {report.spooled} posts and {report.deletes} deletions spooled"
        f" ({report.duplicates} duplicates dropped); cursor {cursor}"
    )


@app.command()
@handled
def collect(
    drain: Annotated[bool, typer.Option(help="also index what is collected")] = True,
) -> None:
    """Run every enabled source (and the drain into the index) until Ctrl-C."""
    import signal

    from bluelamp.monitor import Monitor

    settings = _settings()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        out.print("collecting; Ctrl-C to stop")
        await Monitor(settings, drain=drain).run_until(stop)

    run_async(main())


# ---------------------------------------------------------------------- serve
@app.command()
@handled
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Serve the web UI and API."""
    import uvicorn

    from bluelamp.web.app import create_app

    settings = _settings()
    uvicorn.run(
        create_app(settings, collect=settings.collectors.run_in_serve),
        host=host or settings.web.host,
        port=port or settings.web.port,
        log_level="warning",
    )


@app.command()
@handled
def run(
    demo_count: Annotated[
        int, typer.Option(help="synthetic posts to load when the index is empty")
    ] = 2000,
) -> None:
    """Start the engine, load the demo stream if nothing is indexed, serve the UI."""
    from bluelamp.demo.loader import posts_indexed

    settings = _settings()
    if not settings.search.url:
        engine_start()
        # The demo goes only into the embedded engine, never a force's cluster.
        if run_async(posts_indexed(settings)) == 0:
            out.print("no posts indexed yet: loading the synthetic demo stream")
            demo_load(count=demo_count, seed=7)
    out.print(f"Bluelamp is serving on http://{settings.web.host}:{settings.web.port}/")
    serve(host=None, port=None)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
