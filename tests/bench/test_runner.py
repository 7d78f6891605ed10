"""The benchmark runner's plumbing: registry, CLI, JSON results and exit status.

Dummy benchmarks only; the real ones are far too slow for the suite.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

# bench/ is a top-level folder of the checkout; pytest's rootdir puts it on the path.
from bench.runner import (
    BenchFn,
    BenchOptions,
    BenchResult,
    Target,
    load_registry,
    main,
)


def _dummy(rate: float, seen: list[BenchOptions] | None = None) -> BenchFn:
    async def fake(options: BenchOptions) -> BenchResult:
        """A stand-in benchmark with one target."""
        if seen is not None:
            seen.append(options)
        result = BenchResult()
        result.add("docs_per_s", rate, "docs/s", "made up")
        result.add("peak_rss_mib", 12.5, "MiB")
        result.targets.append(Target("docs_per_s", ">=", 100))
        result.notes.append("a note for the reader")
        result.context["engine"] = "fake 1.2.3"
        return result

    return fake


async def _broken(options: BenchOptions) -> BenchResult:
    raise RuntimeError("engine went away")


def _run(argv: list[str], registry: dict[str, BenchFn], tmp_path: Path) -> tuple[int, str]:
    console = Console(record=True, width=200)
    code = main([*argv, "--results-dir", str(tmp_path)], registry=registry, console=console)
    return code, console.export_text()


def _only_result(tmp_path: Path) -> dict[str, Any]:
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 1, files
    data: dict[str, Any] = json.loads(files[0].read_text())
    return data


def test_met_target_writes_json_and_exits_zero(tmp_path: Path) -> None:
    code, out = _run(["dummy"], {"dummy": _dummy(250.0)}, tmp_path)

    assert code == 0
    [path] = tmp_path.glob("*.json")
    assert path.name.startswith("dummy-") and path.name.endswith("Z.json")
    data = _only_result(tmp_path)
    assert data["benchmark"] == "dummy"
    assert data["passed"] is True
    assert data["error"] is None
    assert data["metrics"]["docs_per_s"] == {
        "value": 250.0,
        "unit": "docs/s",
        "description": "made up",
    }
    assert data["metrics"]["peak_rss_mib"]["value"] == 12.5
    assert data["targets"] == [
        {"metric": "docs_per_s", "op": ">=", "threshold": 100, "value": 250.0, "met": True}
    ]
    machine = data["machine"]
    assert machine["cores"] and machine["cores"] >= 1
    assert machine["ram_gib"] and machine["ram_gib"] > 0
    assert machine["python"] == ".".join(map(str, sys.version_info[:3]))
    assert machine["engine"] == "fake 1.2.3"
    assert "git_commit" in machine
    assert "docs_per_s" in out and "250" in out and "met" in out
    assert "a note for the reader" in out


def test_missed_target_exits_non_zero(tmp_path: Path) -> None:
    code, out = _run(["dummy"], {"dummy": _dummy(40.0)}, tmp_path)

    assert code == 1
    data = _only_result(tmp_path)
    assert data["passed"] is False
    assert data["targets"][0]["met"] is False
    assert data["targets"][0]["value"] == 40.0
    assert "MISSED" in out


def test_target_on_a_metric_never_reported_is_missed() -> None:
    result = BenchResult(targets=[Target("ratio", ">=", 10)])
    [check] = result.checks()
    assert check.value is None and not check.met
    assert not result.passed


@pytest.mark.parametrize(
    ("op", "value", "met"),
    [(">=", 10, True), (">=", 9.99, False), ("<=", 10, True), ("<=", 11, False)],
)
def test_target_comparison(op: Any, value: float, met: bool) -> None:
    assert Target("m", op, 10).met_by(value) is met


def test_failing_benchmark_is_recorded_and_does_not_stop_the_others(tmp_path: Path) -> None:
    registry = {"broken": _broken, "dummy": _dummy(250.0)}
    code, out = _run([], registry, tmp_path)  # no names: run them all

    assert code == 1
    results = {
        json.loads(p.read_text())["benchmark"]: json.loads(p.read_text())
        for p in tmp_path.glob("*.json")
    }
    assert set(results) == {"broken", "dummy"}
    assert results["broken"]["passed"] is False
    assert "RuntimeError: engine went away" in results["broken"]["error"]
    assert results["dummy"]["passed"] is True
    assert "ERROR" in out


def test_quick_and_set_reach_the_benchmark(tmp_path: Path) -> None:
    seen: list[BenchOptions] = []
    code, _ = _run(
        ["dummy", "--quick", "--set", "naive_docs=123", "--set", "chunk_docs = 900"],
        {"dummy": _dummy(250.0, seen)},
        tmp_path,
    )

    assert code == 0
    [options] = seen
    assert options.quick is True
    assert options.get_int("naive_docs", 5000) == 123
    assert options.get_int("chunk_docs", 500) == 900
    assert options.get_int("absent", 7) == 7
    data = _only_result(tmp_path)
    assert data["quick"] is True
    assert data["params"] == {"naive_docs": "123", "chunk_docs": "900"}


@pytest.mark.parametrize("argv", [["nope"], ["dummy", "--set", "no-equals-sign"]])
def test_bad_usage_exits_two_and_writes_nothing(tmp_path: Path, argv: list[str]) -> None:
    code, _ = _run(argv, {"dummy": _dummy(250.0)}, tmp_path)

    assert code == 2
    assert not list(tmp_path.iterdir())


def test_list_shows_registered_benchmarks(tmp_path: Path) -> None:
    code, out = _run(["--list"], {"dummy": _dummy(250.0)}, tmp_path)

    assert code == 0
    assert "dummy" in out and "A stand-in benchmark with one target." in out
    assert not list(tmp_path.iterdir())


def test_the_bulk_indexing_benchmark_is_registered() -> None:
    registry = load_registry()
    assert "bulk_indexing" in registry
