"""Held-out evaluation of the committed heads, with VADER and the TweetEval leaderboard.

    python -m nlp.training.evaluate

Sentiment: macro-averaged recall (TweetEval's official metric) and macro-F1 on
``tweeteval/sentiment/test`` (the SemEval-2017 test set, 12,284 tweets), for
the head and for VADER (compound >= 0.05 positive, <= -0.05 negative) in the
same run. Offensive and hate: macro-F1 on their TweetEval test splits at the
threshold tuned on validation. Embeddings are cached under /tmp.
"""

from __future__ import annotations

import time

import numpy as np

from nlp.heads.model import load_head
from nlp.heads.onnx_io import OnnxHead
from nlp.training import data
from nlp.training.metrics import accuracy, macro_f1, macro_recall

# Published TweetEval leaderboard rows (shared/datasets/README.md): sentiment is
# macro-recall, offensive and hate macro-F1, all x100.
LEADERBOARD = [
    ("TimeLMs-2021 (RoBERTa-base, tweets to 2021)", 73.7, 82.2, 55.1),
    ("BERTweet", 73.4, 79.5, 56.4),
    ("RoBERTa-Retrained", 72.8, 80.5, 52.3),
    ("RoBERTa-Base", 71.3, 79.5, 46.6),
    ("FastText", 62.9, 73.4, 50.6),
    ("SVM", 62.9, 52.3, 36.7),
]


def evaluate_sentiment(model: OnnxHead, *, with_vader: bool = False) -> dict[str, float]:
    texts, y = data.load_tweeteval("sentiment", "test")
    pred = model.predict_proba(data.embed(texts)).argmax(axis=1)
    order = [model.labels.index(name) for name in data.SENTIMENT_LABELS]
    pred = np.asarray([order.index(int(p)) for p in pred], dtype=np.int64)
    out = {
        "macro_recall": macro_recall(y, pred, 3),
        "macro_f1": macro_f1(y, pred, 3),
        "accuracy": accuracy(y, pred),
        "n": float(len(y)),
    }
    if with_vader:
        vader = vader_predict(texts)
        out["vader_macro_recall"] = macro_recall(y, vader, 3)
        out["vader_macro_f1"] = macro_f1(y, vader, 3)
        out["vader_accuracy"] = accuracy(y, vader)
    return out


def vader_predict(texts: list[str]) -> np.ndarray:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyser = SentimentIntensityAnalyzer()
    out = []
    for text in texts:
        compound = analyser.polarity_scores(text)["compound"]
        out.append(2 if compound >= 0.05 else 0 if compound <= -0.05 else 1)
    return np.asarray(out, dtype=np.int64)


def evaluate_binary(task: str, model: OnnxHead) -> dict[str, float]:
    texts, y = data.load_tweeteval(task, "test")
    p = model.predict_proba(data.embed(texts))[:, -1]
    threshold = model.threshold if model.threshold is not None else 0.5
    pred = (p >= threshold).astype(np.int64)
    at_half = (p >= 0.5).astype(np.int64)
    return {
        "macro_f1": macro_f1(y, pred, 2),
        "accuracy": accuracy(y, pred),
        "macro_f1_at_0.5": macro_f1(y, at_half, 2),
        "threshold": float(threshold),
        "n": float(len(y)),
    }


def main() -> None:
    t0 = time.perf_counter()
    sentiment = load_head("sentiment")
    offensive = load_head("offensive")
    hate = load_head("hate")
    s = evaluate_sentiment(sentiment, with_vader=True)
    o = evaluate_binary("offensive", offensive)
    h = evaluate_binary("hate", hate)

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{100 * v:.1f}"

    rows = [
        (
            "Bluelamp (MiniLM-L6 fine-tuned on SemEval, int8 ONNX + heads)",
            pct(s["macro_recall"]),
            pct(s["macro_f1"]),
            pct(o["macro_f1"]),
            pct(h["macro_f1"]),
        ),
        (
            "VADER (compound ±0.05)",
            pct(s["vader_macro_recall"]),
            pct(s["vader_macro_f1"]),
            "–",
            "–",
        ),
    ]
    rows += [
        (f"{n} (published)", f"{a:.1f}", "–", f"{b:.1f}", f"{c:.1f}") for n, a, b, c in LEADERBOARD
    ]
    print(
        "| model | sentiment macro-recall | sentiment macro-F1 "
        "| offensive macro-F1 | hate macro-F1 |"
    )
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print(
        f"sentiment head {sentiment.version}: accuracy {pct(s['accuracy'])} "
        f"on {int(s['n'])} test tweets; "
        f"VADER accuracy {pct(s['vader_accuracy'])}"
    )
    for name, m, r in (("offensive", offensive, o), ("hate", hate, h)):
        print(
            f"{name} head {m.version}: threshold {r['threshold']:.2f} (tuned on val), "
            f"macro-F1 at 0.5 {pct(r['macro_f1_at_0.5'])}, accuracy {pct(r['accuracy'])}, "
            f"n={int(r['n'])}"
        )
    print(f"({time.perf_counter() - t0:.0f}s; command: python -m nlp.training.evaluate)")


if __name__ == "__main__":
    main()
