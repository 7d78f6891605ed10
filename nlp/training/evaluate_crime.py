"""Scores the committed crime heads on held-out data, each beside baselines from the same run.

    python -m nlp.training.evaluate_crime

* uk_policing **test** split (pass-1 labels): relevance P/R/F1; categories per-category F1,
  micro/macro F1 (given the gold relevant posts, and end to end after the relevance head);
  urgency 3-class macro-F1 end to end, per-class F1 with support and a bootstrap 95% CI.
* CrisisLexT26 **held-out events** (never trained or tuned on): F1 of the informative class.

Baselines: ``keyword`` = the triage lexicon (``nlp/data/lexicons/topics.yaml`` through
:class:`nlp.triage.TriageComponent`): relevant if any topic hits, categories from a fixed
topic -> category map, urgent when a timing word ("now", "just", "still" ...) is present too;
``majority`` = the most frequent training class (not relevant / violence_weapons / none).
Nothing here trains or tunes anything.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

os.environ.setdefault("BLUELAMP_EMBED_CACHE", "/tmp/bluelamp-emb")  # noqa: S108

from nlp.heads.crime import CATEGORIES, INCIDENT_MODEL, CrimeModels
from nlp.heads.model import MODELS_DIR
from nlp.training.train_crime import (
    CRISIS_TEST_EVENTS,
    UK_URGENCY,
    UkSplit,
    binary_f1,
    crisis_binary,
    load_crisis_event,
    load_uk,
)

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
SEED = 2024

# Triage topic -> GUIDE.md category (the keyword baseline); robbery_theft is split by term.
TOPIC_CATEGORY = {
    "violence": "violence_weapons",
    "weapons": "violence_weapons",
    "fraud_scam": "fraud_scams",
    "road_safety": "road_safety",
    "missing_person": "missing_person",
    "disorder_asb": "antisocial_behaviour",
    "hate_crime": "hate_crime",
    "sexual_offences_vawg": "sexual_offences",
    "fire_arson": "criminal_damage_arson",
    "drugs": "drugs",
}
_ROBBERY = {"robbery", "robbed", "mugged", "mugging", "carjacking"}
_BURGLARY = {
    "burglary",
    "burgled",
    "burglar",
    "break in",
    "broke in",
    "broken into",
    "broke into",
    "torri i mewn",
}
_VEHICLE = {"car theft", "vehicle crime", "catalytic converter", "keyless theft"}
_TIMING = re.compile(
    r"\b(now|right now|just|currently|still|as we speak|happening|ongoing|rŵan|nawr|yn syth)\b",
    re.IGNORECASE,
)
_LIFE = re.compile(
    r"\b(knife|knives|machete|gun|stabb\w*|missing|river|bridge|ledge|suicid\w*|trapped|"
    r"not breathing|unconscious)\b",
    re.IGNORECASE,
)


class KeywordBaseline:
    def __init__(self) -> None:
        from nlp.triage import TriageComponent

        self.triage = TriageComponent()

    def hits(self, text: str) -> tuple[list[str], list[str]]:
        r = self.triage.triage(text)
        return r.topics, r.terms

    def relevant(self, texts: list[str]) -> Bools:
        return np.asarray([bool(self.hits(t)[0]) for t in texts])

    def categories(self, texts: list[str]) -> Ints:
        out = np.zeros((len(texts), len(CATEGORIES)), dtype=np.int64)
        for i, text in enumerate(texts):
            topics, terms = self.hits(text)
            cats = {TOPIC_CATEGORY[t] for t in topics if t in TOPIC_CATEGORY}
            if "robbery_theft" in topics:
                found = set(terms)
                if found & _ROBBERY:
                    cats.add("robbery")
                if found & _BURGLARY:
                    cats.add("burglary")
                if found & _VEHICLE:
                    cats.add("vehicle_crime")
                if not found & (_ROBBERY | _BURGLARY | _VEHICLE):
                    cats.add("theft")
            for c in cats:
                out[i, CATEGORIES.index(c)] = 1
        return out

    def urgency(self, texts: list[str]) -> Ints:
        rel = self.relevant(texts)
        out = np.zeros(len(texts), dtype=np.int64)
        for i, text in enumerate(texts):
            if rel[i] and _TIMING.search(text):
                out[i] = 2 if _LIFE.search(text) else 1
        return out


# --- metrics ---------------------------------------------------------------------------


def prf(y: Ints | Bools, pred: Ints | Bools) -> dict[str, float]:
    t = np.asarray(y).astype(bool)
    p = np.asarray(pred).astype(bool)
    tp = float(np.sum(t & p))
    precision = tp / float(p.sum()) if p.sum() else 0.0
    recall = tp / float(t.sum()) if t.sum() else 0.0
    return {"precision": precision, "recall": recall, "f1": binary_f1(t, p)}


def multilabel_scores(y: Ints, pred: Ints) -> dict[str, Any]:
    per = {c: binary_f1(y[:, k], pred[:, k]) for k, c in enumerate(CATEGORIES)}
    return {
        "per_category_f1": per,
        "micro_f1": binary_f1(y.ravel(), pred.ravel()),
        "macro_f1": float(np.mean(list(per.values()))),
    }


def urgency_scores(y: Ints, pred: Ints) -> dict[str, Any]:
    per = {c: binary_f1(y == k, pred == k) for k, c in enumerate(UK_URGENCY)}
    rng = np.random.default_rng(SEED)
    boots = []
    for _ in range(1000):
        idx = rng.integers(0, len(y), len(y))
        boots.append(float(np.mean([binary_f1(y[idx] == k, pred[idx] == k) for k in range(3)])))
    return {
        "macro_f1": float(np.mean(list(per.values()))),
        "macro_f1_ci95": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))],
        "per_class_f1": per,
        "support": {c: int(np.sum(y == k)) for k, c in enumerate(UK_URGENCY)},
        "urgent_pooled": prf(y > 0, pred > 0),
    }


# --- the evaluation --------------------------------------------------------------------


def _model_outputs(models: CrimeModels, split: UkSplit) -> tuple[Bools, Ints, Ints, Ints]:
    assessments = models.assess(split.x)
    rel = np.asarray([a.relevant for a in assessments])
    cats = np.zeros((len(assessments), len(CATEGORIES)), dtype=np.int64)
    for i, a in enumerate(assessments):
        for c in a.categories:
            cats[i, CATEGORIES.index(c)] = 1
    urg = np.asarray([UK_URGENCY.index(a.urgency or "none") for a in assessments])
    # Categories as if relevance were known (isolates the category head).
    oracle = models.categories.predict(split.x).astype(np.int64)
    return rel, cats, urg, oracle


def evaluate(models_dir: Path = MODELS_DIR) -> dict[str, Any]:
    models = CrimeModels.load(models_dir)
    keyword = KeywordBaseline()
    test = load_uk("test")
    train = load_uk("train", embed=False)
    res: dict[str, Any] = {"n_test": len(test.ids)}

    rel, cats, urg, oracle = _model_outputs(models, test)
    kw_rel = keyword.relevant(test.texts)
    kw_cats = keyword.categories(test.texts)
    majority_rel = bool(np.mean(train.relevant) >= 0.5)
    res["relevance"] = {
        "model": prf(test.relevant, rel),
        "keyword": prf(test.relevant, kw_rel),
        "majority": prf(test.relevant, np.full(len(test.ids), majority_rel)),
        "support": {"relevant": int(test.relevant.sum()), "not": int((test.relevant == 0).sum())},
    }
    gold = test.relevant == 1
    top_cat = int(np.argmax(train.categories.sum(axis=0)))
    majority_cats = np.zeros_like(test.categories)
    majority_cats[:, top_cat] = 1
    res["categories_given_relevant"] = {
        "model": multilabel_scores(test.categories[gold], oracle[gold]),
        "keyword": multilabel_scores(test.categories[gold], kw_cats[gold]),
        "majority": multilabel_scores(test.categories[gold], majority_cats[gold]),
        "support": {c: int(test.categories[gold, k].sum()) for k, c in enumerate(CATEGORIES)},
    }
    kw_cats_e2e = kw_cats * kw_rel[:, None]
    maj_e2e = majority_cats * int(majority_rel)
    res["categories_end_to_end"] = {
        "model": multilabel_scores(test.categories, cats),
        "keyword": multilabel_scores(test.categories, kw_cats_e2e),
        "majority": multilabel_scores(test.categories, maj_e2e),
    }
    res["urgency"] = {
        "model": urgency_scores(test.urgency, urg),
        "keyword": urgency_scores(test.urgency, keyword.urgency(test.texts)),
        "majority": urgency_scores(test.urgency, np.zeros_like(test.urgency)),
    }

    crisis: dict[str, Any] = {}
    pooled: dict[str, list[Any]] = {}
    for name in CRISIS_TEST_EVENTS:
        ev = load_crisis_event(name, held_out=True)
        kw_all = keyword.relevant(ev.texts)
        for mode, partial in (("informative_vs_unrelated", None), ("partial_as_0", 0)):
            x, y = crisis_binary(ev, partial)
            keep = [i for i, lab in enumerate(ev.labels) if _kept(lab, partial)]
            preds = {
                "incident_head": _incident(models, x),
                "uk_relevance_head": models.relevance.predict_proba(x)[:, 1]
                >= (models.relevance.threshold or 0.5),
                "keyword": kw_all[keep],
                "majority": np.ones(len(y), dtype=bool),
            }
            crisis.setdefault(mode, {})[name] = {k: _f1_pair(y, p) for k, p in preds.items()} | {
                "n": len(y),
                "positives": int(y.sum()),
            }
            pool = pooled.setdefault(mode, [[], {k: [] for k in preds}])
            pool[0].append(y)
            for k, p in preds.items():
                pool[1][k].append(np.asarray(p))
    for mode, (ys, ps) in pooled.items():
        y_all = np.concatenate(ys)
        crisis[mode]["pooled"] = {k: _f1_pair(y_all, np.concatenate(v)) for k, v in ps.items()} | {
            "n": len(y_all),
            "positives": int(y_all.sum()),
        }
    res["crisislex_held_out"] = crisis
    res["cards"] = _card_metrics(res)
    return res


def _f1_pair(y: Ints, pred: Ints | Bools) -> dict[str, float]:
    """Positive-class F1 and macro-F1 (mean of both classes' F1: the all-1 baseline
    scores well on the first alone, since most held-out tweets are informative)."""
    p = np.asarray(pred).astype(bool)
    f1 = binary_f1(y, p)
    return {"f1": f1, "macro_f1": (f1 + binary_f1(y == 0, ~p)) / 2}


def _kept(label: str, partial: int | None) -> bool:
    from nlp.training.train_crime import CRISIS_NEG, CRISIS_PARTIAL, CRISIS_POS

    return label in (CRISIS_POS, CRISIS_NEG) or (label == CRISIS_PARTIAL and partial is not None)


def _incident(models: CrimeModels, x: npt.NDArray[np.float32]) -> Bools:
    if models.incident is None:
        return np.zeros(len(x), dtype=bool)
    threshold = models.incident.threshold or 0.5
    out: Bools = models.incident.predict_proba(x)[:, 1] >= threshold
    return out


def _r(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, dict):
        return {k: _r(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_r(x) for x in v]
    return v


def _card_metrics(res: dict[str, Any]) -> dict[str, Any]:
    return {
        "crime_relevance": _r(
            {
                "uk_policing_test": res["relevance"]["model"],
                "uk_policing_test_keyword_baseline": res["relevance"]["keyword"],
                "crisislex_held_out_f1": {
                    m: v["pooled"]["uk_relevance_head"]
                    for m, v in res["crisislex_held_out"].items()
                },
            }
        ),
        "crime_categories": _r(
            {
                "uk_policing_test_given_relevant": {
                    k: res["categories_given_relevant"]["model"][k]
                    for k in ("micro_f1", "macro_f1", "per_category_f1")
                },
                "uk_policing_test_end_to_end_micro_f1": res["categories_end_to_end"]["model"][
                    "micro_f1"
                ],
                "keyword_baseline_given_relevant_micro_f1": res["categories_given_relevant"][
                    "keyword"
                ]["micro_f1"],
            }
        ),
        "crime_urgent": _r({"uk_policing_test": res["urgency"]["model"]}),
        "crime_urgency_level": _r({"uk_policing_test": res["urgency"]["model"]}),
        INCIDENT_MODEL: _r(
            {mode: {ev: v[ev] for ev in v} for mode, v in res["crisislex_held_out"].items()}
        ),
    }


# --- the table -------------------------------------------------------------------------


def print_table(res: dict[str, Any]) -> None:
    def row(label: str, *cells: Any) -> None:
        print("| " + " | ".join([label, *[_fmt(c) for c in cells]]) + " |")

    print(f"\n## uk_policing test split (n={res['n_test']}, pass-1 labels)\n")
    r = res["relevance"]
    print("| relevance | precision | recall | F1 |\n|---|---:|---:|---:|")
    for k in ("model", "keyword", "majority"):
        row(k, r[k]["precision"], r[k]["recall"], r[k]["f1"])
    print(f"\nsupport: {r['support']}\n")

    c = res["categories_given_relevant"]
    e = res["categories_end_to_end"]
    print("| category F1 (gold relevant posts) | support | model | keyword | majority |")
    print("|---|---:|---:|---:|---:|")
    for cat in CATEGORIES:
        row(
            cat,
            c["support"][cat],
            *(c[k]["per_category_f1"][cat] for k in ("model", "keyword", "majority")),
        )
    for agg in ("micro_f1", "macro_f1"):
        row(f"**{agg}**", "", *(c[k][agg] for k in ("model", "keyword", "majority")))
    for agg in ("micro_f1", "macro_f1"):
        row(f"**{agg}, end to end**", "", *(e[k][agg] for k in ("model", "keyword", "majority")))

    u = res["urgency"]
    sup = u["model"]["support"]
    print(
        "\n| urgency (end to end) | macro-F1 [95% CI] | F1 none | F1 in_progress | "
        "F1 risk_to_life | urgent pooled P / R / F1 |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for k in ("model", "keyword", "majority"):
        m = u[k]
        ci = m["macro_f1_ci95"]
        pooled = m["urgent_pooled"]
        row(
            k,
            f"{m['macro_f1']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]",
            *(m["per_class_f1"][cl] for cl in UK_URGENCY),
            f"{pooled['precision']:.3f} / {pooled['recall']:.3f} / {pooled['f1']:.3f}",
        )
    print(f"\nsupport: {sup}")

    for mode, events in res["crisislex_held_out"].items():
        title = {
            "informative_vs_unrelated": "informative (1) vs not related (0)",
            "partial_as_0": "'related but not informative' counted as 0",
        }[mode]
        print(f"\n## CrisisLexT26 held-out events, {title}: F1 (positive) / macro-F1\n")
        print(
            "| event | n (positives) | incident head | UK relevance head | keyword | "
            "majority (all 1) |\n|---|---:|---:|---:|---:|---:|"
        )
        for ev, v in events.items():
            row(
                ev,
                f"{v['n']} ({v['positives']})",
                *(
                    f"{v[k]['f1']:.3f} / {v[k]['macro_f1']:.3f}"
                    for k in ("incident_head", "uk_relevance_head", "keyword", "majority")
                ),
            )


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def main() -> None:
    print_table(evaluate())


if __name__ == "__main__":
    main()
