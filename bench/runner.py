"""Registry, runner and reporting for Bluelamp's benchmarks.

A benchmark is an async function that takes :class:`BenchOptions` and returns a
:class:`BenchResult` (metrics plus the targets they must meet). Register it
with :func:`benchmark` in a module listed in :data:`BENCHMARK_MODULES`; the
runner prints one table for everything it ran, writes one JSON file per
benchmark to ``bench/results/<name>-<UTC timestamp>.json`` and exits non-zero
when a target is missed or a benchmark fails.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: Modules whose import registers benchmarks; new benchmarks add themselves here.
BENCHMARK_MODULES: tuple[str, ...] = (
    "bench.bulk_indexing",
    "bench.enrichment",
    "bench.bluesky_firehose",
    "bench.bluesky_latency",
)

Op = Literal[">=", "<="]


@dataclass(frozen=True)
class Metric:
    value: float
    unit: str
    description: str = ""


@dataclass(frozen=True)
class Target:
    metric: str
    op: Op
    threshold: float

    def met_by(self, value: float) -> bool:
        return value >= self.threshold if self.op == ">=" else value <= self.threshold

    def __str__(self) -> str:
        return f"{self.op} {_fmt(self.threshold)}"


@dataclass(frozen=True)
class Check:
    target: Target
    value: float | None  # None: the benchmark never produced the metric
    met: bool


@dataclass
class BenchResult:
    """What one benchmark measured, in the order it should be shown."""

    metrics: dict[str, Metric] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Conditions of the run worth keeping with the numbers (engine, settings used).
    context: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, value: float, unit: str, description: str = "") -> None:
        self.metrics[name] = Metric(float(value), unit, description)

    def checks(self) -> list[Check]:
        out = []
        for target in self.targets:
            metric = self.metrics.get(target.metric)
            value = metric.value if metric else None
            out.append(Check(target, value, value is not None and target.met_by(value)))
        return out

    @property
    def passed(self) -> bool:
        return all(check.met for check in self.checks())


@dataclass(frozen=True)
class BenchOptions:
    """``--quick`` and free-form ``--set key=value`` parameters for a benchmark."""

    quick: bool = False
    params: dict[str, str] = field(default_factory=dict)

    def get_int(self, name: str, default: int) -> int:
        return int(self.params[name]) if name in self.params else default

    def get_str(self, name: str, default: str) -> str:
        return self.params.get(name, default)


BenchFn = Callable[[BenchOptions], Coroutine[Any, Any, BenchResult]]

#: name -> benchmark; the first line of the function's docstring describes it.
REGISTRY: dict[str, BenchFn] = {}


def benchmark(name: str) -> Callable[[BenchFn], BenchFn]:
    def register(fn: BenchFn) -> BenchFn:
        if name in REGISTRY and REGISTRY[name] is not fn:
            raise ValueError(f"benchmark {name!r} is registered twice")
        REGISTRY[name] = fn
        return fn

    return register


def load_registry() -> dict[str, BenchFn]:
    for module in BENCHMARK_MODULES:
        importlib.import_module(module)
    return REGISTRY


def describe(fn: BenchFn) -> str:
    doc = (fn.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


@dataclass
class Outcome:
    name: str
    started_at: datetime
    duration_s: float
    machine: dict[str, Any]
    result: BenchResult | None = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.result is not None and self.result.passed


def run_one(name: str, fn: BenchFn, options: BenchOptions) -> Outcome:
    # Taken before the run: the commit that counts is the one whose code ran.
    machine = machine_info()
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    try:
        result = asyncio.run(fn(options))
    except Exception as exc:
        # One broken benchmark must not hide the others' numbers.
        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}"
        return Outcome(name, started_at, time.monotonic() - t0, machine, error=error)
    machine["engine"] = result.context.get("engine")
    return Outcome(name, started_at, time.monotonic() - t0, machine, result=result)


# ------------------------------------------------------------------ machine


def _git(*args: str) -> str | None:
    try:
        # --no-optional-locks: a status check must not take the index lock.
        done = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _ram_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError):
        return None


def machine_info() -> dict[str, Any]:
    from bluelamp import __version__

    ram = _ram_bytes()
    status = _git("status", "--porcelain")  # untracked files count: new code is not in HEAD
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(ram / 2**30, 1) if ram else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "bluelamp": __version__,
        "engine": None,  # filled in from the result's context, when it names one
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
    }


# ------------------------------------------------------------------ output


def _fmt(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def to_json(outcome: Outcome, options: BenchOptions) -> dict[str, Any]:
    result = outcome.result
    context = result.context if result else {}
    return {
        "benchmark": outcome.name,
        "started_at": outcome.started_at.isoformat(),
        "duration_s": round(outcome.duration_s, 3),
        "quick": options.quick,
        "params": options.params,
        "passed": outcome.passed,
        "error": outcome.error,
        "metrics": {
            name: {"value": m.value, "unit": m.unit, "description": m.description}
            for name, m in (result.metrics.items() if result else [])
        },
        "targets": [
            {
                "metric": c.target.metric,
                "op": c.target.op,
                "threshold": c.target.threshold,
                "value": c.value,
                "met": c.met,
            }
            for c in (result.checks() if result else [])
        ],
        "notes": result.notes if result else [],
        "context": context,
        "machine": outcome.machine,
    }


def write_result(outcome: Outcome, options: BenchOptions, results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = outcome.started_at.strftime("%Y%m%dT%H%M%SZ")
    path = results_dir / f"{outcome.name}-{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = results_dir / f"{outcome.name}-{stamp}-{n}.json"
    # Written aside then renamed, so a crash never leaves half a result behind.
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(to_json(outcome, options), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def render(outcomes: Sequence[Outcome], console: Console) -> None:
    table = Table(title="Bluelamp benchmarks")
    for column in ("Benchmark", "Metric", "Value", "Unit", "Target", "Result"):
        table.add_column(column, justify="right" if column == "Value" else "left")
    for outcome in outcomes:
        if outcome.result is None:
            table.add_row(outcome.name, "-", "-", "", "", f"[red]ERROR[/] {outcome.error}")
            continue
        checks = {c.target.metric: c for c in outcome.result.checks()}
        for i, (name, metric) in enumerate(outcome.result.metrics.items()):
            check = checks.pop(name, None)
            verdict = "" if check is None else ("[green]met[/]" if check.met else "[red]MISSED[/]")
            table.add_row(
                outcome.name if i == 0 else "",
                name,
                _fmt(metric.value),
                metric.unit,
                str(check.target) if check else "",
                verdict,
            )
        for name, check in checks.items():  # targets on metrics never reported
            table.add_row(outcome.name, name, "-", "", str(check.target), "[red]MISSED[/]")
        table.add_section()
    console.print(table)
    for outcome in outcomes:
        for note in outcome.result.notes if outcome.result else []:
            console.print(f"[dim]{outcome.name}:[/] {note}", highlight=False)


# ---------------------------------------------------------------------- CLI


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run Bluelamp's benchmarks (all of them when no NAME is given).",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a benchmark parameter, e.g. --set naive_docs=2000 (repeatable)",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help=f"default: {RESULTS_DIR}"
    )
    return parser.parse_args(argv)


def main(
    argv: Sequence[str] | None = None,
    *,
    registry: dict[str, BenchFn] | None = None,
    console: Console | None = None,
) -> int:
    """Exit status: 0 all targets met, 1 a target missed or a benchmark failed, 2 bad usage."""
    args = _parse(argv)
    console = console or Console()
    registry = load_registry() if registry is None else registry
    if args.list:
        for name, fn in registry.items():
            console.print(f"{name}  [dim]{describe(fn)}[/]", highlight=False)
        return 0
    unknown = [n for n in args.names if n not in registry]
    if unknown:
        console.print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(registry)}")
        return 2
    params: dict[str, str] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            console.print(f"--set wants KEY=VALUE, got {item!r}")
            return 2
        params[key.strip()] = value.strip()
    options = BenchOptions(quick=args.quick, params=params)

    outcomes = []
    for name in args.names or list(registry):
        console.print(f"[bold]running {name}[/]{' (quick)' if args.quick else ''} ...")
        outcome = run_one(name, registry[name], options)
        path = write_result(outcome, options, args.results_dir)
        console.print(f"  {name}: {outcome.duration_s:.0f}s, results in {path}", highlight=False)
        outcomes.append(outcome)
    render(outcomes, console)
    failed = [o.name for o in outcomes if not o.passed]
    if failed:
        console.print(f"[red]target missed or benchmark failed:[/] {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
