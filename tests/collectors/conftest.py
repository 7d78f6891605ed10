"""Fixtures shared by the collector tests: the loopback replay server, a real
spool and a real cursor store, each fresh per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bluelamp.spool import Spool
from collectors.cursors import CursorStore
from tests.support.replay import ReplayServer


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as srv:
        yield srv


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool.sqlite3")


@pytest.fixture
def cursors(tmp_path: Path) -> CursorStore:
    return CursorStore(f"sqlite:///{tmp_path / 'state.db'}")
