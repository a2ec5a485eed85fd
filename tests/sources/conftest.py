"""Fixtures for the source tests: the shared corpus, a real local feed server and a client session."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

# `tests` is not an installed package and pyproject sets no pytest `pythonpath`, so make the
# project root importable for `tests.fakes`. Harmless once `pythonpath = ["."]` is configured.
_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from tests.fakes.feed_server import CORPUS_DIR, FeedServer  # noqa: E402


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
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
