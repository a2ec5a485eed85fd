"""Fixtures for the source tests: the shared corpus, a real local feed server and a client session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.feed_server import CORPUS_DIR, FeedServer


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"../shared/corpus not found at {CORPUS_DIR}")
    return CORPUS_DIR


@pytest.fixture(scope="session")
def articles_dir(corpus_dir: Path) -> Path:
    return corpus_dir / "articles"


@pytest.fixture(scope="session")
def feeds_dir(corpus_dir: Path) -> Path:
    return corpus_dir / "feeds"


@pytest.fixture
async def feed_server(corpus_dir: Path) -> AsyncIterator[FeedServer]:
    server = FeedServer()
    server.add_corpus_feeds()
    server.add_misbehaving_routes()
    server.add_gbk_feeds()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
