"""Classification metrics in numpy (the names TweetEval uses)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]


def per_class(y_true: Ints, y_pred: Ints, n_classes: int) -> tuple[list[float], list[float]]:
    recalls, f1s = [], []
    for c in range(n_classes):
        tp = float(np.sum((y_pred == c) & (y_true == c)))
        support = float(np.sum(y_true == c))
        predicted = float(np.sum(y_pred == c))
        recall = tp / support if support else 0.0
        precision = tp / predicted if predicted else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        recalls.append(recall)
        f1s.append(f1)
    return recalls, f1s


def macro_recall(y_true: Ints, y_pred: Ints, n_classes: int) -> float:
    return float(np.mean(per_class(y_true, y_pred, n_classes)[0]))


def macro_f1(y_true: Ints, y_pred: Ints, n_classes: int) -> float:
    return float(np.mean(per_class(y_true, y_pred, n_classes)[1]))


def accuracy(y_true: Ints, y_pred: Ints) -> float:
    return float(np.mean(y_true == y_pred))
