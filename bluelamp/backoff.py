"""Exponential backoff with jitter, shared by the indexer and the collectors."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with equal jitter: at least half the step, at most the step."""
    step = min(cap, base * (2 ** max(attempt - 1, 0)))
    return float(step / 2 + random.uniform(0, step / 2))
