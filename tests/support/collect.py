"""Plain helpers shared by the collector tests: a fast fetch policy, the recorded
fixtures' folder and readers of what a test put in the spool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bluelamp.post import Post
from bluelamp.spool import Spool
from collectors.base import FetchPolicy
from tests.support.replay import Fault

# The shared fixtures checkout lies beside the repository (CI clones ../shared there).
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"

# Small timeouts, two tries and millisecond backoff keep fault tests fast; no proxy
# from the environment, since every request goes to the loopback replay server.
_FAST: dict[str, Any] = {
    "total_timeout_s": 0.5,
    "connect_timeout_s": 0.5,
    "max_attempts": 2,
    "backoff_base_s": 0.01,
    "backoff_max_s": 0.02,
    "max_rate_limit_wait_s": 5.0,
    "trust_env": False,
}


def fast_policy(**overrides: Any) -> FetchPolicy:
    """A :class:`FetchPolicy` for tests; ``overrides`` replace single fields."""
    return FetchPolicy(**(_FAST | overrides))


def spooled_posts(spool: Spool) -> list[Post]:
    """Every post waiting in the spool, in acceptance order (the spool is not acked)."""
    return [
        Post.model_validate_json(op.payload or b"")
        for op in spool.next_batch(1_000_000)
        if op.kind == "index"
    ]


def spooled_deletes(spool: Spool) -> list[str]:
    """The post ids of every deletion waiting in the spool, in acceptance order."""
    return [op.post_id for op in spool.next_batch(1_000_000) if op.kind == "delete"]


def needs_fixture(path: Path) -> pytest.MarkDecorator:
    """Fail (never skip) where the shared checkout lacks ``path``: the recorded
    traffic is part of the suite, and CI clones ``../shared`` beside the repo.
    The failure is raised while the module is collected, so the run fails."""
    require_shared(path)
    return pytest.mark.shared_data  # lets `-m "not shared_data"` select the rest


def require_shared(path: Path) -> None:
    if not path.exists():
        pytest.fail(
            f"shared data missing: {path}. The suite needs the shared checkout beside the"
            " repository (../shared, with datasets/ and fixtures/), as CI provides it.",
            pytrace=False,
        )


def fault_matrix() -> dict[str, list[Fault]]:
    """The faults every polled source must survive (see DESIGN.md), fresh each call:
    the server counts a fault's ``times`` down on the object itself."""
    return {
        "429 Retry-After": [Fault.retry_after(1)],
        "500": [Fault.error(500, times=2)],
        "timeout": [Fault.timeout(1.5, times=2)],
        # aiohttp itself retries an idempotent request once on a reused connection that drops.
        "connection reset": [Fault.reset(times=4)],
        "truncated JSON": [Fault.truncate(5000, times=2)],
        "invalid UTF-8": [Fault.invalid_utf8()],
        "10 MB body": [Fault.huge(10 * 1024 * 1024 + 1)],
    }
