"""Trains the geoparser's context check: is a found place name meant as a place?

    python -m nlp.training.train_place_sense [--out PATH]     (or: bluelamp train place_sense)

Candidates are the spans the geoparser keeps by its rules and the check judges (names
of areas, not sites or streets: ``Geoparser.sense_candidates``, stock NER, in posts about
a match: ``nlp.geo.place_sense.in_sport_context``), on two kinds of dev data:

* Broad Twitter Corpus sections ``e``, ``g``, ``h``: a span is right when it covers
  exactly a gold LOC entity's tokens (as ``nlp.geo.evaluate`` scores it);
* the project's UK place dev set, every batch but the held-out one
  (``nlp.geo.evaluate.HELD_OUT_BATCH``): a span is right when its name is one of the
  tweet's labelled place names (each label used once).

Sections ``a``, ``b``, ``f`` (test) and the held-out UK batch are never read here.

The model is a logistic regression over ``nlp.geo.place_sense.features``. Its
regularisation and the cut-off below which a span is dropped are chosen by five-fold
cross-validation grouped by tweet, maximising the mean of the two dev sets' LOC F1
(with every gold place the geoparser missed counted as a miss, so F1 can only rise by
dropping more wrong spans than right ones). The final weights are fitted on all
candidates and written, with the cross-validated figures, to
``nlp/data/place_sense.json``. Deterministic: the same data gives the same file (the
folds come from a hash of each tweet's id, and the card carries no date).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nlp.geo.evaluate import (
    DEFAULT_DIR,
    HELD_OUT_BATCH,
    UK_DEV_FILE,
    _place_key,
    _uk_dev_rows,
    bio_spans,
    char_to_token,
    read_conll,
    read_uk_dev,
    to_text,
)
from nlp.geo.place_sense import MODEL_FILE, features, in_sport_context

BTC_SECTIONS = ("e", "g", "h")
C_GRID = (0.1, 0.3, 1.0, 3.0)
THRESHOLDS = tuple(round(0.1 + 0.05 * i, 2) for i in range(11))  # 0.10 … 0.60
FOLDS = 5
MIN_WEIGHT = 1e-6  # weights smaller than this are left out of the file


def uk_train_batches(path: Path = UK_DEV_FILE) -> list[int]:
    return sorted({r["batch"] for r in _uk_dev_rows(path, None)} - {HELD_OUT_BATCH})


def candidates(btc_dir: Path = DEFAULT_DIR) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every span the geoparser's rules keep, labelled right (1) or wrong (0), and how
    many gold places each dev set has."""
    from nlp.geo.geoparser import STOCK_NER, Geoparser, GeoparserConfig

    gp = Geoparser(GeoparserConfig(ner=STOCK_NER, place_sense=False))
    rows: list[dict[str, Any]] = []
    gold_count = Counter[str]()
    for sec in BTC_SECTIONS:
        tweets = read_conll(btc_dir / f"{sec}.conll")
        prepared = [to_text(toks) for toks, _ in tweets]
        found = gp.sense_candidates([text for text, _, _ in prepared])
        for i, ((_, tags), (text, starts, ends), spans) in enumerate(
            zip(tweets, prepared, found, strict=True)
        ):
            gold = bio_spans(tags)
            gold_count["btc"] += len(gold)
            seen: set[tuple[int, int]] = set()
            for a, b, judged in spans:
                tokens = char_to_token((a, b), starts, ends)
                if tokens is None or tokens in seen:  # scored once, as in the evaluation
                    continue
                seen.add(tokens)
                rows.append(_row(f"{sec}:{i}", "btc", text, a, b, judged, tokens in gold))
    items = read_uk_dev(batches=uk_train_batches())
    found = gp.sense_candidates([text for text, _ in items])
    for i, ((text, names), spans) in enumerate(zip(items, found, strict=True)):
        left = Counter(_place_key(n) for n in names)
        gold_count["uk"] += sum(left.values())
        for a, b, judged in spans:
            key = _place_key(text[a:b])
            right = left[key] > 0
            if right:
                left[key] -= 1
            rows.append(_row(f"uk:{i}", "uk", text, a, b, judged, right))
    return rows, dict(gold_count)


def _row(
    group: str, dataset: str, text: str, a: int, b: int, judged: bool, right: bool
) -> dict[str, Any]:
    """One candidate span; not judged: the check leaves it alone (always kept)."""
    return {
        "group": group,
        "dataset": dataset,
        "text": text,
        "start": a,
        "end": b,
        "judged": judged and in_sport_context(text, a, b),
        "y": int(right),
    }


def f1_by_dataset(
    rows: list[dict[str, Any]], probs: Sequence[float], threshold: float, gold: dict[str, int]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, total in gold.items():
        kept = [
            r for r, p in zip(rows, probs, strict=True) if r["dataset"] == name and p >= threshold
        ]
        tp = sum(r["y"] for r in kept)
        fp = len(kept) - tp
        out[name] = 2 * tp / (2 * tp + fp + (total - tp)) if total else 0.0
    return out


def _fit(x: list[dict[str, float]], y: list[int], c: float) -> Any:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(DictVectorizer(), LogisticRegression(C=c, max_iter=5000))
    return model.fit(x, y)


def _folds(groups: list[str]) -> list[tuple[list[int], list[int]]]:
    """Five folds, each tweet's spans in one fold chosen by a hash of its id: the same on
    every machine and scikit-learn version (``GroupKFold`` breaks ties between equal
    groups in an order that has changed between versions)."""
    fold = [int(hashlib.sha256(g.encode()).hexdigest(), 16) % FOLDS for g in groups]
    return [
        ([i for i, f in enumerate(fold) if f != k], [i for i, f in enumerate(fold) if f == k])
        for k in range(FOLDS)
    ]


def cross_validate(rows: list[dict[str, Any]], gold: dict[str, int]) -> dict[str, Any]:
    """Out-of-fold probabilities for each C; the (C, cut-off) with the best mean F1.
    Spans the check does not judge count as kept (probability 1)."""
    judged = [i for i, r in enumerate(rows) if r["judged"]]
    x = [features(rows[i]["text"], rows[i]["start"], rows[i]["end"]) for i in judged]
    y = [rows[i]["y"] for i in judged]
    groups = [rows[i]["group"] for i in judged]
    best: dict[str, Any] = {"score": -1.0}
    grid = []
    for c in C_GRID:
        probs = [1.0] * len(rows)
        for train, test in _folds(groups):
            model = _fit([x[i] for i in train], [y[i] for i in train], c)
            for i, p in zip(test, model.predict_proba([x[i] for i in test])[:, 1], strict=True):
                probs[judged[i]] = float(p)
        for t in THRESHOLDS:
            f1 = f1_by_dataset(rows, probs, t, gold)
            score = sum(f1.values()) / len(f1)
            grid.append({"C": c, "threshold": t, **{k: round(v, 4) for k, v in f1.items()}})
            if score > best["score"] + 1e-12:
                best = {"score": score, "C": c, "threshold": t, "f1": f1}
    best["without"] = f1_by_dataset(rows, [1.0] * len(rows), 0.5, gold)
    best["grid"] = grid
    return best


def train(out: Path = MODEL_FILE, btc_dir: Path = DEFAULT_DIR, log: Any = print) -> dict[str, Any]:
    rows, gold = candidates(btc_dir)
    judged = [r for r in rows if r["judged"]]
    log(
        f"{len(rows)} candidate spans, {len(judged)} judged ({sum(r['y'] for r in judged)} "
        f"right); gold places {gold}"
    )
    cv = cross_validate(rows, gold)
    log(
        f"chosen C={cv['C']} cut-off {cv['threshold']}: cross-validated F1 "
        + ", ".join(f"{k} {cv['without'][k]:.4f} -> {v:.4f}" for k, v in cv["f1"].items())
    )
    model = _fit(
        [features(r["text"], r["start"], r["end"]) for r in judged],
        [r["y"] for r in judged],
        cv["C"],
    )
    vec, reg = model.steps[0][1], model.steps[1][1]
    weights = {
        name: round(float(w), 6)
        for name, w in zip(vec.get_feature_names_out(), reg.coef_[0], strict=True)
        if abs(w) >= MIN_WEIGHT
    }
    weights["bias"] = round(weights.get("bias", 0.0) + float(reg.intercept_[0]), 6)
    card = {
        "task": "is a place name the geoparser found meant as a place here? (binary)",
        "training_data": {
            "broad_twitter_corpus": [f"{s}.conll" for s in BTC_SECTIONS],
            "uk_places_dev": f"nlp/data/uk_places_dev.jsonl batches {uk_train_batches()}",
        },
        "never_read": f"BTC sections a, b, f (test); UK dev batch {HELD_OUT_BATCH} (held out)",
        "candidates": len(rows),
        "judged": len(judged),
        "judged_right": sum(r["y"] for r in judged),
        "gold_places": gold,
        "model": "logistic regression (scikit-learn lbfgs) over nlp.geo.place_sense.features",
        "chosen_by": f"{FOLDS}-fold cross-validation grouped by tweet (fold = sha256 of the "
        "tweet id mod 5): C and the cut-off maximising the mean of the two dev sets' LOC F1",
        "C": cv["C"],
        "threshold": cv["threshold"],
        "cross_validated_f1": {k: round(v, 4) for k, v in cv["f1"].items()},
        "f1_without_check": {k: round(v, 4) for k, v in cv["without"].items()},
        "grid": cv["grid"],
        "rebuild": "python -m nlp.training.train_place_sense (or bluelamp train place_sense)",
        "limits": "learned from about 2,000 spans: it knows the names it has seen in "
        "sports posts best; a name it never saw is judged by its neighbours and form only",
        "weights": dict(sorted(weights.items())),
    }
    out.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"wrote {out} ({len(weights)} weights)")
    return card


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m nlp.training.train_place_sense", description=__doc__
    )
    ap.add_argument("--data", type=Path, default=DEFAULT_DIR, help="BTC CoNLL folder")
    ap.add_argument("--out", type=Path, default=MODEL_FILE)
    args = ap.parse_args(argv)
    missing = [s for s in BTC_SECTIONS if not (args.data / f"{s}.conll").exists()]
    if missing:
        print(f"missing Broad Twitter Corpus sections {missing} in {args.data}", file=sys.stderr)
        return 2
    train(args.out, args.data, log=lambda m: print(m, file=sys.stderr, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
