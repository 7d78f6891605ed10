"""A real Bluesky network (PLC, PDS, AppView) on loopback, once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from tests.support.bluesky.devnet import DevNet


@pytest.fixture(scope="session")
def devnet(postgres_url: str) -> Iterator[DevNet]:
    net = DevNet(postgres_url)
    try:
        yield net
    finally:
        net.stop()


@pytest.fixture(scope="session")
async def xrpc_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trust_env=False) as session:
        yield session
