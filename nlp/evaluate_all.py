"""``bluelamp eval``: one table, every figure on held-out data, each beside its
baseline measured in the same run (and the published rows where they exist).

Each task's own command prints the detail:
``python -m nlp.training.evaluate`` (sentiment, offensive, hate),
``python -m nlp.training.evaluate_crime`` (crime, urgency, CrisisLex),
``python -m nlp.geo.evaluate`` (locations).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp.geo.evaluate import DEFAULT_DIR

SHARED = DEFAULT_DIR.parent  # ../shared/datasets


@dataclass(frozen=True)
class Row:
    task: str
    data: str
    metric: str
    bluelamp: float | None
    baselines: str  # "name value; name value" measured in this run
    reference: str  # published figures or the target


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def sentiment_and_abuse_rows() -> list[Row]:
    from nlp.heads.model import load_head
    from nlp.training.evaluate import LEADERBOARD, evaluate_binary, evaluate_sentiment

    s = evaluate_sentiment(load_head("sentiment"), with_vader=True)
    o = evaluate_binary("offensive", load_head("offensive"))
    h = evaluate_binary("hate", load_head("hate"))
    best = {i: max(LEADERBOARD, key=lambda r: r[i]) for i in (1, 2, 3)}

    def ref(i: int) -> str:
        name, *vals = best[i]
        return f"best published {vals[i - 1]:.1f} ({name.split(' (')[0]})"

    n = int(s["n"])
    return [
        Row(
            "sentiment",
            f"TweetEval test ({n})",
            "macro-recall",
            s["macro_recall"],
            f"VADER {_pct(s['vader_macro_recall'])}",
            ref(1) + "; target 70.0",
        ),
        Row(
            "sentiment",
            f"TweetEval test ({n})",
            "macro-F1",
            s["macro_f1"],
            f"VADER {_pct(s['vader_macro_f1'])}",
            "–",
        ),
        Row(
            "offensive",
            f"TweetEval test ({int(o['n'])})",
            "macro-F1",
            o["macro_f1"],
            f"threshold 0.5: {_pct(o['macro_f1_at_0.5'])}",
            ref(2),
        ),
        Row(
            "hate",
            f"TweetEval test ({int(h['n'])})",
            "macro-F1",
            h["macro_f1"],
            f"threshold 0.5: {_pct(h['macro_f1_at_0.5'])}",
            ref(3),
        ),
    ]


def location_rows() -> list[Row]:
    from nlp.geo.evaluate import default_systems, evaluate_location

    systems = default_systems()
    ours = list(systems)[-1]  # the most complete geoparser configuration
    files = [DEFAULT_DIR / f"{s}.conll" for s in ("f", "a", "b")]
    results = evaluate_location(files, systems)
    rows = []
    for section, by_system in results.items():
        label = {"f": "BTC f (official test)", "a": "BTC a (UK)", "b": "BTC b (UK)"}[section]
        base = by_system["spacy_sm"]
        rows.append(
            Row(
                "location",
                label,
                "LOC F1",
                by_system[ours]["f1"],
                f"spaCy sm {_pct(base['f1'])} "
                f"(P {_pct(base['precision'])} R {_pct(base['recall'])})",
                "target 75.0" if section in ("a", "b") else "–",
            )
        )
    return rows


def crime_rows() -> list[Row]:
    from nlp.training.evaluate_crime import evaluate

    res = evaluate()
    n = res["n_test"]
    rel = res["relevance"]
    cats = res["categories_end_to_end"]
    urg = res["urgency"]
    crisis = res["crisislex_held_out"]["informative_vs_unrelated"]["pooled"]

    def kw(block: dict[str, Any], key: str) -> str:
        return f"keyword {_pct(block['keyword'][key])}; majority {_pct(block['majority'][key])}"

    return [
        Row(
            "crime relevance",
            f"uk_policing test ({n})",
            "F1",
            rel["model"]["f1"],
            kw(rel, "f1"),
            "–",
        ),
        Row(
            "crime categories",
            f"uk_policing test ({n})",
            "micro-F1",
            cats["model"]["micro_f1"],
            kw(cats, "micro_f1"),
            "–",
        ),
        Row(
            "crime categories",
            f"uk_policing test ({n})",
            "macro-F1",
            cats["model"]["macro_f1"],
            kw(cats, "macro_f1"),
            "–",
        ),
        Row(
            "urgency",
            f"uk_policing test ({n})",
            "macro-F1",
            urg["model"]["macro_f1"],
            kw(urg, "macro_f1"),
            "–",
        ),
        Row(
            "incident relevance",
            f"CrisisLexT26, 3 unseen events ({crisis['n']})",
            "macro-F1",
            crisis["incident_head"]["macro_f1"],
            f"keyword {_pct(crisis['keyword']['macro_f1'])}; "
            f"all-incident {_pct(crisis['majority']['macro_f1'])}",
            "–",
        ),
    ]


SECTIONS: dict[str, Callable[[], list[Row]]] = {
    "sentiment and abuse": sentiment_and_abuse_rows,
    "location": location_rows,
    "crime": crime_rows,
}


def evaluate_all(datasets: Path = SHARED) -> tuple[list[Row], list[str]]:
    """Every row we can compute; problems (e.g. a missing dataset) as messages."""
    rows: list[Row] = []
    problems: list[str] = []
    if not datasets.is_dir():
        return rows, [f"datasets not found at {datasets}: nothing to evaluate on"]
    for name, section in SECTIONS.items():
        try:
            rows.extend(section())
        except FileNotFoundError as exc:
            problems.append(f"{name}: skipped, missing file: {exc}")
    return rows, problems


def format_rows(rows: list[Row]) -> str:
    lines = [
        "| task | held-out data | metric | Bluelamp | baselines (same run) | reference |",
        "|---|---|---|---:|---|---|",
    ]
    lines += [
        f"| {r.task} | {r.data} | {r.metric} | {_pct(r.bluelamp)} | {r.baselines} | {r.reference} |"
        for r in rows
    ]
    return "\n".join(lines)


def main() -> int:
    started = time.perf_counter()
    rows, problems = evaluate_all()
    print(format_rows(rows))
    for problem in problems:
        print(f"note: {problem}")
    print(f"({time.perf_counter() - started:.0f}s; figures in percent)")
    return 1 if problems and not rows else 0


if __name__ == "__main__":
    raise SystemExit(main())
